"""The lecture report: registry, write_report, the `feedforward lecture` entry point (issues 4 and 11).

Issue 11: every section's quick mode runs here (the report over the whole registry), every
section opens with the lecture's words, no placeholder is left in any section, a skipped
section is shown as skipped (never "0/0"), a section that checks nothing is an error, and
report.html is self-contained (figures embedded, a table of contents).
"""

import base64
import json
import re
import sys
import textwrap

import pytest

from feedforward import experiments
from feedforward.experiments import report

MINE = ["xor", "boolean", "geometry", "pulses", "backprop", "perturbation"]
ALL = list(experiments.REGISTRY)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("lecture")
    path = report.write_report(ALL, out, quick=True)
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
        zh, en = m.QUOTE  # the lecture's words: Chinese (at least one CJK character) and English
        assert re.search(r"[\u4e00-\u9fff]", zh) and en.isascii() and len(en) > 20, n
    assert "report" not in names and not any(n.startswith("_") for n in names)


@pytest.mark.slow
def test_report_has_every_section_claim_table_and_figure(quick_report):
    out, path, text = quick_report
    assert path == out / "report.md"
    for i, name in enumerate(ALL, start=1):
        module = experiments.REGISTRY[name]
        assert f"## {i}. {module.TITLE}" in text
        assert f"**Claim.** {module.CLAIM}" in text
    sections = text.split("\n## ")[1:]
    assert len(sections) == len(ALL)
    for name, section in zip(ALL, sections):  # quote, claim, measurement, checks, then the figures
        zh = experiments.REGISTRY[name].QUOTE[0]
        order = [section.index(f"> {report._md(zh)}"), section.index("**Claim.**"), section.index("**Measurement.**"),
                 section.index("**Checks.**"), section.index("\n![")]
        assert order == sorted(order), name
    for name in MINE:  # the construction sections each show a table
        assert "|---|" in sections[ALL.index(name)]
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
    assert sorted(data) == sorted(ALL)
    for name, rec in data.items():
        assert "error" not in rec, rec.get("error")
        assert rec["checks"], f"{name} asserts nothing"
        failed = [c for c, ok in rec["checks"].items() if not ok]
        assert not failed, f"{name}: {failed}"
    assert "**FAIL**" not in text and "**error**" not in text
    # every placeholder of the summaries was filled in (a missing f-prefix leaves "{name}" behind)
    assert not re.search(r"\{[A-Za-z_][\w\[\]'\"., ()]*\}", text), re.search(r"\{[^}]*\}", text)
    assert report.all_checks_pass(out)


@pytest.mark.slow
def test_html_report_is_self_contained(quick_report):
    out, _, text = quick_report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<nav><h2>Contents</h2>" in page
    for i, name in enumerate(ALL, start=1):  # a contents entry and an anchor per section
        assert f"href='#{i}-{name}'" in page and f"id='{i}-{name}'" in page
        assert experiments.REGISTRY[name].QUOTE[0].split(" ")[0][:8] in page
    sources = re.findall(r"<img src='([^']*)'", page)
    assert len(sources) == text.count("\n![")  # every figure of the Markdown report, embedded
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=['\"](?!data:|#)", page)  # nothing outside the file


SKIPPING = textwrap.dedent('''
    ORDER = 6
    TITLE = "A section whose data is missing"
    CLAIM = "Nothing."
    QUOTE = ("无", "Nothing at all, said at length.")
    def run(out_dir, quick=False):
        return {"summary": "", "tables": [], "figures": [], "checks": {}, "numbers": {},
                "skipped": "the data set is not installed"}
''')
SILENT = SKIPPING.replace('"skipped": "the data set is not installed"', '"other": 1').replace("ORDER = 6", "ORDER = 7")


def test_skipped_section_is_shown_as_skipped_and_a_silent_one_fails(tmp_path, monkeypatch):
    """Issue 11 defect 7: a skipped section reads "skipped" with its reason, never "0/0"; a section
    that checks nothing without saying why is an error."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "zz_skip.py").write_text(SKIPPING)
    (extra / "zz_silent.py").write_text(SILENT)
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(extra)])
    try:
        monkeypatch.setattr(experiments, "REGISTRY", experiments.discover())
        assert report.main(["zz_skip", "--out", str(tmp_path / "a")]) == 0
        md = (tmp_path / "a" / "report.md").read_text()
        assert "| **skipped** |" in md and "**Skipped:** the data set is not installed" in md
        assert "0/0" not in md and "**Checks.**" not in md
        assert "class='skipped'" in (tmp_path / "a" / "report.html").read_text()
        assert report.main(["zz_silent", "--out", str(tmp_path / "b")]) == 1
        assert "checked nothing" in (tmp_path / "b" / "report.md").read_text()
    finally:
        sys.modules.pop("feedforward.experiments.zz_skip", None)
        sys.modules.pop("feedforward.experiments.zz_silent", None)


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
    QUOTE = ("无", "Nothing at all, said at length.")
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
        assert list(registry)[:2] == ["review", "zz_fake"]  # ORDER 5 after review's 5 (by name)
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
