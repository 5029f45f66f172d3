"""The lecture report: registry, write_report, the `feedforward lecture` entry point (issue 4)."""

import json
import re
import sys
import textwrap

import pytest

from feedforward import experiments
from feedforward.experiments import report

MINE = ["xor", "boolean", "geometry", "pulses", "backprop", "perturbation"]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("lecture")
    path = report.write_report(MINE, out, quick=True)
    return out, path, path.read_text(encoding="utf-8")


def test_registry_holds_the_experiments_in_lecture_order():
    names = list(experiments.REGISTRY)
    assert all(n in names for n in MINE)
    orders = [experiments.REGISTRY[n].ORDER for n in names]
    assert orders == sorted(orders)
    assert [n for n in names if n in MINE] == MINE  # xor 10, boolean 20, ... perturbation 70
    for n in names:
        m = experiments.REGISTRY[n]
        assert isinstance(m.TITLE, str) and isinstance(m.CLAIM, str) and callable(m.run)
    assert "report" not in names and not any(n.startswith("_") for n in names)


@pytest.mark.slow
def test_report_has_every_section_claim_table_and_figure(quick_report):
    out, path, text = quick_report
    assert path == out / "report.md"
    for i, name in enumerate(MINE, start=1):
        module = experiments.REGISTRY[name]
        assert f"## {i}. {module.TITLE}" in text
        assert f"**Claim.** {module.CLAIM}" in text
    sections = text.split("\n## ")[1:]
    assert len(sections) == len(MINE)
    for section in sections:  # each: a Markdown table, a figure, a list of checks
        assert "|---|" in section and "\n![" in section and "**Checks.**" in section
    images = [line for line in text.splitlines() if line.startswith("![")]
    for line in images:
        filename = line[line.index("](") + 2:-1]
        png = out / filename
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000  # a real plot, not an empty canvas


@pytest.mark.slow
def test_every_check_of_the_quick_report_passes(quick_report):
    out, _, text = quick_report
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert sorted(data) == sorted(MINE)
    for name, rec in data.items():
        assert "error" not in rec, rec.get("error")
        assert rec["checks"], f"{name} asserts nothing"
        failed = [c for c, ok in rec["checks"].items() if not ok]
        assert not failed, f"{name}: {failed}"
    assert "**FAIL**" not in text and "**error**" not in text
    # every placeholder of the summaries was filled in (a missing f-prefix leaves "{name}" behind)
    assert not re.search(r"\{[A-Za-z_][\w\[\]'\"., ()]*\}", text), re.search(r"\{[^}]*\}", text)
    assert report.all_checks_pass(out)


def test_main_rejects_unknown_names_with_the_valid_list(tmp_path, capsys):
    status = report.main(["xor", "no_such_thing", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "no_such_thing" in err and "xor" in err and "perturbation" in err
    assert not (tmp_path / "report.md").exists()
    with pytest.raises(ValueError, match="valid names"):
        report.write_report(["nope"], tmp_path)


def test_main_runs_one_experiment_and_says_where_the_report_is(tmp_path, capsys):
    status = report.main(["pulses", "--out", str(tmp_path / "r"), "--quick"])
    captured = capsys.readouterr()
    assert status == 0
    assert str(tmp_path / "r" / "report.md") in captured.out
    assert (tmp_path / "r" / "pulses.png").is_file()
    assert report.main(["--list"]) == 0
    assert "pulses" in capsys.readouterr().out
    assert report.main(["--no-such-flag"]) == 2


FAKE = textwrap.dedent('''
    ORDER = 5
    TITLE = "A fake experiment"
    CLAIM = "Nothing."
    def run(out_dir, quick=False):
        if quick:
            raise RuntimeError("boom")
        return {"summary": "s", "tables": [("t", ["a"], [[1]])], "figures": [],
                "checks": {"holds": False}, "numbers": {}}
''')


def test_new_modules_are_discovered_and_failures_are_reported(tmp_path, monkeypatch, capsys):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "zz_fake.py").write_text(FAKE)
    (extra / "_helper.py").write_text("X = 1\n")
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(extra)])
    try:
        registry = experiments.discover()
        assert list(registry)[0] == "zz_fake"  # ORDER 5 sorts first
        assert "_helper" not in registry
        monkeypatch.setattr(experiments, "REGISTRY", registry)
        # an experiment that raises is reported, not fatal; a failed check makes the exit status 1
        assert report.main(["zz_fake", "--out", str(tmp_path / "a"), "--quick"]) == 1
        assert "RuntimeError: boom" in (tmp_path / "a" / "report.md").read_text()
        assert report.main(["zz_fake", "--out", str(tmp_path / "b")]) == 1
        assert "**FAIL**: `holds`" in (tmp_path / "b" / "report.md").read_text()
    finally:
        sys.modules.pop("feedforward.experiments.zz_fake", None)
    capsys.readouterr()
