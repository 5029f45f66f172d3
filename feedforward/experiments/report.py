"""Run the lecture's experiments and write one Markdown report (``feedforward lecture``).

``write_report(names, out_dir, quick)`` runs the experiments of
:data:`feedforward.experiments.REGISTRY` in the lecture's order and writes
``out_dir/report.md`` and ``out_dir/report.html`` (each section: the lecture's
own words in Chinese and English, the claim, the measurement, the checks, the
figures; the HTML file is self-contained, figures embedded, for reading offline)
and ``out_dir/report.json`` (numbers and checks). An experiment that raises is
reported as failed, with its traceback, and the others still run. A section that
cannot run here (a data set not installed) is shown as skipped with its reason;
a section that checks nothing is an error, not a pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

__all__ = ["write_report", "run_experiments", "status_of", "status_text", "intro", "all_checks_pass", "main"]

DEFAULT_OUT = "lecture-report"


def _registry():
    from . import REGISTRY

    return REGISTRY


def _select(names) -> list:
    registry = _registry()
    if not names:
        return list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(
            f"unknown experiment{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; valid "
            f"names: {', '.join(registry)}"
        )
    order = list(registry)
    return sorted(dict.fromkeys(names), key=order.index)  # lecture order, each once


def _check_result(name, result):
    if not isinstance(result, dict):
        raise TypeError(f"experiment {name!r}: run() must return a dict, got {type(result).__name__}")
    expected = (("summary", str), ("tables", list), ("figures", list), ("checks", dict), ("numbers", dict))
    for key, kind in expected:
        if not isinstance(result.get(key), kind):
            raise TypeError(f"experiment {name!r}: run() result needs {key!r} of type {kind.__name__}")
    skipped = result.get("skipped")
    if skipped is not None and (not isinstance(skipped, str) or not skipped or result["checks"]):
        raise TypeError(f"experiment {name!r}: 'skipped' must be the reason (a non-empty str) and the "
                        "checks empty")
    if skipped is None and not result["checks"]:
        # "0/0 checks pass" would read as a pass: a section that asserts nothing has failed
        raise ValueError(f"experiment {name!r} checked nothing: run() returned no checks and no 'skipped' "
                         "reason")


def status_of(record) -> str:
    """``"error"``, ``"skipped"``, ``"pass"`` or ``"fail"`` for one record of :func:`run_experiments`."""
    if "error" in record:
        return "error"
    result = record["result"]
    if result.get("skipped"):
        return "skipped"
    return "pass" if all(bool(v) for v in result["checks"].values()) else "fail"


def status_text(record) -> str:
    """One cell of the summary table: ``"3/3"``, ``"2/3 FAIL"``, ``"skipped"`` or ``"error"``."""
    status = status_of(record)
    if status in ("error", "skipped"):
        return status
    checks = record["result"]["checks"]
    passed = sum(bool(v) for v in checks.values())
    return f"{passed}/{len(checks)}" + ("" if status == "pass" else " FAIL")


def run_experiments(names=None, out_dir=DEFAULT_OUT, quick: bool = False, log=None) -> list:
    """Run experiments; a list of ``{"name", "module", "result" or "error", "seconds"}`` in lecture order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = _select(names)
    registry = _registry()
    records = []
    for i, name in enumerate(selected, start=1):
        module = registry[name]
        start = time.perf_counter()
        record = {"name": name, "module": module}
        try:
            result = module.run(out, quick=quick)
            _check_result(name, result)
            record["result"] = result
        except Exception:  # report it and carry on: one broken experiment must not hide the others
            record["error"] = traceback.format_exc()
        record["seconds"] = time.perf_counter() - start
        records.append(record)
        if log is not None:
            kind = status_of(record)
            if kind == "error":
                status = "ERROR"
            elif kind == "skipped":
                status = "skipped: " + record["result"]["skipped"]
            else:
                status = status_text(record) + (" checks pass" if kind == "pass" else "")
            print(f"[{i}/{len(selected)}] {name:<14s} {record['seconds']:6.1f} s  {status}", file=log)
    return records


def _cell(value) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _md(text: str) -> str:
    """Text inside Markdown markup: a literal ``*`` or ``|`` (``q*``, ``||grad J||``) must not end the
    italics or split a table row."""
    return str(text).replace("*", "\\*").replace("|", "\\|")


def _table(caption, header, rows) -> list:
    lines = [f"*{caption}*", ""]
    lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    lines.append("")
    return lines


def intro(quick: bool, total_seconds: float) -> str:
    """The report's opening paragraph (shared by the Markdown and HTML versions)."""
    return ("Each section re-makes one claim or worked example of the lecture (\"Deep Learning, Lecture 3: "
            "Deep Feedforward Networks\") with the `feedforward` library: the lecture's own words (Chinese, "
            "with an English rendering), the claim, what was measured, the checks, and the figures. "
            f"{'CI-sized run (`--quick`). ' if quick else 'Full-size run. '}Total time {total_seconds:.1f} s.")


def _markdown(records, quick: bool, total_seconds: float) -> str:
    lines = [
        "# Deep feedforward networks: the lecture, executable",
        "",
        intro(quick, total_seconds),
        "",
        "| # | experiment | checks | time (s) |",
        "|---|---|---|---|",
    ]
    for i, rec in enumerate(records, start=1):
        status = status_text(rec)
        status = f"**{status}**" if status_of(rec) in ("error", "fail", "skipped") else status
        link = f"[{_md(rec['module'].TITLE)}](#{i}-{rec['name']})"
        lines.append(f"| {i} | {link} | {status} | {rec['seconds']:.1f} |")
    lines.append("")
    for i, rec in enumerate(records, start=1):
        module = rec["module"]
        zh, en = module.QUOTE
        lines += [f'<a id="{i}-{rec["name"]}"></a>', "", f"## {i}. {module.TITLE}", ""]
        lines += [f"> {_md(zh)}", ">", f"> *{_md(en)}*", ""]
        lines += [f"**Claim.** {module.CLAIM}", ""]
        if "error" in rec:
            lines += ["**The experiment failed:**", "", "```", rec["error"].rstrip(), "```", ""]
            continue
        result = rec["result"]
        if result.get("skipped"):
            lines += [f"**Skipped:** {result['skipped']}", "", "Nothing was measured or checked here.", "",
                      f"_{rec['seconds']:.1f} s_", ""]
            continue
        lines += ["**Measurement.** " + result["summary"].strip(), ""]
        for caption, header, rows in result["tables"]:
            lines += _table(caption, header, rows)
        lines.append("**Checks.**")
        lines.append("")
        for check, ok in result["checks"].items():
            lines.append(f"- {'pass' if ok else '**FAIL**'}: `{check}`")
        lines.append("")
        for caption, filename in result["figures"]:
            lines += [f"![{caption}]({filename})", "", f"*{caption}*", ""]
        lines += [f"_{rec['seconds']:.1f} s_", ""]
    return "\n".join(lines)


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_jsonable(v) for v in value]
        if hasattr(value, "tolist"):
            return value.tolist()
        return str(value)


def write_report(names=None, out_dir=DEFAULT_OUT, quick: bool = False, log=None) -> Path:
    """Run the experiments ``names`` (default: all, in the lecture's order); write ``report.md`` and ``.html``.

    Parameters
    ----------
    names : list of str, optional
        Experiment names from :data:`feedforward.experiments.REGISTRY`; unknown names raise ``ValueError``.
    out_dir : str or Path
        Directory for ``report.md``, ``report.json`` and the figures (created if needed).
    quick : bool
        CI-sized runs.
    log : file, optional
        Where to print one progress line per experiment.

    Returns
    -------
    Path
        The path of ``report.md``.
    """
    start = time.perf_counter()
    records = run_experiments(names, out_dir, quick, log)
    total = time.perf_counter() - start
    out = Path(out_dir)
    path = out / "report.md"
    path.write_text(_markdown(records, quick, total), encoding="utf-8")
    from ._html import html_report

    (out / "report.html").write_text(html_report(records, out, quick, total), encoding="utf-8")
    summary = {}
    for rec in records:
        if "error" in rec:
            summary[rec["name"]] = {"error": rec["error"], "seconds": rec["seconds"]}
        else:
            summary[rec["name"]] = {"checks": rec["result"]["checks"], "numbers": rec["result"]["numbers"],
                                    "seconds": rec["seconds"]}
            if rec["result"].get("skipped"):
                summary[rec["name"]]["skipped"] = rec["result"]["skipped"]
    (out / "report.json").write_text(json.dumps(_jsonable(summary), indent=2, default=str), encoding="utf-8")
    return path


def all_checks_pass(out_dir) -> bool:
    """True when ``out_dir/report.json`` records no error and no failed check.

    A skipped section (its data set not installed) does not fail the report: it says so, with
    the reason, in the report and on stderr; it is never counted among the passed sections.
    """
    data = json.loads((Path(out_dir) / "report.json").read_text(encoding="utf-8"))
    return all("error" not in rec and all(rec["checks"].values()) for rec in data.values())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedforward lecture",
        description="Run the lecture's experiments and write DIR/report.md with claims, numbers and figures.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="CI-sized runs (seconds, not minutes)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    return parser


def main(argv=None) -> int:
    """``feedforward lecture [NAME ...] --out DIR [--quick] [--list]``; returns the exit status.

    0 when every experiment ran and every check passed, 1 when a check failed or an
    experiment raised, 2 for a usage error (an unknown experiment name, a bad option).
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse has printed the message; hand back its status
        return int(exc.code or 0)
    registry = _registry()
    if args.list:
        for name, module in registry.items():
            print(f"{name:<14s} {module.TITLE}")
        return 0
    try:
        _select(args.names)
    except ValueError as exc:
        print(f"feedforward lecture: error: {exc}", file=sys.stderr)
        return 2
    path = write_report(args.names or None, args.out, args.quick, log=sys.stderr)
    ok = all_checks_pass(args.out)
    data = json.loads((Path(args.out) / "report.json").read_text(encoding="utf-8"))
    skipped = [name for name, rec in data.items() if rec.get("skipped")]
    print(f"report written to {path} and {path.with_suffix('.html')}"
          + ("" if ok else " (some checks failed or experiments raised)")
          + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return 0 if ok else 1
