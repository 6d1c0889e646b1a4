"""Cluster figures: one-to-one messages/s, broadcast deliveries/s and server CPU per message.

Layouts: 1 node, 1 node + Redis, 2 nodes + Redis, all storing on PostgreSQL. Everything runs on loopback and
stops after a bounded time (about 8 s per run, six runs). Usage, from the repository root:

    .venv/bin/python bench/cluster_figures.py [--seconds 5] [--pairs 8] [--receivers 24]

The clients speak Socket.IO v5 frames over raw WebSockets (websocket-client), one thread per
socket, spread over load-generator processes, so that python-socketio's client overhead does
not hide the server's. CPU is read from /proc/PID/stat (utime + stime) of each server process
and of redis-server over the measured window; on a 2-core machine the load generator shares
the cores, so totals are a floor and CPU per message is the figure that carries to bigger hosts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from postgres_support import SHARED_PORT, PostgresServer, _listening, fresh_database  # noqa: E402

from support import ServerProcess, chatserver_command, free_port  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARMUP = 1.5  # seconds of load before the measured window: logins done, queues flowing


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` and its children (the store's process)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of /proc/PID/stat
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            total += sum(cpu_seconds(int(child)) for child in children.read().split())
    return total


class RawSocket:
    """A Socket.IO v5 client on one WebSocket, speaking the text frames itself."""

    def __init__(self, port: int) -> None:
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
                                              timeout=10)
        assert self.ws.recv().startswith("0")  # Engine.IO open
        self.ws.send("40")  # Socket.IO connect to "/"
        while not self.ws.recv().startswith("40"):
            pass

    def emit(self, event: str, data: dict, ack: int | None = None) -> None:
        """Send an event, asking for an acknowledgement when ``ack`` is a number."""
        self.ws.send(f"42{'' if ack is None else ack}{json.dumps([event, data])}")

    def receive(self) -> tuple[str, object]:
        """Return the next ("event name" or "ack", payload), answering Engine.IO pings on the way."""
        while True:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
            elif frame.startswith("42"):
                # With recovery on (the default) an event carries its offset as a last argument.
                name, payload = json.loads(frame[2:])[:2]
                return name, payload
            elif frame.startswith("43"):
                return "ack", None

    def login(self, user: str) -> None:
        """Log in and wait for the answer."""
        self.emit("login", {"id": user}, ack=0)
        while self.receive()[0] != "ack":
            pass


@dataclass
class SocketPlan:
    """What one load socket does: its node port, its user, whom it sends to (or None), its window."""

    port: int
    user: str
    recipient: str | None
    window: int


def drive(plan: SocketPlan, start_at: float, measure_from: float, measure_to: float, results) -> None:
    """Run one socket until ``measure_to``: keep ``window`` messages in flight, count what arrives."""
    sock = RawSocket(plan.port)
    sock.login(plan.user)
    while time.time() < start_at:
        time.sleep(0.01)
    sock.ws.settimeout(0.5)
    in_flight = sent = received = 0
    while time.time() < measure_to:
        while plan.recipient and in_flight < plan.window:
            # A broadcast gets no `response`, so every send asks for an ack to pace the window.
            sock.emit("message", {"recepient": plan.recipient, "data": "x" * 32}, ack=1)
            in_flight += 1
        try:
            kind, _ = sock.receive()
        except websocket.WebSocketTimeoutException:
            continue
        now = time.time()
        if kind == "ack":
            in_flight -= 1
            sent += measure_from <= now < measure_to
        elif kind == "message":
            received += measure_from <= now < measure_to
    sock.ws.close()
    results.put((sent, received))


def load_process(plans: list[SocketPlan], start_at: float, measure_from: float, measure_to: float, results) -> None:
    """One load-generator process: a thread per socket."""
    import threading

    threads = [threading.Thread(target=drive, args=(plan, start_at, measure_from, measure_to, results))
               for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def one_to_one_plans(ports: list[int], pairs: int, window: int) -> list[SocketPlan]:
    """Pairs sending to each other; with two nodes, the two ends of a pair are on different nodes."""
    plans = []
    for pair in range(pairs):
        a, b = f"a{pair}", f"b{pair}"
        plans.append(SocketPlan(ports[pair % len(ports)], a, b, window))
        plans.append(SocketPlan(ports[(pair + 1) % len(ports)], b, a, window))
    return plans


def broadcast_plans(ports: list[int], senders: int, receivers: int, window: int) -> list[SocketPlan]:
    """A few senders of ALL, many listeners, spread evenly over the nodes."""
    plans = [SocketPlan(ports[index % len(ports)], f"s{index}", "ALL", window) for index in range(senders)]
    plans += [SocketPlan(ports[index % len(ports)], f"r{index}", None, 0) for index in range(receivers)]
    return plans


def run_load(plans: list[SocketPlan], pids: dict[str, int], seconds: float, processes: int) -> dict:
    """Drive ``plans`` over ``processes`` load processes; return counts and CPU of each server process."""
    start_at = time.time() + 2.0 + len(plans) * 0.02  # every socket connected and logged in by then
    measure_from = start_at + WARMUP
    measure_to = measure_from + seconds
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=load_process,
                                       args=(plans[index::processes], start_at, measure_from, measure_to, results))
               for index in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, measure_from - time.time()))
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(max(0.0, measure_to - time.time()))
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    totals = [results.get(timeout=60) for _ in plans]
    for worker in workers:
        worker.join(30)
    return {
        "sent": sum(sent for sent, _ in totals),
        "received": sum(received for _, received in totals),
        "cpu": {name: cpu_after[name] - cpu_before[name] for name in pids},
        "seconds": seconds,
    }


class Layout:
    """Servers for one measurement: ``nodes`` chat nodes, with a fresh redis-server when ``redis``."""

    def __init__(self, name: str, nodes: int, redis: bool, log_dir: Path, database_url: str) -> None:
        self.name, self.node_count, self.use_redis, self.log_dir = name, nodes, redis, log_dir
        self.database_url = database_url
        self.redis: subprocess.Popen | None = None
        self.nodes: list[ServerProcess] = []

    def __enter__(self) -> Layout:
        # Every layout on PostgreSQL (nodes of a cluster must share one), so that they differ by Redis only.
        env = {"CHATSERVER_RATE_LIMIT_PER_SECOND": "0", "CHATSERVER_LOG_LEVEL": "WARNING",
               "CHATSERVER_DATABASE_URL": self.database_url}
        if self.use_redis:
            port = free_port()
            self.redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no"], stdout=subprocess.DEVNULL)
            env["CHATSERVER_MESSAGE_QUEUE"] = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.3)
        for _ in range(self.node_count):
            port = free_port()
            self.nodes.append(ServerProcess(chatserver_command(port), port, env=env, log_dir=self.log_dir).start())
        return self

    def __exit__(self, *exc_info) -> None:
        for node in self.nodes:
            node.stop()
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()

    @property
    def ports(self) -> list[int]:
        """The nodes' ports."""
        return [node.port for node in self.nodes]

    @property
    def pids(self) -> dict[str, int]:
        """Every server process whose CPU counts: the nodes, and redis-server."""
        pids = {f"node{index}": node.process.pid for index, node in enumerate(self.nodes)}
        if self.redis is not None:
            pids["redis"] = self.redis.pid
        return pids


@contextlib.contextmanager
def postgres():
    """The port of a PostgreSQL: the one on 5432 when it runs, else a throwaway one of our own."""
    if _listening(SHARED_PORT):
        yield SHARED_PORT
        return
    with PostgresServer() as server:
        yield server.port


def measure(args: argparse.Namespace) -> list[dict]:
    """Run every layout with both patterns; return one row per run."""
    rows = []
    layouts = [("1 node", 1, False), ("1 node + Redis", 1, True), ("2 nodes + Redis", 2, True)]
    with tempfile.TemporaryDirectory(prefix="cluster-figures-") as log_dir, postgres() as port:
        for name, nodes, redis in layouts:
            for pattern in ("one-to-one", "broadcast"):
                with fresh_database(port) as url, Layout(name, nodes, redis, Path(log_dir), url) as layout:
                    if pattern == "one-to-one":
                        plans = one_to_one_plans(layout.ports, args.pairs, args.window)
                    else:
                        plans = broadcast_plans(layout.ports, args.senders, args.receivers, args.window)
                    result = run_load(plans, layout.pids, args.seconds, args.processes)
                rows.append({"layout": name, "pattern": pattern, **result})
                print(format_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def format_row(row: dict) -> str:
    """One markdown table row: rates, and CPU microseconds per delivered message."""
    seconds, received = row["seconds"], max(row["received"], 1)
    node_cpu = sum(cpu for name, cpu in row["cpu"].items() if name.startswith("node"))
    redis_cpu = row["cpu"].get("redis")
    per_message = f"{node_cpu / received * 1e6:.0f}"
    per_redis = "—" if redis_cpu is None else f"{redis_cpu / received * 1e6:.0f}"
    return (f"| {row['layout']} | {row['pattern']} | {row['sent'] / seconds:,.0f} | {row['received'] / seconds:,.0f} "
            f"| {node_cpu / seconds * 100:.0f} % | {per_message} | {per_redis} |")


TABLE_HEAD = (
    "| layout | pattern | sent/s | delivered/s | node CPU | node CPU µs per delivery | Redis CPU µs per delivery |\n"
    "|---|---|---:|---:|---:|---:|---:|"
)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (default 5)")
    parser.add_argument("--pairs", type=int, default=8, help="one-to-one: pairs of sockets (default 8)")
    parser.add_argument("--senders", type=int, default=2, help="broadcast: sockets sending ALL (default 2)")
    parser.add_argument("--receivers", type=int, default=24, help="broadcast: listening sockets (default 24)")
    parser.add_argument("--window", type=int, default=16, help="messages in flight per sending socket (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    args = parser.parse_args()
    rows = measure(args)
    print(TABLE_HEAD)
    for row in rows:
        print(format_row(row))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
