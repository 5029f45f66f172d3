"""Boolean functions compiled to networks (L-BOOL-1, L-BOOL-2)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feedforward as ff
from feedforward.construct import boolean as B
from feedforward.construct.threshold import ThresholdCircuit, realise_threshold_layer


def run(net, X):
    with ff.no_grad():
        return net(ff.Tensor(np.asarray(X, dtype=net.parameters()[0].dtype))).data.ravel()


# -------------------------------------------------------------- threshold units
def test_relu_pair_is_the_heaviside_step_on_integers():
    z = np.arange(-5, 6, dtype=np.float64)
    W, b = np.eye(1), np.zeros(1)
    A, c, R, r0 = realise_threshold_layer(W, b, [-np.inf], [np.inf])
    assert A.shape[1] == 2  # nothing known about z: two ReLUs
    out = np.maximum(z[:, None] @ A + c, 0) @ R + r0
    assert out.ravel().tolist() == (z >= 1).astype(float).tolist()


@pytest.mark.parametrize("lower, upper, n_relu", [(-3, 1, 1), (0, 4, 1), (-3, 4, 2)])
def test_bounds_choose_one_or_two_relus_and_stay_exact(lower, upper, n_relu):
    z = np.arange(lower, upper + 1, dtype=np.float64)
    A, c, R, r0 = realise_threshold_layer(np.eye(1), np.zeros(1), [lower], [upper])
    assert A.shape[1] == n_relu
    out = np.maximum(z[:, None] @ A + c, 0) @ R + r0
    assert out.ravel().tolist() == (z >= 1).astype(float).tolist()


def test_circuit_network_equals_circuit_evaluation():
    rng = np.random.default_rng(0)
    W1 = rng.integers(-2, 3, size=(4, 5)).astype(float)
    b1 = rng.integers(-2, 3, size=5).astype(float)
    W2 = rng.integers(-2, 3, size=(5, 3)).astype(float)
    b2 = rng.integers(-2, 3, size=3).astype(float)
    circuit = ThresholdCircuit([(W1, b1), (W2, b2)])
    X = B.all_inputs(4)
    np.testing.assert_array_equal(circuit.network()(ff.Tensor(X)).data, circuit.evaluate(X))


# ------------------------------------------------------------------ truth tables
def test_lecture_truth_table_worked_example_L_BOOL_1():
    net = B.truth_table_network(B.LECTURE_TRUTH_TABLE)
    assert isinstance(net, ff.nn.MLP)
    assert net.sizes == [5, 6, 1]  # one unit per row with output 1, one OR unit
    assert net.linears[0].weight.size == 30  # the slide's 30 input connections
    X = B.all_inputs(5)
    out = run(net, X)
    rows = {tuple(r) for r in B.LECTURE_TRUTH_TABLE.tolist()}
    want = [1.0 if tuple(int(v) for v in x) in rows else 0.0 for x in X]
    assert out.tolist() == want
    assert out.sum() == 6


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8).flatmap(lambda n: st.lists(st.booleans(), min_size=2**n, max_size=2**n)))
def test_any_truth_table_compiles_exactly_L_BOOL_1(outputs):
    outputs = np.array(outputs, dtype=np.int64)
    n = int(np.log2(outputs.size))
    net = B.truth_table_network(outputs)
    assert net.sizes == [n, max(1, int(outputs.sum())), 1]
    assert run(net, B.all_inputs(n)).tolist() == outputs.astype(float).tolist()


def test_rows_and_full_column_forms_agree():
    rows = np.array([[0, 1, 1], [1, 0, 0]])
    column = np.zeros(8, dtype=int)
    column[[3, 4]] = 1  # 011 = 3, 100 = 4
    X = B.all_inputs(3)
    assert run(B.truth_table_network(rows), X).tolist() == run(B.truth_table_network(column), X).tolist()


def test_constant_false_table():
    net = B.truth_table_network(np.zeros((0, 3)), n_vars=3)
    assert run(net, B.all_inputs(3)).tolist() == [0.0] * 8


@pytest.mark.parametrize("table, match", [
    (np.array([[0, 2, 1]]), "only 0 and 1"),
    (np.array([[0, 1], [0, 1]]), "more than once"),
    (np.zeros(6), "2\\^n outputs"),
    (np.zeros((0, 3)), "needs n_vars"),
    (np.zeros((2, 2, 2)), "2-D array"),
])
def test_bad_tables_are_rejected(table, match):
    with pytest.raises(ValueError, match=match):
        B.truth_table_network(table)


# ---------------------------------------------------------------------- formulas
def test_parser_precedence_and_errors():
    assert B.parse_formula("~A & B | C") == (
        "or", (("and", (("not", ("var", "A")), ("var", "B"))), ("var", "C")))
    assert B.parse_formula("(A & B) & C") == ("and", (("var", "A"), ("var", "B"), ("var", "C")))
    for bad, match in [("A & ", "end of the formula"), ("A + B", "unexpected character '\\+'"),
                       ("(A | B", "expected '\\)'"), ("A B", "expected '&', '\\|'"), ("", "empty"),
                       (") A", "variable name")]:
        with pytest.raises(ValueError, match=match):
            B.parse_formula(bad)
    with pytest.raises(TypeError):
        B.parse_formula(3)


def test_lecture_formula_network_is_exact_and_one_layer_per_level_L_BOOL_2():
    f = B.LECTURE_FORMULA
    assert B.formula_variables(f) == ["A", "X", "Y", "Z"]
    circuit = B.formula_circuit(f)
    assert circuit.units == [4, 2, 1]  # ANDs, ORs, the root AND: three levels
    net = B.formula_network(f)
    X = B.all_inputs(4)
    assert run(net, X).tolist() == B.evaluate_formula(f, X).astype(float).tolist()
    # the formula simplifies to A & ~X & ~Y & ~Z: a single true row
    assert B.formula_truth_table(f).sum() == 1


@pytest.mark.parametrize("n", [2, 3, 4, 6, 8])
def test_parity_formula_network_is_exact_and_much_smaller_than_dnf_L_BOOL_2(n):
    f = B.parity_formula(n)
    circuit = B.formula_circuit(f)
    X = B.all_inputs(n)
    parity = X.sum(axis=1) % 2
    assert run(circuit.network(), X).tolist() == parity.tolist()
    # 3 gates per XOR (two ANDs, one OR), shared; odd operands need copy units to climb levels
    if n & (n - 1) == 0:
        assert circuit.n_units == 3 * (n - 1)
    else:
        assert circuit.n_units > 3 * (n - 1)
    dnf = B.truth_table_network(B.formula_truth_table(f))
    assert dnf.sizes[1] == 2 ** (n - 1)
    if n >= 4:
        assert circuit.network().num_parameters() < dnf.num_parameters()


def _formula_text(draw, depth, names):
    if depth == 0 or draw(st.booleans()):
        text = draw(st.sampled_from(names))
    else:
        op = draw(st.sampled_from([" & ", " | "]))
        parts = [_formula_text(draw, depth - 1, names) for _ in range(draw(st.integers(2, 3)))]
        text = "(" + op.join(parts) + ")"
    return ("~" if draw(st.booleans()) else "") + text


@st.composite
def formulas(draw):
    names = ["A", "B", "C", "D", "E"][: draw(st.integers(1, 5))]
    return _formula_text(draw, draw(st.integers(0, 4)), names)


@settings(max_examples=60, deadline=None)
@given(formulas())
def test_any_formula_compiles_exactly_L_BOOL_2(formula):
    variables = B.formula_variables(formula)
    X = B.all_inputs(len(variables))
    net = B.formula_network(formula)
    assert run(net, X).tolist() == B.evaluate_formula(formula, X).astype(float).tolist()


def test_formula_variable_order_and_errors():
    net = B.formula_network("A & ~B", variables=["B", "A"])
    assert run(net, [[0, 1], [1, 1]]).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="not in variables"):
        B.formula_network("A & C", variables=["A", "B"])
    with pytest.raises(ValueError, match="repeated"):
        B.formula_network("A", variables=["A", "A"])


def test_compiled_networks_train_and_keep_their_shape():
    net = B.formula_network("(A & B) | C")
    X = B.all_inputs(3)
    y = B.evaluate_formula("(A & B) | C", X).reshape(-1, 1).astype(np.float32)
    loss = ff.nn.Gaussian().nll(net(ff.Tensor(X)), y)
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: B.all_inputs(2.0), TypeError, r"n_vars must be an integer >= 1 and <= 20, got 2.0"),
        (lambda: B.all_inputs(True), TypeError, r"n_vars must be an integer >= 1 and <= 20, got True"),
        (lambda: B.all_inputs(21), ValueError, r"n_vars must be an integer >= 1 and <= 20, got 21"),
        (lambda: B.parity_formula(0), ValueError, r"n_vars must be an integer >= 1, got 0"),
        (lambda: B.parity_formula(3, prefix=1), TypeError, r"prefix must be a string"),
        (lambda: B.truth_table_network(np.zeros((0, 2)), n_vars="2"), TypeError, r"n_vars must be an integer"),
    ],
)
def test_boolean_arguments_go_through_the_validation_layer(call, error, message):
    """Issue 10: TypeError for a wrong type, ValueError for a bad value, the argument named."""
    with pytest.raises(error, match=message):
        call()
