"""report.html in a real browser: headless Chromium renders the page, a probe script
measures every panel as laid out, and the test fails on an empty or broken one.

Debian's chromium at /usr/bin/chromium is required (CI installs it when missing: the test
does not skip). The probe is added to a copy of the page only: report.html itself carries
no script. Chromium runs on a file:// URL with every network feature off.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chaoslab.cli import main
from policies.resolve import POLICIES_FILE, resolve_policies, write_policies
from scenario.invariants import build_checkers
from scenario.report import RunMeta, build_report, write_report
from scenario.report_model import Workload
from tests.scenario.builder import Builder

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,2400")
MIN_DRAWN = 5  # paths with an area in a plotted panel: axes, ticks and at least one series

PROBE = """<script>
const panels = [...document.querySelectorAll('figure.panel')].map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const drawn = svg ? [...svg.querySelectorAll('path,use,rect')].filter(p => {
    const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length : 0;
  const state = f.querySelector('p.state');
  return {id: f.id, state: f.dataset.state, width: box.width, height: box.height, drawn,
          message: state ? state.textContent.trim() : ''};
});
const tables = [...document.querySelectorAll('table')].map(t => ({id: t.id,
  rows: t.rows.length}));
const head = document.querySelector('#headline');
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({panels, tables, headline: head ? head.innerText : '',
  warnings: [...document.querySelectorAll('.warning')].map(w => w.textContent)});
document.body.appendChild(pre);
</script>"""


def probe(page: Path, tmp: Path) -> dict[str, Any]:
    """What Chromium laid out for `page`: every panel's size, drawn marks and state."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; expected Debian's chromium "
                    "(apt-get install -y chromium), which CI installs")
    copy = tmp / "probe.html"
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                    encoding="utf-8")
    profile = tmp / "chromium-profile"
    done = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}",
                           "--dump-dom", copy.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    shutil.rmtree(profile, ignore_errors=True)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium rendered no probe (exit {done.returncode}): {done.stderr[-500:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def broken_panels(result: dict[str, Any]) -> list[str]:
    """Panels that are neither drawn (an SVG of real size with marks) nor say why not."""
    bad = []
    for p in result["panels"]:
        if p["state"] == "plotted":
            if p["width"] < 200 or p["height"] < 80 or p["drawn"] < MIN_DRAWN:
                bad.append(f"{p['id']}: plotted but {p['width']:.0f}x{p['height']:.0f} px "
                           f"with {p['drawn']} marks")
        elif not p["message"]:
            bad.append(f"{p['id']}: {p['state']} without a sentence saying why")
    return bad


@pytest.fixture(scope="module")
def sim_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real simulated run's report (switch_failure at x60 under resilient: breakers,
    queues, faults and failures all present)."""
    out = tmp_path_factory.mktemp("sim") / "run"
    assert main(["sim", "switch_failure", "--speed", "60", "--seeds", "1", "--policies",
                 "resilient", "--out", str(out)]) == 0
    return out / "report.html"


def test_every_panel_of_a_simulated_run_is_drawn(sim_page: Path, tmp_path: Path) -> None:
    result = probe(sim_page, tmp_path)
    names = [p["id"] for p in result["panels"]]
    assert names == ["panel-throughput", "panel-failures", "panel-latency", "panel-breaker",
                     "panel-queue"]
    assert broken_panels(result) == []
    plotted = {p["id"] for p in result["panels"] if p["state"] == "plotted"}
    assert {"panel-throughput", "panel-latency", "panel-queue"} <= plotted
    assert "invariants" in result["headline"] or "HOLDS" in result["headline"] \
        or "FAILS" in result["headline"]
    rows = {t["id"]: t["rows"] for t in result["tables"]}
    assert rows["kinds"] > 2 and rows["upstreams"] > 2 and rows["invariants"] > 1


def test_a_light_live_run_without_breakers_says_so(tmp_path: Path) -> None:
    out = tmp_path / "live"
    write_policies(resolve_policies("baseline"), out / POLICIES_FILE)  # no breaker in it
    meta = RunMeta(scenario="outage", mode="live", policies="baseline", seed=1,
                   duration_s=240.0, wall_s=4.0, description="an outage, live",
                   start="1403-12-29T18:00", workload=Workload(speed=60.0, scale=60.0))
    b = Builder(1)  # 60 requests: far below what a live comparison needs
    b.fault("upstream_outage", "shahkar", 20.0, 40.0)
    for i in range(60):
        failing = 20.0 <= i < 40.0 and i % 2 == 0
        b.call(f"c{i % 7}", "login", float(i), 0.2, "fail" if failing else "ok",
               error="http_503" if failing else "")
    history = b.history()
    report = build_report([history], meta, build_checkers({"availability": {}}))
    write_report(report, [history], out)
    result = probe(out / "report.html", tmp_path)
    assert broken_panels(result) == []
    states = {p["id"]: p for p in result["panels"]}
    assert states["panel-breaker"]["state"] == "no-breaker"
    assert "No breaker in this policy set" in states["panel-breaker"]["message"]
    assert states["panel-queue"]["state"] == "not-recorded"
    assert any("Too light to compare" in w for w in result["warnings"])


def test_the_probe_fails_on_an_empty_panel(sim_page: Path, tmp_path: Path) -> None:
    """The check can fail: a page whose throughput panel lost its drawing is caught."""
    page = sim_page.read_text(encoding="utf-8")
    start = page.index('<figure class="panel" id="panel-throughput"')
    svg_from = page.index("<svg", start)
    svg_to = page.index("</svg>", svg_from) + len("</svg>")
    broken = tmp_path / "broken.html"
    broken.write_text(page[:svg_from] + '<svg width="0" height="0"></svg>' + page[svg_to:],
                      encoding="utf-8")
    assert any(b.startswith("panel-throughput") for b in broken_panels(probe(broken, tmp_path)))
