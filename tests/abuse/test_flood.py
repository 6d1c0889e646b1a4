"""Item 2: one client flooding as fast as it can is rate limited (429, dropped, socket kept), does
not slow another client's round trips, and does not grow server memory for good."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from abuse_support import chatserver_process, rss_kib

from support import PYTHON, RecordingClient

FLOODER = Path(__file__).with_name("flooder.py")
FLOOD_SECONDS = 8


def percentile(samples: list[float], fraction: float) -> float:
    """Return the sample below which ``fraction`` of the samples lie."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_a_flood_is_rate_limited_without_slowing_others_or_keeping_memory(tmp_path):
    with chatserver_process(tmp_path) as server:  # the default rate limit: 20/s, bursts of 40
        pid = server.process.pid
        measurer = RecordingClient(server.url)
        assert measurer.call("login", {"id": "measurer"})["code"] == "200"
        baseline = rss_kib(pid)
        flooder = subprocess.Popen([PYTHON, str(FLOODER), str(server.port), str(FLOOD_SECONDS)], stdout=subprocess.PIPE)
        try:
            time.sleep(1)  # let the flood get going
            round_trips, peak = [], baseline
            while flooder.poll() is None and len(round_trips) < 120:
                started = time.perf_counter()
                reply = measurer.call("message", {"recepient": "measurer", "data": "ping"})
                round_trips.append(time.perf_counter() - started)
                assert reply["code"] == "200"
                peak = max(peak, rss_kib(pid))
                time.sleep(0.05)  # 20 events/s: within the measurer's own rate limit
            tally = json.loads(flooder.communicate(timeout=30)[0])
        finally:
            flooder.kill()
            flooder.wait()
        time.sleep(2)
        after = rss_kib(pid)
        p50, p99 = percentile(round_trips, 0.5) * 1000, percentile(round_trips, 0.99) * 1000
        print(
            f"flood: {tally['sent']} events in {FLOOD_SECONDS} s, answers {tally['codes']}; "
            f"other client's round trip over {len(round_trips)} calls: p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal 50); "
            f"server RSS {baseline} KiB before, {peak} KiB peak, {after} KiB after"
        )
        assert len(round_trips) >= 50
        assert tally["codes"]["429"] > tally["codes"]["200"] > 0  # excess refused, the rest delivered
        assert sum(tally["codes"].values()) == tally["sent"]  # every event answered: the socket stayed up
        assert "dropping client" not in server.log()
        assert p99 < 250  # the goal is 50 ms; this bound only catches a server that stalls
        assert after - baseline < 20_000
        measurer.close()
