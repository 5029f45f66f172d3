"""Boolean functions: any truth table in one hidden layer; formulas as deeper, smaller networks."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 20
TITLE = "MLPs are universal Boolean functions: truth tables and formulas"
QUOTE = (
    '任何真值表都可以用这种方式表示! 一层的MLP能够表示任何布尔函数 …… 网络中参数的数量是连接的数量，本例中为30个',
    'Any truth table can be represented this way! A one-layer MLP can represent any Boolean function ... '
    'The number of parameters of the network is the number of connections, 30 in this example.',
)
CLAIM = (
    "Any truth table compiles to a network with one hidden layer, one threshold unit per row with output 1 "
    "and an OR unit on top, exact on all 2^n inputs (L-BOOL-1); a formula compiles to a deeper network, one "
    "layer per level, which can need far fewer units than the one-hidden-layer DNF network (L-BOOL-2)."
)


def _exact(net, X, want) -> bool:
    import feedforward as ff

    with ff.no_grad():
        out = net(ff.Tensor(X)).data.ravel()
    return bool(np.array_equal(out, np.asarray(want, dtype=out.dtype)))


def _cnf(k: int) -> str:
    return " & ".join(f"(A{i + 1} | B{i + 1})" for i in range(k))


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.construct import boolean as B

    # --- L-BOOL-1: the lecture's 5-variable table
    table = B.LECTURE_TRUTH_TABLE
    circuit = B.truth_table_circuit(table)
    net = B.truth_table_network(table)
    X5 = B.all_inputs(5)
    rows = {tuple(r) for r in table.tolist()}
    want5 = [1.0 if tuple(int(v) for v in x) in rows else 0.0 for x in X5]
    lecture_exact = _exact(net, X5, want5)
    # The slide counts 30 parameters = 30 connections (6 minterm units x 5 inputs). Counting the
    # weight array's size would hold by construction; what can fail is whether the network NEEDS
    # every one of them: cut each input connection in turn and see whether the function changes.
    W0 = net.linears[0].weight.data
    needed = 0
    for idx in np.ndindex(*W0.shape):
        kept = W0[idx]
        W0[idx] = 0.0
        needed += not _exact(net, X5, want5)
        W0[idx] = kept
    n_connections = int(W0.size)
    minterm_rows = [[" ".join(str(v) for v in r), name.replace("~", "¬"), 1]
                    for r, name in zip(table.tolist(), circuit.unit_names[0])]

    # --- random truth tables of up to 8 variables
    rng = np.random.default_rng(0)
    n_random = 40 if quick else 200
    random_ok = 0
    for _ in range(n_random):
        n = int(rng.integers(1, 9))
        outputs = rng.integers(0, 2, size=2**n)
        random_ok += _exact(B.truth_table_network(outputs), B.all_inputs(n), outputs)

    # --- L-BOOL-2: formula networks next to the DNF network of the same function
    formulas = [
        ("lecture formula (SPEC)", B.LECTURE_FORMULA),
        ("lecture, other slide frame", "((A & ~X & Z) | (A & ~Y)) & ((X & Y) | (~X & Z))"),
        ("parity of 4", B.parity_formula(4)),
        ("parity of 6", B.parity_formula(6)),
        ("parity of 8", B.parity_formula(8)),
        ("(A1|B1) & ... & (A4|B4)", _cnf(4)),
    ]
    size_rows, formulas_exact, sizes = [], True, {}
    for name, f in formulas:
        variables = B.formula_variables(f)
        X = B.all_inputs(len(variables))
        want = B.evaluate_formula(f, X)
        deep_c = B.formula_circuit(f)
        deep = deep_c.network()
        dnf = B.truth_table_network(want)
        ok = _exact(deep, X, want) and _exact(dnf, X, want)
        formulas_exact &= ok
        true_rows = int(want.sum())
        sizes[name] = {"dnf_units": max(true_rows, 1), "dnf_params": dnf.num_parameters(),
                       "deep_units": deep_c.n_units, "deep_params": deep.num_parameters(),
                       "deep_layers": len(deep_c.units)}
        size_rows.append([name, len(variables), true_rows, dnf.num_parameters(),
                          f"{len(deep_c.units)} ({'-'.join(map(str, deep_c.units))})", deep_c.n_units,
                          deep.num_parameters(), "yes" if ok else "NO"])

    # scaling: parity and a CNF family, DNF units vs formula units
    ns = list(range(2, 9 if quick else 11))
    parity_dnf = [2 ** (n - 1) for n in ns]
    parity_deep = [B.formula_circuit(B.parity_formula(n)).n_units for n in ns]
    ks = list(range(1, 5 if quick else 6))
    cnf_dnf = [int(B.formula_truth_table(_cnf(k)).sum()) for k in ks]
    cnf_deep = [B.formula_circuit(_cnf(k)).n_units for k in ks]

    # --- figures
    figures = []
    fig, (ax0, ax1) = _plot.figure(1, 2, size=(11, 4.4))
    W = np.vstack([net.linears[0].weight.data, net.linears[0].bias.data[None, :]])
    im = ax0.imshow(W, cmap="coolwarm", vmin=-4, vmax=4)
    for (i, j), v in np.ndenumerate(W):
        ax0.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
    ax0.set_yticks(range(6), [f"X{i + 1}" for i in range(5)] + ["bias"])
    ax0.set_xticks(range(6), [f"row {j + 1}" for j in range(6)])
    ax0.set(title="Truth-table network: minterm unit weights\n(+1: X_i, -1: not X_i; fires only on its row)",
            xlabel="hidden unit (one per row with Y = 1)", ylabel="input")
    fig.colorbar(im, ax=ax0, shrink=0.8, label="weight")
    ax1.semilogy(ns, parity_dnf, "o-", label="parity: DNF (one hidden layer)")
    ax1.semilogy(ns, parity_deep, "s-", label="parity: formula network (deep)")
    ax1.semilogy([2 * k for k in ks], cnf_dnf, "o--", label="(A1|B1)&...: DNF")
    ax1.semilogy([2 * k for k in ks], cnf_deep, "s--", label="(A1|B1)&...: formula network")
    ax1.set(title="Units needed: one hidden layer vs one layer per level", xlabel="number of variables n",
            ylabel="threshold units (log scale)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, which="both")
    caption = ("Left: the lecture's 5-variable truth table compiled to one hidden layer (the six minterm "
               "units). Right: the DNF network grows exponentially with n for parity and for a product of "
               "ORs, the deep formula network linearly.")
    figures.append((caption, _plot.save(fig, out_dir, "boolean_sizes.png")))

    lec = sizes["lecture formula (SPEC)"]
    summary = (
        f"The lecture's table (six rows with output 1) compiles to MLP{net.sizes}: six minterm units with "
        f"{n_connections} input connections (the slide's 30) plus six connections to the OR "
        f"unit and seven biases, {net.num_parameters()} parameters; it is exact on all 32 inputs, and "
        f"{needed} of the {n_connections} input connections are needed: cutting any one of them changes the "
        "output on at least one input. "
        f"{random_ok}/{n_random} random truth tables of 1 to 8 variables compile exactly too. Each "
        "threshold unit is one or two ReLUs: with integer weights and 0/1 inputs, relu(z) - relu(z - 1) is "
        "exactly the step [z >= 1], and a single ReLU suffices for AND (z <= 1) and OR (z >= 0) units. The "
        f"lecture's formula compiles to {lec['deep_layers']} levels with {lec['deep_units']} units; it "
        f"simplifies to the single row A & ~X & ~Y & ~Z, so its DNF network needs only {lec['dnf_units']} "
        "unit: for this formula depth does not save units. It does for functions whose DNF is large: "
        f"parity of 8 needs {sizes['parity of 8']['dnf_units']} minterm units but "
        f"{sizes['parity of 8']['deep_units']} units in {sizes['parity of 8']['deep_layers']} layers."
    )
    tables = [
        ("The lecture's truth table: one minterm unit per row with Y = 1 (the table rows are the ground "
         "truth; "
         "some slide frames mistype the formula)", ["X1 X2 X3 X4 X5", "minterm unit", "Y"], minterm_rows),
        ("Formula network (one layer per level) vs the DNF network of the same function",
         ["function", "variables", "DNF units (true rows)", "DNF params", "formula layers (units per layer)",
          "formula units", "formula params", "both exact"], size_rows),
    ]
    checks = {
        "lecture_table_exact_on_all_32_inputs": lecture_exact,
        "lecture_table_one_unit_per_row": net.sizes == [5, 6, 1],
        "every_one_of_the_30_input_connections_is_needed": needed == 30 and n_connections == 30,
        "random_truth_tables_exact": random_ok == n_random,
        "formula_and_dnf_networks_exact": bool(formulas_exact),
        "deep_smaller_than_dnf_for_parity_8":
            sizes["parity of 8"]["deep_params"] < sizes["parity of 8"]["dnf_params"],
    }
    numbers = {"lecture_table_params": net.num_parameters(), "connections_needed": needed, "random_tables": n_random,
               "random_tables_exact": random_ok, "sizes": sizes,
               "parity_units": {"n": ns, "dnf": parity_dnf, "deep": parity_deep}}
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
