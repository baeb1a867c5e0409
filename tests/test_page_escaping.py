"""Pages carry no code (issue 18, item 5): every value that reaches `asaas timeline --html` or
`asaas report --html` (dataset, language, product id and name, model name, event kind, title and
details, alert ids) is escaped, and in real Chromium the hostile values below create no element,
no handler and no script, run nothing, and show as the text they are.

Whoever can write the database can write these values (a dataset name, a model registered under
any name, an imported event), so the pages treat every one of them as untrusted. Review snippets
and an alert's words reach no page (only `asaas alerts show` and `asaas disagreements` print
them, as text).
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.store.schema import events, reviews
from tests import chromium
from tests.events_alerts_data import Review, daily_series, write_predictions, write_reviews
from tests.helpers import ok

#: One value per field, each trying another way out of its context: a tag, a script end, an
#: attribute, a javascript: URL, a title end, SVG markup, a template expression.
HOSTILE = {
    "dataset": '<img src=x onerror="window.__xss=1">',
    "name": '</script><script>window.__xss=2</script>"\'',
    "product": '" onmouseover="window.__xss=3" x="',
    "model": "javascript:window.__xss=4",
    "title": '</title><svg onload="window.__xss=5"></svg>',
    "kind": "<b onclick=window.__xss=6>k</b>",
    "details": "]]><!-- --><svg/onload=window.__xss=7>",
    "language": "{{7*7}}<iframe src=javascript:1>",
}

#: What a page holds that a hostile value could have added: handlers, script, elements, URLs.
PROBE = """(function () {
  var all = document.querySelectorAll('*'), handlers = [];
  for (var i = 0; i < all.length; i++) {
    for (var j = 0; j < all[i].attributes.length; j++) {
      var name = all[i].attributes[j].name;
      if (name.indexOf('on') === 0) handlers.push(all[i].tagName + ' ' + name);
    }
  }
  var links = Array.prototype.map.call(document.querySelectorAll('[href], [src]'), function (e) {
    return e.getAttribute('href') || e.getAttribute('src'); });
  var scripts = Array.prototype.filter.call(document.querySelectorAll('script'), function (s) {
    return s.textContent.indexOf('asaas-probe') < 0; }).length;
  return {ran: window.__xss || null, handlers: handlers, links: links, scripts: scripts,
          foreign: document.querySelectorAll('img, iframe, b, svg:not(.plot), svg svg').length,
          text: document.body.textContent,
          tips: Array.prototype.map.call(document.querySelectorAll('svg title'), function (t) {
            return t.textContent; }).join('\\n')};
})()"""


def _assert_inert(page, *expected: str) -> dict:
    _, seen = chromium.load(page, PROBE)
    assert seen["ran"] is None, seen["ran"]
    assert seen["handlers"] == [] and seen["foreign"] == 0 and seen["scripts"] == 1
    assert all(link.startswith("#") for link in seen["links"]), seen["links"]
    for value in expected:
        assert value in seen["text"] + seen["tips"], value  # shown as the text it is
    return seen


def _hostile_db(db_path):
    rows = daily_series(HOSTILE["product"], datetime(2020, 1, 1), [20] * 90, [0.05] * 90, seed=5)
    rows += [Review(HOSTILE["product"], datetime(2020, 3, 10, 3, j), 0, "greed") for j in
             range(50)]
    store = write_reviews(db_path, rows, dataset=HOSTILE["dataset"],
                          names={HOSTILE["product"]: HOSTILE["name"]})
    with store.transaction() as conn:
        conn.execute(sa.update(reviews).values(language=HOSTILE["language"]))
        pid = conn.exec_driver_sql("SELECT id FROM products").scalar_one()
        conn.execute(sa.insert(events).values(
            id=1, product_id=pid, occurred_at=datetime(2020, 2, 1), kind=HOSTILE["kind"],
            title=HOSTILE["title"], source="manual",
            details=json.dumps({"note": HOSTILE["details"]}), created_at=utcnow()))
    write_predictions(store, HOSTILE["model"], lambda text, label: 0.2 if label == 0 else 0.9)
    return store


def test_the_timeline_page_carries_no_code(db_path, invoke, tmp_path):
    _hostile_db(db_path)
    target = tmp_path / "timeline.html"
    ok(invoke("timeline", HOSTILE["name"], "--dataset", HOSTILE["dataset"], "--language",
              HOSTILE["language"], "--html", str(target)))
    html = target.read_text(encoding="utf-8")
    assert "<script>window" not in html and "<img" not in html and "<iframe" not in html
    seen = _assert_inert(target, *HOSTILE.values())
    assert f"negative:{HOSTILE['product']}:2020-03-10" in seen["text"]  # the alert id too
    chromium.screenshot(target, "timeline-hostile-values")


def test_the_report_page_carries_no_code(db_path, invoke, tmp_path):
    _hostile_db(db_path)
    target = tmp_path / "report.html"
    ok(invoke("report", "--dataset", HOSTILE["dataset"], "--split", "train", "--html",
              str(target)))
    _assert_inert(target, HOSTILE["model"], HOSTILE["dataset"])


def test_the_probe_finds_what_it_looks_for(tmp_path):
    """The checks can fail: an unescaped page trips each of them."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><title>t</title></head><body>"
                    f"{HOSTILE['dataset']}<a href=\"javascript:1\">x</a><script>1</script>"
                    "<script>2</script>"
                    "</body></html>", encoding="utf-8")
    _, seen = chromium.load(page, PROBE)
    assert seen["ran"] == 1 and seen["handlers"] == ["IMG onerror"]
    assert seen["foreign"] == 1 and seen["links"] == ["x", "javascript:1"]
    assert seen["scripts"] == 2

