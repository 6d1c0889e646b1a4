"use strict";
// capacity: how many concurrent logged-in clients one server process holds. Ramp up in steps
// (a broadcast must reach every client after each step) up to `max`, stopping at the first
// failure; then hold them all across a full ping cycle (pingInterval + pingTimeout, so a
// server too busy to ping or answer pongs shows) and check a last broadcast reaches them all.

const { connectMany, closeAll } = require("../lib/clients");
const { rssKb, snapshot, usage } = require("../lib/procstat");
const { quiesce, round, sleep } = require("../lib/util");

async function run(o) {
  const ids = Array.from({ length: o.max }, (_, i) => `${o.prefix}k${i}`);
  const socks = [];
  const seen = new Int32Array(o.max).fill(-1); // last check round each client saw
  let disconnects = 0;
  let checkRound = 0;
  let firstFailure = null;
  let reached = 0;
  const rssBefore = rssKb(o.pid);
  const deadline = performance.now() + o.durationS * 1000;
  const a = snapshot(o.pid);

  /** Broadcast a marker from the first client; how many clients got it within the timeout. */
  async function broadcastCheck() {
    const k = ++checkRound;
    const alive = socks.filter((s) => s && s.connected);
    if (!alive.length) return 0;
    alive[0].emit("message", { recepient: "ALL", data: `cap|${k}` });
    const end = performance.now() + o.checkTimeoutS * 1000;
    let got = 0;
    while (performance.now() < end) {
      got = 0;
      for (let i = 0; i < socks.length; i++) if (seen[i] === k) got++;
      if (got >= alive.length) break;
      await sleep(100);
    }
    return got;
  }

  for (let level = Math.min(o.step, o.max); ; level = Math.min(level + o.step, o.max)) {
    const from = socks.length;
    const conn = await connectMany(o.url, ids.slice(from, level), {
      ...o.connect,
      stopOnFailure: true,
      deadlineMs: Math.max(0, deadline - performance.now()),
    });
    conn.sockets.forEach((s, j) => {
      socks.push(s);
      if (!s) return;
      const i = from + j;
      s.on("message", (m) => {
        if (typeof m.data === "string" && m.data.startsWith("cap|")) seen[i] = Number(m.data.slice(4));
      });
      s.on("disconnect", () => disconnects++);
    });
    if (conn.failures || conn.ok < level - from) {
      const bound = conn.firstError === "time bound reached" ? ` (--duration-s ${o.durationS})` : "";
      firstFailure = `at ${from + conn.ok + 1} clients: ${conn.firstError}${bound}`;
      break;
    }
    const got = await broadcastCheck();
    if (got < level) {
      firstFailure = `broadcast at ${level} clients reached ${got}`;
      break;
    }
    reached = level;
    if (level >= o.max || performance.now() >= deadline) break;
  }
  const rampS = round(snapshot(o.pid).wall - a.wall);
  await quiesce(o.pid);
  const rss = rssKb(o.pid);

  // Hold whoever is logged in across a full ping cycle, then check they all still get a message.
  const aliveBefore = socks.filter((s) => s && s.connected).length;
  const disconnectsBefore = disconnects;
  const holdS = o.holdS || pingCycleS(socks.find((s) => s));
  await sleep(holdS * 1000);
  const aliveAfter = socks.filter((s) => s && s.connected).length;
  const held = await broadcastCheck();
  const dropped = disconnects - disconnectsBefore; // before closeAll, which fires "disconnect"
  const b = snapshot(o.pid);
  closeAll(socks);

  return {
    max: o.max,
    step: o.step,
    reached,
    first_failure: firstFailure,
    logged_in_before_hold: aliveBefore,
    hold_s: holdS,
    disconnects_during_hold: dropped,
    connected_after_hold: aliveAfter,
    held,
    ramp_s: rampS,
    rss_kb: rss,
    rss_per_client_kb: rssBefore === null || !aliveBefore ? null : round((rss - rssBefore) / aliveBefore, 1),
    ...usage(a, b),
  };
}

/** pingInterval + pingTimeout the server announced in its open packet (+2 s), in seconds. */
function pingCycleS(socket) {
  // The lean client keeps the open packet; socket.io-client keeps it on its engine.
  const engine = socket && socket.io && socket.io.engine;
  const open = (socket && socket.engineOpen) || (engine && { pingInterval: engine._pingInterval, pingTimeout: engine._pingTimeout });
  const interval = open && open.pingInterval > 0 ? open.pingInterval : 25000;
  const timeout = open && open.pingTimeout > 0 ? open.pingTimeout : 20000;
  return (interval + timeout) / 1000 + 2;
}

module.exports = { run };
