"""Widget relay benchmarks, measured in the browser test harness: JupyterLab, headless Chromium,
the local service mounted in the Jupyter server, WebRTC on loopback.

* relay latency: from a message's arrival on a data channel in the page
  (``performance.timeOrigin + performance.now()``) to the kernel's receive time (``time.time()``),
  per event, for paced traffic (100 events/s). The source is a data channel between two peer
  connections inside the page (``VoiceChat._loopback_test``), whose messages enter the widget
  exactly where the call's ``oai-events`` messages do; a second row measures the same with the
  local service as the source (the kernel sends ``conversation.item.create`` every 10 ms and the
  service answers each with two events over the call's data channel);
* sustained throughput: a burst on the in-page data channel; events per second reaching Python,
  every event present and in order, against the baseline of the raw data-channel arrival rate in
  the page;
* the floor: the same latency for a bare anywidget (no rt_jupyter code) sending one message
  every 10 ms from its page to a plain ``on_msg`` handler — Jupyter's own comm path (page →
  JupyterLab's kernel connection → jupyter_server → ZeroMQ → ipykernel → ipywidgets);
* click → data channel open: from the Connect click to ``oai-events`` open (key, microphone, SDP
  exchange, ICE, DTLS, SCTP), over several connects.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Result

GROUP = "relay"

NOTEBOOK = (
    "from rt_jupyter import VoiceChat\n"
    "chat = VoiceChat(turn_detection=None, input_transcription=None)\n"
    "chat"
)

LOOPBACK = """
import asyncio, json
start = len(chat.log)
done_before = chat.log.count("rt.loopback_done")
chat._loopback_test({n}, {rate})
for _ in range(6000):
    if chat.log.count("rt.loopback_done") > done_before:
        break
    await asyncio.sleep(0.01)
idx = [i for i in range(start, len(chat.log))
       if chat.log.kinds[chat.log.kind_codes[i]] == "rt.loopback"]
order = [json.loads(chat.log.payloads[i])["i"] for i in idx]
print(json.dumps({{
    "n": {n},
    "count": len(idx),
    "in_order": order == list(range({n})),
    "browser": [chat.log.wall[i] for i in idx],
    "kernel": [chat.received_at[i] for i in idx],
}}))
"""

SERVICE = """
import asyncio, json
start = len(chat.log)
n = {n}
for i in range(n):
    chat.send({{"type": "conversation.item.create", "item": {{"type": "message", "role": "user",
        "content": [{{"type": "input_text", "text": f"paced {{i}}"}}]}}}})
    await asyncio.sleep(0.01)
kinds = ("conversation.item.added", "conversation.item.done")
for _ in range(1000):
    got = [i for i in range(start, len(chat.log))
           if chat.log.direction[i] == 0 and chat.log.kinds[chat.log.kind_codes[i]] in kinds]
    if len(got) >= 2 * n:
        break
    await asyncio.sleep(0.02)
print(json.dumps([(chat.received_at[i] - chat.log.wall[i]) * 1000 for i in got]))
"""

#: The floor under the relay: a bare anywidget (no rt_jupyter code on either side) whose page
#: sends a message every 10 ms with its send time, received by a plain ``on_msg`` handler.
BARE = '''import anywidget, time
class Bare(anywidget.AnyWidget):
    _esm = """
    export default { render({ model }) {
      model.on("msg:custom", (m) => {
        let i = 0;
        const tick = () => {
          model.send({ t: performance.timeOrigin + performance.now(), i });
          if (++i < m.n) setTimeout(tick, 1000 / m.rate);
        };
        tick();
      });
    } };
    """
bare = Bare()
bare_got = []
bare.on_msg(lambda _w, c, _b: bare_got.append((c["t"] / 1000.0, time.time())))'''

BARE_RUN = """
import asyncio, json
bare_got.clear()
bare.send({{"n": {n}, "rate": 100}})
for _ in range(6000):
    if len(bare_got) >= {n}:
        break
    await asyncio.sleep(0.01)
print(json.dumps([(k - b) * 1000 for b, k in bare_got]))
"""

TIMINGS = """
import json
print(json.dumps([r.event for r in chat.log.of_kind("rt.timing")]))
"""


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(quick: bool) -> dict[str, Any]:
    """Run the scenario in JupyterLab + Chromium; returns the raw numbers."""
    from tests.e2e.harness import (
        browser,
        kernel_json,
        notebook,
        open_notebook,
        run_all_cells,
        start_lab,
    )

    paced_n = 300 if quick else 1000
    burst_n = 5000 if quick else 20000
    service_n = 100 if quick else 300
    connects = 4 if quick else 10
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rtj-bench-") as tmp:
        lab = start_lab(
            Path(tmp),
            notebooks={"bench.ipynb": notebook(f"{NOTEBOOK}\n{BARE}\ndisplay(chat, bare)")},
            extension_config={"local_engines": "text"},
        )
        try:
            with browser(None) as chromium:
                context = chromium.new_context()
                page = open_notebook(context, lab, "bench.ipynb")
                kernel_id = lab.wait_for_kernel()
                run_all_cells(page)
                page.wait_for_selector(".rtj-connect:not([disabled])", timeout=60_000)
                kc = lab.kernel_client(kernel_id)
                for i in range(connects):
                    page.click(".rtj-connect")
                    page.wait_for_selector(".rtj[data-status=connected]", timeout=60_000)
                    if i < connects - 1:
                        page.click(".rtj-hangup")
                        page.wait_for_selector(".rtj[data-status=closed]", timeout=30_000)
                time.sleep(0.5)
                timings = kernel_json(kc, TIMINGS)
                out["click_to_open_ms"] = [t["click_to_open_ms"] for t in timings]
                out["paced"] = kernel_json(kc, LOOPBACK.format(n=paced_n, rate=100), timeout=600)
                out["bare_ms"] = kernel_json(kc, BARE_RUN.format(n=paced_n), timeout=600)
                out["burst"] = kernel_json(kc, LOOPBACK.format(n=burst_n, rate=0), timeout=600)
                out["service_ms"] = kernel_json(kc, SERVICE.format(n=service_n), timeout=600)
                out["clock_skew_ms"] = page.evaluate(
                    "() => Date.now() - (performance.timeOrigin + performance.now())"
                )
                context.close()
        finally:
            lab.stop()
    return out


def _latencies(run: dict[str, Any]) -> list[float]:
    return [(k - b) * 1000 for b, k in zip(run["browser"], run["kernel"], strict=True)]


def run(quick: bool) -> list[Result]:
    """The relay rows (skipped without Chromium and Playwright)."""
    from tests.e2e.harness import have_browser

    if not have_browser():
        return [
            Result(GROUP, "(skipped)", math.nan, "", notes="needs Playwright and /usr/bin/chromium")
        ]
    raw = measure(quick)
    rows: list[Result] = []
    opens = raw["click_to_open_ms"]
    warm = opens[1:] or opens
    rows.append(
        Result(
            GROUP,
            "click → data channel open (median of warm connects)",
            statistics.median(warm),
            "ms",
            higher_is_better=False,
            target="≤ 500 ms",
            met=statistics.median(warm) <= 500,
            notes=f"{len(warm)} connects on loopback; first (cold) {opens[0]:.0f} ms; "
            f"p95 {_pct(warm, 0.95):.0f} ms",
        )
    )
    paced = raw["paced"]
    lat = _latencies(paced)
    p50, p95 = _pct(lat, 0.5), _pct(lat, 0.95)
    skew = f"; page clock vs system clock {raw['clock_skew_ms']:+.1f} ms"
    rows.append(
        Result(
            GROUP,
            "relay latency p50 (data channel → Python)",
            p50,
            "ms",
            baseline="a bare anywidget message (page → on_msg)",
            baseline_value=_pct(raw["bare_ms"], 0.5),
            higher_is_better=False,
            target="≤ 10 ms",
            met=p50 <= 10,
            notes=f"{paced['count']} events at 100/s from an in-page data channel{skew}; "
            f"the baseline: {len(raw['bare_ms'])} messages at 100/s from a widget with no "
            f"rt_jupyter code (p95 {_pct(raw['bare_ms'], 0.95):.1f} ms), Jupyter's own path",
        )
    )
    rows.append(
        Result(
            GROUP,
            "relay latency p95 (data channel → Python)",
            p95,
            "ms",
            higher_is_better=False,
            notes=f"max {max(lat):.1f} ms",
        )
    )
    service = raw["service_ms"]
    rows.append(
        Result(
            GROUP,
            "relay latency p50, local service as the source",
            _pct(service, 0.5),
            "ms",
            higher_is_better=False,
            notes=f"{len(service)} events, 2 every 10 ms over the call's data channel; "
            f"p95 {_pct(service, 0.95):.1f} ms",
        )
    )
    burst = raw["burst"]
    browser_t, kernel_t, count = burst["browser"], burst["kernel"], burst["count"]
    lossless = count == burst["n"] and burst["in_order"]
    dc_rate = (count - 1) / max(browser_t[-1] - browser_t[0], 1e-9)
    relay_rate = (count - 1) / max(kernel_t[-1] - browser_t[0], 1e-9)
    burst_lat = _latencies(burst)
    rows.append(
        Result(
            GROUP,
            "sustained relay throughput (events/s into Python, no loss)",
            relay_rate if lossless else 0.0,
            "events/s",
            baseline="raw data-channel rate in the page",
            baseline_value=dc_rate,
            target="≥ 2,000 events/s",
            met=lossless and relay_rate >= 2000,
            notes=f"burst of {burst['n']} events of ~130 B; all present and in order: "
            f"{lossless}; latency under load p50 {_pct(burst_lat, 0.5):.0f} ms, "
            f"p95 {_pct(burst_lat, 0.95):.0f} ms",
        )
    )
    return rows
