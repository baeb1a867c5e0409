"""HTML pages (asaas/pages.py): result tables reach the page escaped and formatted as the text
output formats them, pages are written atomically, and a page that cannot be written is a
one-line error. The pages themselves are drawn in real Chromium by tests/test_report.py and
tests/timeline/test_series.py; the charts on them are tests/test_charts.py's."""

from __future__ import annotations

import os

import pytest

from asaas.errors import AsaasError
from asaas.pages import _environment, write_page
from asaas.tables import Table


def test_result_tables_are_escaped_and_formatted_as_text_output():
    html = _environment().from_string('{% import "charts.html" as draw %}{{ draw.table(t) }}'
                                      ).render(t=Table(["a<b", "p"], [("<i>x</i>", 3.2e-07)]))
    assert "<th>a&lt;b</th>" in html and "<td>&lt;i&gt;x&lt;/i&gt;</td>" in html
    assert "<td>3.2e-07</td>" in html


def test_write_page_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    target.write_text("old page", encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(AsaasError, match="cannot write .*page.html: No space left on device"):
        write_page(target, "new page")
    assert target.read_text(encoding="utf-8") == "old page"  # never half a page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temp file left
    monkeypatch.undo()
    write_page(target, "new page")
    assert target.read_text(encoding="utf-8") == "new page"
    assert target.stat().st_mode & 0o044  # readable by others, as a page one mails or serves


def test_write_page_errors(tmp_path):
    with pytest.raises(AsaasError, match="folder .*missing does not exist"):
        write_page(tmp_path / "missing" / "page.html", "x")
    with pytest.raises(AsaasError, match="cannot write"):
        write_page(tmp_path, "x")  # a folder, not a file
