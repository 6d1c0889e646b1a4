"""Benchmark chatserver against the node-seed peer: alternate runs, medians, min–max and ratios.

Each run starts a fresh server (pinned to core 0) on a free loopback port, drives it with the
load generator (pinned to core 1) for one scenario, and stops it. Servers alternate within every
scenario and round (A B A B ...), so drift on the machine hits all alike. Prints a Markdown
table, then one JSON line; raw runs, server logs and SQLite files go to bench/out/<time>/.

chatserver runs in three variants (bench/servers.py): `chatserver` (history on, SQLite),
`chatserver-nohistory` and `chatserver-pg` (history on, PostgreSQL). The scenarios that send
messages (direct, broadcast, bystander) run all four servers by default; connect, latency and
capacity, which history does not touch or which the bystander covers, and room (a fan-out
like broadcast, against the book's rooms in the peer) run chatserver and
node-seed only: four capacity ramps would add about 50 minutes. `--servers` overrides both.
A fifth variant, `chatserver-metrics` (CHATSERVER_METRICS=on), runs only when `--servers` names
it: `--servers chatserver,chatserver-metrics` shows what the metrics cost. So does a sixth,
`chatserver-norecovery` (CHATSERVER_RECOVERY_WINDOW=0): `--servers chatserver,chatserver-norecovery`
shows what connection state recovery costs (on in every other variant), and a seventh,
`chatserver-storethread` (CHATSERVER_STORE_PROCESS=off): `--servers chatserver,chatserver-storethread`
shows what the store's child process saves the server against a store thread. The peer
`python-seed` (the seed's handlers on plain Flask-SocketIO and eventlet) runs only when named:
`--servers chatserver-nohistory,python-seed,node-seed` shows the floor of the stack.

    python3 bench/compare.py            # full: 3 rounds, capacity up to 20,000 clients once
    python3 bench/compare.py --quick    # a few minutes, for a smoke check

Exit status: 2 if a server fails to start, 1 if a run failed or a server died, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import machine  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402

SERVERS = servers.NAMES  # chatserver first, so the first ratio is chatserver / node-seed as ever
# What the scenarios that send messages run by default: chatserver-metrics and -norecovery only when asked for.
MESSAGE_SERVERS = tuple(name for name in SERVERS if name not in ("chatserver-metrics", "chatserver-norecovery",
                                                                "chatserver-storethread", "python-seed"))
SCENARIOS = ("connect", "direct", "broadcast", "room", "latency", "capacity", "bystander")
# Which servers each scenario runs unless --servers says otherwise: history stores messages, so
# the scenarios that send them compare all four; the others keep chatserver against node-seed.
SCENARIO_SERVERS = {
    "connect": ("chatserver", "node-seed"),
    "direct": MESSAGE_SERVERS,
    "broadcast": MESSAGE_SERVERS,
    # Rooms are the same fan-out with or without history: chatserver against the book's rooms.
    "room": ("chatserver", "node-seed"),
    "latency": ("chatserver", "node-seed"),
    "capacity": ("chatserver", "node-seed"),
    "bystander": MESSAGE_SERVERS,
}

# Generator arguments per scenario; see bench/loadgen/run.js for every option and default.
FULL = {
    "connect": ["--clients", "2000"],
    "direct": ["--clients", "500", "--messages", "200", "--window", "4"],
    "broadcast": ["--receivers", "1000", "--senders", "10", "--messages", "50", "--window", "2"],
    "room": ["--receivers", "4990", "--senders", "10", "--messages", "20", "--window", "2"],
    "latency": ["--clients", "100", "--rate", "1000", "--duration-s", "15"],
    "capacity": ["--step", "2500"],  # + --max from capacity_max(), --duration-s from --capacity-s
    "bystander": ["--writers", "200", "--window", "4", "--rate", "50", "--duration-s", "15"],
}
QUICK = {
    "connect": ["--clients", "500"],
    "direct": ["--clients", "200", "--messages", "50", "--window", "4"],
    "broadcast": ["--receivers", "200", "--senders", "5", "--messages", "20", "--window", "2"],
    "room": ["--receivers", "495", "--senders", "5", "--messages", "20", "--window", "2"],
    "latency": ["--clients", "50", "--rate", "500", "--duration-s", "5"],
    # A 5 s hold is not a full ping cycle: quick capacity only checks the ramp and broadcasts.
    "capacity": ["--step", "1000", "--hold-s", "5"],
    "bystander": ["--writers", "200", "--window", "4", "--rate", "50", "--duration-s", "5"],
}
HISTORY_ON = ("chatserver", "chatserver-pg")
MESSAGING = ("direct", "broadcast", "room", "bystander")  # the scenarios whose messages history stores
RUN_TIMEOUT_S = 1800  # the generator bounds itself; this only catches a hung generator
NOISY = 0.25  # cores of other load during a run above which the run is repeated (bounded)


def capacity_max(target: int) -> int:
    """`target` clients, or fewer where the open-file limit cannot hold them.

    Server and generator each need a descriptor per client; where RLIMIT_NOFILE's hard limit
    cannot be raised (this sandbox: 20,000, without CAP_SYS_RESOURCE) neither process can open
    `target` sockets, so the ramp stops 100 short of the limit instead of failing on it.
    """
    servers.raise_open_files()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return target
    return min(target, (hard - 100) // 100 * 100)


def generator_command(scenario: str, url: str, pid: int, args: list[str]) -> list[str]:
    """The load generator on core 1, with room for 20,000 sockets' worth of heap."""
    run_js = os.path.join(servers.BENCH, "loadgen", "run.js")
    node = ["node", "--max-old-space-size=4096", run_js, scenario, "--url", url, "--pid", str(pid)]
    return servers.pin(1) + node + args


def run_once(name: str, scenario: str, args: list[str], out_dir: str, tag: str, chatserver_dir: str) -> dict:
    """Start server `name`, run one scenario against it, stop it; the generator's JSON plus context."""
    quiet = machine.wait_until_quiet()
    log_path = os.path.join(out_dir, f"{tag}-{name}-{scenario}.log")
    with servers.Server(name, log_path, chatserver_dir) as srv:
        db_before = srv.db.backend_cpu() if srv.db else {}
        gen = subprocess.run(
            generator_command(scenario, srv.url, srv.pid, args),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            preexec_fn=servers.raise_open_files,
            check=False,
        )
        survived = srv.alive()
        db_after = srv.db.backend_cpu() if srv.db else {}
    lines = [ln for ln in gen.stdout.splitlines() if ln.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"scenario": scenario, "error": f"generator exit {gen.returncode}: {gen.stderr.strip()[-500:]}"}
    if gen.stderr.strip():
        with open(os.path.join(out_dir, f"{tag}-{name}-{scenario}.gen.log"), "w", encoding="utf-8") as f:
            f.write(gen.stderr)
    n_errors, first_errors = srv.error_lines()
    if name == "chatserver-pg":
        # PostgreSQL works for the server on whichever core is free: its CPU is the server's cost,
        # not other load. Measured over the generator's whole run (logins included).
        db_cpu = sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
        result["db_cpu_s"] = round(db_cpu, 3)
        if result.get("elapsed_s"):
            result["db_cpu_frac"] = round(db_cpu / result["elapsed_s"], 3)
        if result.get("other_cpu_frac") is not None and result.get("wall_s"):
            result["other_cpu_frac"] = round(max(0.0, result["other_cpu_frac"] - db_cpu / result["wall_s"]), 3)
    rows = (srv.db_info or {}).get("rows") or {}
    result.update(
        server=name,
        server_db=srv.db_info,
        stored_messages=rows.get("messages"),  # the store's table of history (chatserver/store)
        round=tag,
        machine_busy_before=quiet,
        server_survived=survived,
        server_stop_s=srv.stop_s,
        server_error_lines=n_errors,
        server_first_errors=first_errors,
    )
    return result


def sum_rows(db: dict) -> int:
    """All rows in all tables of a run's database (0 when it has none or was not read)."""
    return sum((db.get("rows") or {}).values())


def delivered_messages(r: dict) -> int:
    """Messages a run had delivered, each counted once however many sockets got it (what history stores)."""
    if r["scenario"] == "broadcast":
        return r.get("sent") or 0  # every one was delivered unless the run lost some (listed apart)
    if r["scenario"] == "room":
        # Only its ALL messages: the room's owner is a guest, and its room goes with it, history and all.
        return r.get("all_sent") or 0
    return (r.get("delivered") or 0) + (r.get("bystander_delivered") or 0)


def problems(runs: list[dict]) -> list[str]:
    """Everything a reader of the figures must know: failures, crashes, server errors, noise."""
    out = []
    for r in runs:
        where = f"{r['server']} {r['scenario']} round {r['round']}"
        if r.get("error"):
            out.append(f"{where}: run failed: {r['error']}")
        if not r.get("server_survived", True):
            out.append(f"{where}: server process died during the run")
        elif r.get("server_stop_s") is None:
            out.append(f"{where}: server still running 10 s after SIGTERM; killed")
        if r.get("server_error_lines"):
            first = r["server_first_errors"][0]
            out.append(f"{where}: {r['server_error_lines']} error lines in the server log, first: {first}")
        db = r.get("server_db") or {}
        if db.get("error"):
            out.append(f"{where}: {db['error']}")
        if r["server"] in HISTORY_ON and r["scenario"] in MESSAGING and not r.get("error"):
            if not sum_rows(db):
                out.append(f"{where}: history on, yet its {db.get('kind')} database holds no rows after the run")
            elif r.get("stored_messages") is not None and r["stored_messages"] < delivered_messages(r):
                out.append(f"{where}: history kept {r['stored_messages']} of {delivered_messages(r)} delivered")
        if r.get("first_failure"):
            out.append(f"{where}: capacity stopped: {r['first_failure']}")
        if (r.get("gen_cpu_frac") or 0) > 0.9:
            out.append(f"{where}: generator at {r['gen_cpu_frac']:.2f} of a core: it may have been the bottleneck")
        if (r.get("other_cpu_frac") or 0) > 0.2 or (r.get("machine_busy_before") or 0) > 0.15:
            out.append(f"{where}: other load on the machine ({r.get('other_cpu_frac')} cores during the run)")
    return out


def check_installed() -> None:
    """Fail early, with the fix, when the Node dependencies are missing."""
    for sub in ("loadgen", os.path.join("peers", "node-seed")):
        if not os.path.isdir(os.path.join(servers.BENCH, sub, "node_modules")):
            sys.exit(f"missing bench/{sub}/node_modules: run `npm ci --prefix bench/{sub}` first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--rounds", type=int, help="rounds of every scenario (default 3, quick 1)")
    parser.add_argument("--capacity-rounds", type=int, default=1, help="rounds of capacity, the slow one (default 1)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of the default")
    parser.add_argument(
        "--servers",
        help=f"servers for every scenario, in their order within a round (default: all of {','.join(SERVERS)} "
        "for direct, broadcast and bystander; chatserver,node-seed for the others)",
    )
    parser.add_argument(
        "--bystander-rate",
        type=float,
        help="the bystander pair's messages/s (default 50). Above a writer's share of a saturated server the pair "
        "falls behind and its latency measures that; well below it (5) it measures stalls of the loop",
    )
    parser.add_argument("--capacity-s", type=int, help="time bound of the capacity ramp (default 1500, quick 120)")
    parser.add_argument("--retries", type=int, default=1, help="repeats of a run disturbed by other load (default 1)")
    parser.add_argument(
        "--chatserver-dir",
        default=servers.ROOT,
        help="tree to run chatserver from (default: this checkout); a `git archive` snapshot with a COMMIT file "
        "naming its commit keeps a long run on one version while the checkout changes",
    )
    parser.add_argument("--out", help="directory for logs and raw results (default bench/out/<time>)")
    args = parser.parse_args(argv)

    check_installed()
    profile = dict(QUICK if args.quick else FULL)
    capacity_s = args.capacity_s or (120 if args.quick else 1500)
    cap_max = capacity_max(2000 if args.quick else 20000)
    profile["capacity"] = profile["capacity"] + ["--max", str(cap_max), "--duration-s", str(capacity_s)]
    if args.bystander_rate:
        rate_at = profile["bystander"].index("--rate") + 1
        profile["bystander"] = [
            *profile["bystander"][:rate_at],
            f"{args.bystander_rate:g}",
            *profile["bystander"][rate_at + 1 :],
        ]
    rounds = args.rounds or (1 if args.quick else 3)
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            parser.error(f"unknown scenario {s}")
    chosen = tuple(n for n in (args.servers or "").split(",") if n)
    for n in chosen:
        if n not in SERVERS:
            parser.error(f"unknown server {n} (known: {', '.join(SERVERS)})")
    plan = {s: chosen or SCENARIO_SERVERS[s] for s in scenarios}  # scenario -> servers, in order
    names = chosen or tuple(n for n in SERVERS if any(n in plan[s] for s in scenarios))  # the table's columns
    if "chatserver-pg" in names and (why := servers.postgres_problem()):
        sys.exit(
            f"chatserver-pg cannot run: {why}\nstart PostgreSQL on {servers.POSTGRES_URL}, or leave it out "
            f"with --servers (e.g. --servers chatserver,chatserver-nohistory,node-seed)"
        )
    out_dir = args.out or os.path.join(servers.BENCH, "out", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    info = machine.describe(servers.chatserver_python(args.chatserver_dir), args.chatserver_dir)
    print(f"# machine: {json.dumps(info)}", file=sys.stderr)

    runs = []  # one per server, scenario and round: what the table is made of
    attempts = []  # every run, disturbed repeats included: written to runs.jsonl
    try:
        for rnd in range(1, rounds + 1):
            for scenario in scenarios:
                if scenario == "capacity" and rnd > args.capacity_rounds:
                    continue
                for name in plan[scenario]:
                    # Capacity is not repeated: it takes minutes and counts clients, not CPU time.
                    for attempt in range(args.retries + 1 if scenario != "capacity" else 1):
                        tag = f"{rnd}.{attempt}"
                        result = run_once(name, scenario, profile[scenario], out_dir, tag, args.chatserver_dir)
                        print(json.dumps(result), file=sys.stderr, flush=True)
                        attempts.append(result)
                        if (result.get("other_cpu_frac") or 0) <= NOISY:
                            break
                    runs.append(result)  # the last attempt
    except servers.ServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        with open(os.path.join(out_dir, "runs.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in attempts)

    rows = report.summarize(runs, names)
    issues = problems(runs)
    mode = "quick" if args.quick else "full"
    print(f"{' / '.join(names)} — {mode}, {rounds} round(s); {info['cpu']}, {info['nproc']} cores")
    print(f"raw runs and server logs: {out_dir}\n")
    print(report.table(rows, names))
    if issues:
        print("\nProblems seen:\n" + "\n".join(f"- {p}" for p in issues))
    summary = {
        "mode": mode,
        "rounds": rounds,
        "machine": info,
        "profile": {s: profile[s] for s in scenarios},
        "servers": plan,
        "rows": rows,
        "problems": issues,
    }
    print("\n" + json.dumps(summary))
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    failed = any(r.get("error") or not r.get("server_survived", True) for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
