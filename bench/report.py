"""Turn the per-run JSON lines into medians, min–max and chatserver / node-seed ratios."""

from __future__ import annotations

import statistics

# (scenario, field, label, which way is better): the rows of the table, in order.
METRICS = [
    ("connect", "connect_s", "connect+login N clients, s", "lower"),
    ("connect", "rss_per_client_kb", "RSS per logged-in client, KiB", "lower"),
    ("connect", "server_cpu_ms_per_login", "server CPU per login, ms", "lower"),
    ("direct", "msgs_per_s", "one-to-one messages/s", "higher"),
    ("direct", "p50_ms", "one-to-one p50 (closed loop), ms", "lower"),
    ("direct", "p99_ms", "one-to-one p99 (closed loop), ms", "lower"),
    ("direct", "server_cpu_us_per_msg", "server CPU per message, us", "lower"),
    ("direct", "lost", "one-to-one lost", "lower"),
    ("direct", "gen_cpu_frac", "generator CPU, cores (direct)", "info"),
    ("broadcast", "deliveries_per_s", "broadcast deliveries/s", "higher"),
    ("broadcast", "p50_ms", "broadcast p50 (closed loop), ms", "lower"),
    ("broadcast", "p99_ms", "broadcast p99 (closed loop), ms", "lower"),
    ("broadcast", "server_cpu_us_per_delivery", "server CPU per delivery, us", "lower"),
    ("broadcast", "lost", "broadcast lost deliveries", "lower"),
    ("broadcast", "gen_cpu_frac", "generator CPU, cores (broadcast)", "info"),
    ("latency", "p50_ms", "fixed-rate p50, ms", "lower"),
    ("latency", "p99_ms", "fixed-rate p99, ms", "lower"),
    ("latency", "p999_ms", "fixed-rate p99.9, ms", "lower"),
    ("latency", "lost", "fixed-rate lost", "lower"),
    ("capacity", "held", "clients held across a ping cycle", "higher"),
    ("capacity", "rss_per_client_kb", "RSS per client at capacity, KiB", "lower"),
]


def stats(values: list[float]) -> dict | None:
    """Median, min, max and count of the numeric values, or None when there are none."""
    nums = [v for v in values if isinstance(v, (int, float))]
    if not nums:
        return None
    return {"median": statistics.median(nums), "min": min(nums), "max": max(nums), "n": len(nums)}


def summarize(runs: list[dict], servers: tuple[str, str]) -> list[dict]:
    """One row per metric: stats per server and the ratio of medians (first server / second)."""
    rows = []
    for scenario, field, label, better in METRICS:
        per = {
            name: stats([r.get(field) for r in runs if r.get("scenario") == scenario and r.get("server") == name])
            for name in servers
        }
        if not any(per.values()):
            continue
        a, b = (per[s] for s in servers) if len(servers) == 2 else (None, None)
        ratio = a["median"] / b["median"] if a and b and b["median"] else None
        rows.append({"scenario": scenario, "metric": field, "label": label, "better": better, **per, "ratio": ratio})
    return rows


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}"


def _cell(s: dict | None) -> str:
    if not s:
        return "-"
    if s["n"] == 1:
        return _fmt(s["median"])
    return f"{_fmt(s['median'])} ({_fmt(s['min'])}–{_fmt(s['max'])})"


def table(rows: list[dict], servers: tuple[str, str]) -> str:
    """A Markdown table: metric, median (min–max) per server, ratio of medians."""
    ratio_head = f"ratio {servers[0]}/{servers[1]}" if len(servers) == 2 else "ratio"
    head = ["metric", *(f"{s} median (min–max)" for s in servers), ratio_head, "better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        cells = [r["label"], *(_cell(r[s]) for s in servers), ratio, r["better"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
