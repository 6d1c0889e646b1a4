"use strict";
// Runs one benchmark scenario against a Socket.IO chat server on loopback and prints ONE JSON
// line. Usage: node run.js SCENARIO --url http://127.0.0.1:PORT [--pid SERVER_PID] [--key value]...
// Scenarios: connect, direct, broadcast, room, latency, capacity, bystander. --pid lets it read the server's
// RSS and CPU from /proc. Every scenario is bounded in count (its sizes) and time (--duration-s).

const DEFAULTS = {
  common: {
    url: "http://127.0.0.1:3000",
    pid: 0,
    prefix: "", // login id prefix; random by default so runs never collide
    concurrency: 50, // connects in flight
    "timeout-s": 30, // per connect + login
    "login-deadline-s": 180, // for all logins of a scenario
    transports: "polling,websocket", // the browser default
    client: "lean", // lib/lean.js; "sio" = socket.io-client, to cross-check it
    size: 64, // characters of `data` per message
    "drain-s": 10,
  },
  connect: { clients: 2000 },
  direct: { clients: 500, messages: 200, window: 4, "duration-s": 60 },
  broadcast: { receivers: 1000, senders: 10, messages: 100, window: 2, "duration-s": 60 },
  // broadcast's fan-out to a room of all its sockets, then to ALL: a room of 5,000 against ALL.
  room: { receivers: 4990, senders: 10, messages: 50, window: 2, "duration-s": 60 },
  latency: { clients: 100, rate: 1000, "duration-s": 15 },
  capacity: { max: 20000, step: 2500, "check-timeout-s": 60, "hold-s": 0, "duration-s": 900 },
  // 200 writers at full speed, one pair A -> B at 50 messages/s from 1 s in: the pair's latency.
  bystander: { writers: 200, window: 4, rate: 50, "warmup-s": 1, "duration-s": 15 },
};

const SCENARIOS = ["connect", "direct", "broadcast", "room", "latency", "capacity", "bystander"];

function parseArgs(argv) {
  const scenario = argv[0];
  if (!SCENARIOS.includes(scenario)) {
    throw new Error(`usage: node run.js {${SCENARIOS.join("|")}} [--key value]...`);
  }
  const opts = { ...DEFAULTS.common, ...DEFAULTS[scenario] };
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (!(key in opts) || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    opts[key] = typeof opts[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
  }
  const url = new URL(opts.url);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) && !url.hostname.startsWith("127.")) {
    throw new Error(`refusing to load ${url.hostname}: loopback only`);
  }
  // camelCase view for the scenarios
  const o = {};
  for (const [k, v] of Object.entries(opts)) o[k.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v;
  o.prefix = o.prefix || Math.random().toString(36).slice(2, 6) + "-";
  o.connect = {
    concurrency: o.concurrency,
    timeoutMs: o.timeoutS * 1000,
    deadlineMs: o.loginDeadlineS * 1000,
    transports: o.transports.split(","),
    client: o.client,
  };
  return { scenario, o };
}

async function main() {
  const { scenario, o } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  // A hard stop a little past the scenario's own bounds, in case a bound is missed.
  const guard = setTimeout(() => {
    console.log(JSON.stringify({ scenario, error: "generator hard time limit reached" }));
    process.exit(3);
  }, ((o.durationS || 60) + o.loginDeadlineS + o.drainS + 120) * 1000);
  guard.unref();
  let result;
  try {
    result = await require(`./scenarios/${scenario}`).run(o);
  } catch (err) {
    result = { error: String((err && err.stack) || err) };
  }
  const line = { scenario, url: o.url, ...result, elapsed_s: (Date.now() - started) / 1000 };
  console.log(JSON.stringify(line));
  // Sockets are closed; exit without waiting for their timers to run out.
  process.exit(result.error ? 1 : 0);
}

main();
