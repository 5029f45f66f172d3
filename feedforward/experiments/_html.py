"""The lecture report as one self-contained HTML page (figures embedded, a table of contents).

A student opens ``report.html`` offline, from a mail attachment or a USB stick: nothing in it
refers to another file or to the network. Figures are PNGs embedded as base64 ``data:`` URIs;
the only markup beyond tables is inline code (``x``) and bold (**x**) in the summaries, turned
into ``<code>`` and ``<b>`` after escaping, so no text of an experiment can inject markup.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

__all__ = ["html_report", "inline"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
blockquote { border-left: 4px solid #999; margin: 1rem 0; padding: 0.2rem 1rem; background: #f6f6f6; }
blockquote .en { font-style: italic; color: #444; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
figure { margin: 1rem 0; } figure img { max-width: 100%; } figcaption { font-style: italic; }
.pass { color: #176d17; } .fail, .error { color: #b00; font-weight: bold; } .skipped { color: #a60; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; }
nav ol { columns: 2; }
"""


def inline(text: str) -> str:
    """Escape ``text`` for HTML, then render its ``code`` spans and **bold** spans."""
    out = html.escape(str(text))
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def _table(caption, header, rows) -> list:
    from .report import _cell

    parts = [f"<table><caption>{inline(caption)}</caption><thead><tr>"]
    parts += [f"<th>{inline(_cell(h))}</th>" for h in header]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v).replace(chr(92) + '|', '|'))}</td>"
                                      for v in row) + "</tr>")
    parts.append("</tbody></table>")
    return ["".join(parts)]


def _image(out_dir: Path, filename: str) -> str:
    data = (out_dir / filename).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def html_report(records, out_dir, quick: bool, total_seconds: float) -> str:
    """The whole report as one HTML document (a ``str``); figures are read from ``out_dir``."""
    from .report import intro, status_of, status_text

    out_dir = Path(out_dir)
    body = ["<h1>Deep feedforward networks: the lecture, executable</h1>",
            f"<p>{inline(intro(quick, total_seconds))}</p>"]
    body.append("<table><thead><tr><th>#</th><th>section</th><th>checks</th><th>time (s)</th></tr></thead><tbody>")
    for i, rec in enumerate(records, start=1):
        cls = status_of(rec)
        body.append(f"<tr><td>{i}</td><td><a href='#{i}-{rec['name']}'>{inline(rec['module'].TITLE)}</a></td>"
                    f"<td class='{cls}'>{html.escape(status_text(rec))}</td><td>{rec['seconds']:.1f}</td></tr>")
    body.append("</tbody></table>")
    body.append("<nav><h2>Contents</h2><ol>" + "".join(
        f"<li><a href='#{i}-{rec['name']}'>{inline(rec['module'].TITLE)}</a></li>"
        for i, rec in enumerate(records, start=1)) + "</ol></nav>")
    for i, rec in enumerate(records, start=1):
        module = rec["module"]
        zh, en = module.QUOTE
        body.append(f"<section id='{i}-{rec['name']}'><h2>{i}. {inline(module.TITLE)}</h2>")
        body.append(f"<blockquote lang='zh'><p>{html.escape(zh)}</p><p class='en' lang='en'>{html.escape(en)}</p>"
                    "</blockquote>")
        body.append(f"<p><b>Claim.</b> {inline(module.CLAIM)}</p>")
        if "error" in rec:
            body.append(f"<p class='error'>The experiment failed:</p><pre>{html.escape(rec['error'])}</pre>")
        elif rec["result"].get("skipped"):
            body.append(f"<p class='skipped'>Skipped: {inline(rec['result']['skipped'])}</p>"
                        "<p>Nothing was measured or checked here.</p>")
        else:
            result = rec["result"]
            body.append(f"<p><b>Measurement.</b> {inline(result['summary'].strip())}</p>")
            for caption, header, rows in result["tables"]:
                body += _table(caption, header, rows)
            body.append("<p><b>Checks.</b></p><ul>")
            for check, ok in result["checks"].items():
                cls = "pass" if ok else "fail"
                body.append(f"<li><span class='{cls}'>{'pass' if ok else 'FAIL'}</span>: "
                            f"<code>{html.escape(check)}</code></li>")
            body.append("</ul>")
            for caption, filename in result["figures"]:
                body.append(f"<figure><img src='{_image(out_dir, filename)}' alt='{html.escape(caption, quote=True)}'>"
                            f"<figcaption>{inline(caption)}</figcaption></figure>")
        body.append(f"<p><small>{rec['seconds']:.1f} s</small></p></section>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Deep feedforward networks: the lecture, executable</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
