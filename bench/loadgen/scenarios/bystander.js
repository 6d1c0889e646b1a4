"use strict";
// bystander: does heavy traffic hold up everyone else? W logged-in writers send one-to-one
// messages to random other writers as fast as a window of `window` undelivered messages each
// allows (closed loop, like direct) for duration-s. Meanwhile one separate logged-in pair, A and
// B, sends A -> B at a fixed low `rate` (open loop: sends follow the clock), starting warmup-s
// after the writers, once they are at full speed. The bystander's send -> delivery time (A's
// send to B's receipt, one clock: both live in this process) shows how long the server's event
// loop is held up: by a blocking database write, say, when every message is stored.
// Reports the bystander's p50/p99/max, the writers' delivered messages/s, lost messages, errors
// (refused messages and dropped sockets) and server CPU per message.

const { loginAll, closeAll } = require("../lib/clients");
const { Histogram } = require("../lib/histogram");
const { snapshot, usage } = require("../lib/procstat");
const { quiesce, otherThan, payload, parsePayload, round, sleep } = require("../lib/util");

async function run(o) {
  const N = o.writers;
  const W = o.window;
  if (N < 2) return { error: "--writers must be at least 2" };
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}w${i}`);
  const idA = `${o.prefix}bya`;
  const idB = `${o.prefix}byb`;
  const { sockets: all, error } = await loginAll(o.url, [...ids, idA, idB], o.connect);
  if (error) return { error };
  const socks = all.slice(0, N);
  const [A, B] = all.slice(N);
  await quiesce(o.pid);

  const hist = new Histogram(); // writers
  const by = new Histogram(); // the bystander
  const lag = new Histogram(); // how late A sent against its schedule
  const outstanding = new Int32Array(N);
  const refused = {};
  let errors = 0;
  let totalSent = 0;
  let delivered = 0;
  let failed = 0;
  let lastDelivery = 0;
  let bySent = 0;
  let byDelivered = 0;
  let byFailed = 0;
  let stopped = false;

  function refuse(code) {
    refused[code] = (refused[code] || 0) + 1;
    errors++;
  }
  function pump(i) {
    while (outstanding[i] < W && !stopped) {
      socks[i].emit("message", { recepient: ids[otherThan(i, N)], data: payload(i, totalSent, o.size) });
      outstanding[i]++;
      totalSent++;
    }
  }
  socks.forEach((s, i) => {
    s.on("message", (m) => {
      const [from, , t] = parsePayload(m.data);
      const now = performance.now();
      hist.record(now - t);
      delivered++;
      lastDelivery = now;
      outstanding[from]--;
      pump(from);
    });
    s.on("response", (r) => {
      if (r.command !== "message" || r.code === "200") return;
      refuse(r.code); // never delivered: free its window slot
      failed++;
      outstanding[i]--;
      pump(i);
    });
  });
  const bySlowest = []; // per second of the bystander's schedule: its slowest message, ms
  B.on("message", (m) => {
    const [, q, t] = parsePayload(m.data);
    const ms = performance.now() - t;
    by.record(ms);
    const s = Math.floor(q / o.rate);
    bySlowest[s] = Math.max(bySlowest[s] || 0, Math.round(ms));
    byDelivered++;
  });
  A.on("response", (r) => {
    if (r.command !== "message" || r.code === "200") return;
    refuse(r.code);
    byFailed++;
  });
  for (const s of all) s.on("disconnect", () => errors++);

  const a = snapshot(o.pid);
  const t0 = a.wall * 1000;
  const end = t0 + o.durationS * 1000;
  for (let i = 0; i < N; i++) pump(i);

  // The bystander: after the warm-up, every message whose time has come (timers are ~1 ms coarse).
  const b0 = t0 + Math.min(o.warmupS, o.durationS / 2) * 1000;
  const interval = 1000 / o.rate;
  while (performance.now() < end) {
    const now = performance.now();
    const due = now < b0 ? 0 : Math.floor((Math.min(now, end) - b0) / interval) + 1;
    for (; bySent < due; bySent++) {
      lag.record(performance.now() - (b0 + bySent * interval));
      A.emit("message", { recepient: idB, data: payload(0, bySent, o.size) }); // "0|seq|time|"
    }
    await sleep(Math.max(1, Math.min(interval / 2, end - now)));
  }
  stopped = true; // time bound reached: stop sending, let what is in flight arrive
  const drainEnd = performance.now() + o.drainS * 1000;
  while ((delivered + failed < totalSent || byDelivered + byFailed < bySent) && performance.now() < drainEnd) {
    await sleep(10);
  }
  const b = snapshot(o.pid);
  closeAll(all);

  const active = (lastDelivery - t0) / 1000;
  const u = usage(a, b);
  const w = hist.summary();
  const s = by.summary();
  const lost = totalSent - delivered - failed;
  const byLost = bySent - byDelivered - byFailed;
  return {
    writers: N,
    window: W,
    rate: o.rate,
    size: o.size,
    sent: totalSent,
    delivered,
    refused,
    errors,
    lost: lost + byLost,
    writers_lost: lost,
    msgs_per_s: round(delivered / active, 0),
    writer_p50_ms: w.p50_ms,
    writer_p99_ms: w.p99_ms,
    bystander_sent: bySent,
    bystander_delivered: byDelivered,
    bystander_lost: byLost,
    bystander_p50_ms: s.p50_ms,
    bystander_p99_ms: s.p99_ms,
    bystander_p999_ms: s.p999_ms,
    bystander_max_ms: s.max_ms,
    bystander_mean_ms: s.mean_ms,
    bystander_send_lag_p99_ms: lag.summary().p99_ms,
    // A latency that climbs second after second is a queue growing (the pair gets less than its
    // rate); one that jumps and falls back is a stall.
    bystander_max_ms_by_s: Array.from(bySlowest, (x) => x || 0),
    server_cpu_us_per_msg:
      u.server_cpu_s === null ? null : round((u.server_cpu_s * 1e6) / (delivered + byDelivered), 1),
    gen_cpu_us_per_msg: round((u.gen_cpu_s * 1e6) / (delivered + byDelivered), 1),
    ...u,
  };
}

module.exports = { run };
