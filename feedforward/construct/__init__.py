"""Networks built by hand from the lecture's constructions (L-XOR-3, L-BOOL, L-CLS, L-REG).

Every constructor returns an ordinary :class:`feedforward.nn.MLP` (``Linear``
layers and ReLUs): usable, trainable further and savable like any other network.

* :mod:`.xor` — the XOR data, loss, best linear model, the hand solution and its
  slide matrices, learning XOR over many seeds, the three ways of choosing phi.
* :mod:`.threshold` — threshold units realised exactly with ReLUs.
* :mod:`.boolean` — truth tables (one hidden layer) and formulas (one layer per level).
* :mod:`.geometry` — half-planes, convex polygons, unions of polygons, cylinders.
* :mod:`.pulses` — square pulses and sums of pulses for 1-D regression.
"""

from .boolean import (
    LECTURE_FORMULA, LECTURE_TRUTH_TABLE, all_inputs, evaluate_formula, formula_circuit, formula_network,
    formula_truth_table, formula_variables, parity_formula, parse_formula, truth_table_circuit,
    truth_table_network,
)
from .geometry import (
    check_convex, cylinders_network, decision, distance_to_edges, halfplane_network, points_in_polygon,
    polygon_circuit, polygon_network, regular_polygon, star_pieces, two_pentagons, union_circuit,
    union_network,
)
from .pulses import pulse_network, square_pulse_network
from .threshold import ThresholdCircuit, ramp
from .xor import (
    best_linear_model, fit_linear, hand_features, linear_network, rbf_features, train_xor_ensemble, xor_data,
    xor_layers, xor_loss, xor_network,
)

__all__ = [
    # XOR (L-XOR-1..4, L-ARCH-3)
    "xor_data", "xor_loss", "best_linear_model", "linear_network", "xor_network", "xor_layers",
    "train_xor_ensemble", "rbf_features", "hand_features", "fit_linear",
    # threshold units
    "ThresholdCircuit", "ramp",
    # Boolean functions (L-BOOL-1, L-BOOL-2)
    "LECTURE_TRUTH_TABLE", "LECTURE_FORMULA", "all_inputs", "truth_table_circuit", "truth_table_network",
    "parse_formula", "formula_variables", "evaluate_formula", "formula_truth_table", "formula_circuit",
    "formula_network", "parity_formula",
    # geometry (L-CLS-1, L-CLS-2)
    "halfplane_network", "polygon_circuit", "polygon_network", "union_circuit", "union_network", "decision",
    "points_in_polygon", "distance_to_edges", "check_convex", "regular_polygon", "star_pieces",
    "two_pentagons", "cylinders_network",
    # pulses (L-REG-1)
    "square_pulse_network", "pulse_network",
]
