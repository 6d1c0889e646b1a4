"""What machine the benchmark ran on, and waiting until it is quiet before a run."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def _first_line(cmd: list[str]) -> str | None:
    """First line a command prints, or None when it is missing or fails."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip() if out.returncode == 0 else ""
    return text.splitlines()[0] if text else None


def cpu_model() -> str | None:
    """The CPU model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def describe(python: str, chatserver_dir: str) -> dict:
    """Cores, CPU, memory, kernel and the versions of what is being compared."""
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(f.readline().split()[1])
    versions = _first_line(
        [
            python,
            "-c",
            "import importlib.metadata as m, sys; print(sys.version.split()[0], *("
            "f'{p}={m.version(p)}' for p in ('Flask-SocketIO', 'python-socketio', 'python-engineio', 'eventlet')))",
        ]
    )
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "node": _first_line(["node", "--version"]),
        "chatserver_python": versions,
        "bench_commit": _first_line(["git", "-C", here, "describe", "--always", "--dirty"]),
        "chatserver_dir": chatserver_dir,
        "chatserver_commit": _snapshot_commit(chatserver_dir)
        or _first_line(["git", "-C", chatserver_dir, "describe", "--always", "--dirty"]),
    }


def _snapshot_commit(directory: str) -> str | None:
    """The commit a `git archive` snapshot was made from (it writes no .git; we leave a COMMIT file)."""
    try:
        with open(os.path.join(directory, "COMMIT"), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _busy_and_total() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs since boot (iowait counts as idle)."""
    with open("/proc/stat", encoding="utf-8") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    total = sum(fields)
    return total - fields[3] - fields[4], total


def wait_until_quiet(threshold: float = 0.15, max_wait_s: float = 60.0) -> float:
    """Wait (bounded) until the machine is under `threshold` busy over one second; return that share.

    Other work on a 2-core machine steals the server's or the generator's core and skews a run.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        b0, t0 = _busy_and_total()
        time.sleep(1.0)
        b1, t1 = _busy_and_total()
        share = (b1 - b0) / max(1, t1 - t0)
        if share < threshold or time.monotonic() >= deadline:
            return round(share, 3)
