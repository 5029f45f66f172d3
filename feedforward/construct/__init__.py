"""Networks built by hand from the lecture's constructions (L-XOR-3, L-BOOL, L-CLS, L-REG)."""
