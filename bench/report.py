"""Turn the per-run JSON lines into medians, min–max and the ratios that matter.

The ratios: each chatserver variant against node-seed, and history on (SQLite, PostgreSQL)
against history off. Only pairs whose two servers both ran get a column.
"""

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
    ("direct", "db_cpu_frac", "PostgreSQL CPU, cores (direct)", "info"),
    ("direct", "gen_cpu_frac", "generator CPU, cores (direct)", "info"),
    ("broadcast", "deliveries_per_s", "broadcast deliveries/s", "higher"),
    ("broadcast", "p50_ms", "broadcast p50 (closed loop), ms", "lower"),
    ("broadcast", "p99_ms", "broadcast p99 (closed loop), ms", "lower"),
    ("broadcast", "server_cpu_us_per_delivery", "server CPU per delivery, us", "lower"),
    ("broadcast", "lost", "broadcast lost deliveries", "lower"),
    ("broadcast", "db_cpu_frac", "PostgreSQL CPU, cores (broadcast)", "info"),
    ("broadcast", "gen_cpu_frac", "generator CPU, cores (broadcast)", "info"),
    ("room", "deliveries_per_s", "room of N: groupchat deliveries/s", "higher"),
    ("room", "all_deliveries_per_s", "same N sockets: ALL deliveries/s", "higher"),
    ("room", "room_vs_all", "room deliveries/s / ALL deliveries/s", "higher"),
    ("room", "server_cpu_us_per_delivery", "server CPU per room delivery, us", "lower"),
    ("room", "p99_ms", "room p99 (closed loop), ms", "lower"),
    ("room", "lost", "room lost deliveries", "lower"),
    ("latency", "p50_ms", "fixed-rate p50, ms", "lower"),
    ("latency", "p99_ms", "fixed-rate p99, ms", "lower"),
    ("latency", "p999_ms", "fixed-rate p99.9, ms", "lower"),
    ("latency", "lost", "fixed-rate lost", "lower"),
    ("capacity", "held", "clients held across a ping cycle", "higher"),
    ("capacity", "rss_per_client_kb", "RSS per client at capacity, KiB", "lower"),
    ("bystander", "bystander_p50_ms", "bystander p50 under the writers' load, ms", "lower"),
    ("bystander", "bystander_p99_ms", "bystander p99 under the writers' load, ms", "lower"),
    ("bystander", "bystander_max_ms", "bystander max, ms", "lower"),
    ("bystander", "msgs_per_s", "writers' one-to-one messages/s (bystander)", "higher"),
    ("bystander", "server_cpu_us_per_msg", "server CPU per message (bystander), us", "lower"),
    ("bystander", "lost", "bystander run lost (writers and pair)", "lower"),
    ("bystander", "errors", "bystander run errors (refused, dropped)", "lower"),
    ("bystander", "db_cpu_frac", "PostgreSQL CPU, cores (bystander)", "info"),
    ("bystander", "gen_cpu_frac", "generator CPU, cores (bystander)", "info"),
]

# (numerator, denominator): each chatserver variant against the seed, history on against off.
RATIO_PAIRS = [
    ("chatserver", "node-seed"),
    ("chatserver-nohistory", "node-seed"),
    ("chatserver-pg", "node-seed"),
    ("chatserver", "chatserver-nohistory"),
    ("chatserver-pg", "chatserver-nohistory"),
    ("chatserver-metrics", "chatserver"),
    ("chatserver", "chatserver-norecovery"),
    ("chatserver", "chatserver-storethread"),
    ("chatserver", "python-seed"),
    ("chatserver-nohistory", "python-seed"),
    ("python-seed", "node-seed"),
]


def ratio_pairs(servers: tuple[str, ...]) -> list[tuple[str, str]]:
    """The RATIO_PAIRS among `servers`; with none of them and two servers, first / second as before."""
    pairs = [(a, b) for a, b in RATIO_PAIRS if a in servers and b in servers]
    if not pairs and len(servers) == 2:
        pairs = [(servers[0], servers[1])]
    return pairs


def stats(values: list[float]) -> dict | None:
    """Median, min, max and count of the numeric values, or None when there are none."""
    nums = [v for v in values if isinstance(v, (int, float))]
    if not nums:
        return None
    return {"median": statistics.median(nums), "min": min(nums), "max": max(nums), "n": len(nums)}


def summarize(runs: list[dict], servers: tuple[str, ...]) -> list[dict]:
    """One row per metric: stats per server and the ratios of medians (`ratios`, "a/b" -> a / b).

    `ratio` is the first of them (chatserver / node-seed when both ran), as before there were more.
    """
    rows = []
    pairs = ratio_pairs(servers)
    for scenario, field, label, better in METRICS:
        per = {
            name: stats([r.get(field) for r in runs if r.get("scenario") == scenario and r.get("server") == name])
            for name in servers
        }
        if not any(per.values()):
            continue
        ratios = {}
        for a, b in pairs:
            sa, sb = per[a], per[b]
            ratios[f"{a}/{b}"] = sa["median"] / sb["median"] if sa and sb and sb["median"] else None
        ratio = next(iter(ratios.values()), None)
        row = {"scenario": scenario, "metric": field, "label": label, "better": better, **per}
        rows.append({**row, "ratio": ratio, "ratios": ratios})
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


def table(rows: list[dict], servers: tuple[str, ...]) -> str:
    """A Markdown table: metric, median (min–max) per server, one column per ratio of medians."""
    keys = [f"{a}/{b}" for a, b in ratio_pairs(servers)]
    head = ["metric", *(f"{s} median (min–max)" for s in servers), *(f"ratio {k}" for k in keys), "better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratios = ["-" if r["ratios"].get(k) is None else f"{r['ratios'][k]:.2f}×" for k in keys]
        cells = [r["label"], *(_cell(r[s]) for s in servers), *ratios, r["better"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
