"""Boolean functions as networks of threshold units (L-BOOL-1, L-BOOL-2).

* :func:`truth_table_network`: any truth table compiles to **one hidden layer**,
  one threshold unit per row with output 1 (a DNF minterm) and a summing OR
  unit on top. Minterm ``j`` fires only on its own row:
  ``z_j = sum_{i in ones} x_i - sum_{i in zeros} x_i - (|ones| - 1)`` is 1 on
  that row and ``<= 0`` on every other, so ``relu(z_j)`` is exactly the
  minterm. Distinct minterms are never on together, so the OR of them is their
  plain sum: the network is ``MLP([n, m, 1])`` with ReLU units, exact on all
  ``2^n`` inputs.
* :func:`formula_network`: a formula over ``& | ~ ( )`` compiles to a **deep**
  network with one layer per level of the formula. ``~`` costs nothing (``1 - h``
  is affine and is folded into the next layer's weights); every ``&``/``|`` is
  one threshold unit (one ReLU, see :mod:`.threshold`); a value needed more than
  one layer up is carried by a copy unit ``relu(h) = h``. Repeated
  sub-formulas are compiled once.

Inputs are 0/1 columns in the order of ``variables``; the full truth table of
``n`` variables lists the inputs as binary numbers with the first variable as
the most significant bit (the lecture's table order), see :func:`all_inputs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from .threshold import ThresholdCircuit

__all__ = [
    "LECTURE_TRUTH_TABLE", "LECTURE_FORMULA", "all_inputs", "truth_table_circuit", "truth_table_network",
    "parse_formula", "formula_variables", "evaluate_formula", "formula_truth_table", "formula_circuit",
    "formula_network", "parity_formula",
]

# The lecture's worked example: the six rows (X1..X5) whose output Y is 1. The
# slides' DNF formulas contain transcription errors in some frames; the table
# rows are the ground truth (SPEC errata).
LECTURE_TRUTH_TABLE = np.array(
    [
        [0, 0, 1, 1, 0],
        [0, 1, 0, 1, 1],
        [0, 1, 1, 0, 0],
        [1, 0, 0, 0, 1],
        [1, 0, 1, 1, 1],
        [1, 1, 0, 0, 1],
    ],
    dtype=np.int64,
)

# The lecture's (and SPEC's) deep-network example.
LECTURE_FORMULA = "((A & ~X & Z) | (A & ~Y)) & ((X & Y) | (~X & ~Z))"

_MAX_VARS = 20  # 2^20 rows: beyond this a truth table is not a sensible thing to enumerate


def all_inputs(n_vars: int, dtype=np.float32) -> np.ndarray:
    """Every input of ``n_vars`` Boolean variables, shape ``(2^n, n)``, first variable most significant.

    >>> all_inputs(2).astype(int).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    n_vars = check_int(n_vars, "n_vars", 1, _MAX_VARS)
    idx = np.arange(2**n_vars)
    bits = (idx[:, None] >> np.arange(n_vars - 1, -1, -1)[None, :]) & 1
    return bits.astype(dtype)


def _check_01(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be 0/1 numbers, got dtype {a.dtype}")
    bad = ~np.isin(a, (0, 1))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{what} must contain only 0 and 1, got {a[where]!r} at index {where}")
    return a.astype(np.int64)


def _rows_from_table(table, n_vars):
    n_vars = check_int(n_vars, "n_vars", 1, _MAX_VARS, none=True)
    a = np.asarray(table)
    if a.ndim == 1:  # the full output column of a truth table, 2^n entries
        a = _check_01(a, "truth table outputs")
        n = int(round(np.log2(a.size))) if a.size else -1
        if a.size < 2 or 2**n != a.size:
            raise ValueError(f"a 1-D truth table must have 2^n outputs (n >= 1), got {a.size} entries")
        if n_vars is not None and n_vars != n:
            raise ValueError(
                f"a 1-D truth table with {a.size} outputs has {n} variables, not n_vars={n_vars}"
            )
        return all_inputs(n, np.int64)[a == 1], n
    if a.ndim != 2:
        raise ValueError(
            f"table must be a 2-D array of rows with output 1 or a 1-D output column, got shape {a.shape}"
        )
    if a.shape[0] == 0 and n_vars is None:
        raise ValueError("an empty table of rows needs n_vars (the number of variables)")
    n = a.shape[1] if n_vars is None else n_vars
    if a.shape[1] != n:
        raise ValueError(f"table rows have {a.shape[1]} columns but n_vars={n_vars}")
    if not 1 <= n <= _MAX_VARS:
        raise ValueError(f"the number of variables must be in [1, {_MAX_VARS}], got {n}")
    rows = _check_01(a, "table rows") if a.size else a.astype(np.int64).reshape(0, n)
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    if (counts > 1).any():
        row = uniq[counts > 1][0].tolist()
        raise ValueError(f"table lists the row {row} more than once; list each row once")
    return rows, n


def truth_table_circuit(table, n_vars: int | None = None) -> ThresholdCircuit:
    """The DNF circuit of a truth table: one minterm unit per row with output 1, a summing OR.

    ``table`` is either a 2-D array ``(m, n)`` of the rows whose output is 1 (the
    lecture's form) or a 1-D array of all ``2^n`` outputs in :func:`all_inputs` order.
    """
    rows, n = _rows_from_table(table, n_vars)
    if len(rows) == 0:
        # The constant-0 function: one unit that is never used (an MLP needs a hidden width >= 1).
        return ThresholdCircuit([(np.zeros((n, 1)), np.zeros(1))], output=(np.zeros((1, 1)), np.zeros(1)))
    W = np.where(rows.T == 1, 1.0, -1.0)  # (n, m): +1 for a literal X_i, -1 for ~X_i
    b = -(rows.sum(axis=1) - 1.0)  # fires only when all |ones| positive literals are on and no other
    names = ["".join(f"X{i + 1}" if bit else f"~X{i + 1}" for i, bit in enumerate(r)) for r in rows]
    return ThresholdCircuit([(W, b)], output=(np.ones((len(rows), 1)), np.zeros(1)), unit_names=[names])


def truth_table_network(table, n_vars: int | None = None, dtype=np.float32):
    """Compile a truth table into a one-hidden-layer ReLU network (L-BOOL-1).

    Parameters
    ----------
    table : array_like
        Rows with output 1, shape ``(m, n)`` (e.g. :data:`LECTURE_TRUTH_TABLE`), or
        the full output column of shape ``(2^n,)`` in :func:`all_inputs` order.
    n_vars : int, optional
        Number of variables; needed only for an empty table of rows.
    dtype : numpy dtype
        Parameter dtype; integer weights make the network exact in float32 too.

    Returns
    -------
    feedforward.nn.MLP
        ``MLP([n, m, 1])``: input ``(batch, n)`` of 0/1, output ``(batch, 1)`` of
        exactly 0/1. ``m`` is the number of rows with output 1 (one when there are none).

    Examples
    --------
    >>> import feedforward as ff
    >>> net = truth_table_network(LECTURE_TRUTH_TABLE)
    >>> net.sizes
    [5, 6, 1]
    >>> net(ff.Tensor([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1]])).data.ravel().tolist()
    [1.0, 0.0]
    """
    return truth_table_circuit(table, n_vars).network(dtype)


# ---------------------------------------------------------------- formulas
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def _tokenize(text: str):
    tokens, pos = [], 0
    for m in _TOKEN.finditer(text):
        if m.group(1):
            tokens.append(("name", m.group(1), m.start(1)))
        elif m.group(2):
            ch = m.group(2)
            if ch not in "&|~()":
                raise ValueError(
                    f"formula: unexpected character {ch!r} at position {m.start(2)} in {text!r}; "
                    "use variable names and & | ~ ( )"
                )
            tokens.append((ch, ch, m.start(2)))
        pos = m.end()
    if text[pos:].strip():
        raise ValueError(f"formula: cannot read {text[pos:]!r} at position {pos} in {text!r}")
    return tokens


class _Parser:
    """Recursive descent: ``expr := term ('|' term)*``, ``term := factor ('&' factor)*``,
    ``factor := '~' factor | '(' expr ')' | NAME`` (so ``~`` binds tightest, then ``&``, then ``|``)."""

    def __init__(self, text: str):
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def peek(self):
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def fail(self, expected: str):
        if self.i < len(self.tokens):
            _, value, pos = self.tokens[self.i]
            got = f"{value!r} at position {pos}"
        else:
            got = "the end of the formula"
        raise ValueError(f"formula: expected {expected} but found {got} in {self.text!r}")

    def parse(self):
        if not self.tokens:
            raise ValueError("formula: the formula is empty")
        node = self.expr()
        if self.i != len(self.tokens):
            self.fail("'&', '|' or the end of the formula")
        return node

    def _chain(self, op, sub):
        items = [sub()]
        while self.peek() == op:
            self.i += 1
            items.append(sub())
        if len(items) == 1:
            return items[0]
        flat = []  # (a & b) & c is the same 3-input AND as a & b & c
        kind = "and" if op == "&" else "or"
        for it in items:
            flat.extend(it[1] if it[0] == kind else (it,))
        return (kind, tuple(flat))

    def expr(self):
        return self._chain("|", self.term)

    def term(self):
        return self._chain("&", self.factor)

    def factor(self):
        kind = self.peek()
        if kind == "~":
            self.i += 1
            return ("not", self.factor())
        if kind == "(":
            self.i += 1
            node = self.expr()
            if self.peek() != ")":
                self.fail("')'")
            self.i += 1
            return node
        if kind == "name":
            name = self.tokens[self.i][1]
            self.i += 1
            return ("var", name)
        self.fail("a variable name, '~' or '('")


def parse_formula(formula: str):
    """Parse a formula into a tree of tuples ``("var", name)``, ``("not", t)``, ``("and"|"or", (t, ...))``.

    >>> parse_formula("A & ~B | C")
    ('or', (('and', (('var', 'A'), ('not', ('var', 'B')))), ('var', 'C')))
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    return _Parser(formula).parse()


def formula_variables(formula: str) -> list:
    """The formula's variable names, sorted (the default input order)."""
    names = set()
    stack = [parse_formula(formula)]
    while stack:
        node = stack.pop()
        if node[0] == "var":
            names.add(node[1])
        elif node[0] == "not":
            stack.append(node[1])
        else:
            stack.extend(node[1])
    return sorted(names)


def _resolve_variables(formula, variables):
    found = formula_variables(formula)
    if variables is None:
        return found
    variables = list(variables)
    if len(set(variables)) != len(variables):
        raise ValueError(f"variables has repeated names: {variables}")
    missing = [v for v in found if v not in variables]
    if missing:
        raise ValueError(f"the formula uses {missing}, which are not in variables={variables}")
    return variables


def evaluate_formula(formula: str, X, variables=None) -> np.ndarray:
    """The formula's value (0/1, shape ``(batch,)``) on 0/1 inputs ``X`` of shape ``(batch, n_vars)``.

    Plain NumPy Boolean logic: the reference the networks are checked against.
    """
    variables = _resolve_variables(formula, variables)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(variables):
        raise ValueError(
            f"X must have shape (batch, {len(variables)}) for variables {variables}, got {X.shape}"
        )
    col = {v: X[:, i].astype(bool) for i, v in enumerate(variables)}

    def ev(node):
        if node[0] == "var":
            return col[node[1]]
        if node[0] == "not":
            return ~ev(node[1])
        parts = [ev(c) for c in node[1]]
        return np.logical_and.reduce(parts) if node[0] == "and" else np.logical_or.reduce(parts)

    return ev(parse_formula(formula)).astype(np.int64)


def formula_truth_table(formula: str, variables=None) -> np.ndarray:
    """The formula's full output column over :func:`all_inputs` (length ``2^n``)."""
    variables = _resolve_variables(formula, variables)
    return evaluate_formula(formula, all_inputs(len(variables), np.int64), variables)


@dataclass(frozen=True)
class _Gate:
    kind: str  # "and" | "or"
    children: tuple  # ((signal, negated), ...) sorted, without repeats
    level: int


def _build_gates(tree, variables):
    """Hash-consed gates; a signal is ("var", i) or ("gate", g).

    Returns ``(root signal, root negated, gates)``.
    """
    gates, index = [], {}

    def visit(node):
        if node[0] == "var":
            return ("var", variables.index(node[1])), False
        if node[0] == "not":
            sig, neg = visit(node[1])
            return sig, not neg
        kids = tuple(sorted(set(visit(c) for c in node[1])))
        if len(kids) == 1:  # A & A is A
            return kids[0]
        key = (node[0], kids)
        if key not in index:
            level = 1 + max(gates[s[1]].level if s[0] == "gate" else 0 for s, _ in kids)
            index[key] = len(gates)
            gates.append(_Gate(node[0], kids, level))
        return ("gate", index[key]), False

    sig, neg = visit(tree)
    return sig, neg, gates


def _render(sig, variables, gates):
    if sig[0] == "var":
        return variables[sig[1]]
    g = gates[sig[1]]
    op = " & " if g.kind == "and" else " | "
    return "(" + op.join(("~" if n else "") + _render(s, variables, gates) for s, n in g.children) + ")"


def formula_circuit(formula: str, variables=None) -> ThresholdCircuit:
    """The formula as a layered threshold circuit, one layer per level (see :func:`formula_network`)."""
    variables = _resolve_variables(formula, variables)
    root, root_neg, gates = _build_gates(parse_formula(formula), variables)
    level_of = lambda s: gates[s[1]].level if s[0] == "gate" else 0  # noqa: E731
    depth = level_of(root)
    # The last layer that needs each signal: its consumers' levels, and the root at the top.
    last_use = {}
    for g in gates:
        for s, _ in g.children:
            last_use[s] = max(last_use.get(s, 0), g.level)
    last_use[root] = max(last_use.get(root, 0), depth + 1)  # the output layer reads the root

    available = {("var", i): i for i in range(len(variables))}  # signal -> column of the previous layer
    layers, names = [], []
    for k in range(1, depth + 1):
        units = [("gate", i) for i, g in enumerate(gates) if g.level == k]
        # copies carry a signal produced below layer k-1... up to the layer before its last use
        copies = [s for s in available if last_use.get(s, 0) > k and s not in units]
        W = np.zeros((len(available), len(units) + len(copies)))
        b = np.zeros(len(units) + len(copies))
        labels = []
        for j, s in enumerate(units):
            g = gates[s[1]]
            for child, neg in g.children:
                if neg:  # literal ~h = 1 - h: the 1 goes into the bias
                    W[available[child], j] -= 1.0
                    b[j] += 1.0
                else:
                    W[available[child], j] += 1.0
            # AND of k literals: [sum >= k] = ramp(sum - (k - 1)); OR: [sum >= 1] = ramp(sum).
            if g.kind == "and":
                b[j] -= len(g.children) - 1
            labels.append(_render(s, variables, gates))
        for j, s in enumerate(copies, start=len(units)):
            W[available[s], j] = 1.0  # copy unit: ramp(h) = h for h in {0, 1}
            labels.append("copy " + _render(s, variables, gates))
        layers.append((W, b))
        names.append(labels)
        available = {s: j for j, s in enumerate(units + copies)}
    W_out = np.zeros((len(available), 1))
    b_out = np.zeros(1)
    W_out[available[root], 0] = -1.0 if root_neg else 1.0
    b_out[0] = 1.0 if root_neg else 0.0
    bounds = (0.0, 1.0)
    return ThresholdCircuit(layers, output=(W_out, b_out), input_bounds=bounds, unit_names=names)


def formula_network(formula: str, variables=None, dtype=np.float32):
    """Compile a Boolean formula into a deep ReLU network, one layer per level (L-BOOL-2).

    Parameters
    ----------
    formula : str
        Variable names (``[A-Za-z_][A-Za-z0-9_]*``) combined with ``~`` (not),
        ``&`` (and), ``|`` (or) and parentheses; ``~`` binds tightest, then ``&``, then ``|``.
    variables : list of str, optional
        Input order; default: the formula's variable names sorted.
    dtype : numpy dtype

    Returns
    -------
    feedforward.nn.MLP
        ReLU network with one hidden layer per level of the formula: input
        ``(batch, n_vars)`` of 0/1, output ``(batch, 1)`` exactly equal to the
        formula's value. :func:`formula_circuit` gives its units per layer.

    Examples
    --------
    >>> import feedforward as ff
    >>> net = formula_network("(A & ~B) | (~A & B)")  # XOR
    >>> net(ff.Tensor(all_inputs(2))).data.ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    return formula_circuit(formula, variables).network(dtype)


def parity_formula(n_vars: int, prefix: str = "X") -> str:
    """The parity (XOR) of ``n_vars`` variables as a formula over ``& | ~``, a balanced tree of
    ``a ^ b = (a & ~b) | (~a & b)``. Its DNF has ``2^(n-1)`` minterms; the formula network
    (repeated sub-formulas shared) needs ``3 (n - 1)`` gates."""
    n_vars = check_int(n_vars, "n_vars", low=1)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {prefix!r} ({type(prefix).__name__})")
    terms = [f"{prefix}{i + 1}" for i in range(n_vars)]
    while len(terms) > 1:
        nxt = [f"(({a}) & ~({b})) | (~({a}) & ({b}))" for a, b in zip(terms[::2], terms[1::2])]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]
