"use strict";
// direct: N logged-in clients each send M one-to-one messages to random peers, closed loop
// with a window of W undelivered messages per sender. Reports delivered messages/s, latency
// (send -> delivery to the recipient), lost messages and server CPU per message.

const { loginAll, closeAll } = require("../lib/clients");
const { Histogram } = require("../lib/histogram");
const { snapshot, usage } = require("../lib/procstat");
const { quiesce, otherThan, payload, parsePayload, round, sleep } = require("../lib/util");

async function run(o) {
  const N = o.clients;
  const M = o.messages;
  const W = o.window;
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}d${i}`);
  const { sockets: socks, error } = await loginAll(o.url, ids, o.connect);
  if (error) return { error };
  await quiesce(o.pid);

  const hist = new Histogram();
  const outstanding = new Int32Array(N);
  const sent = new Int32Array(N);
  const refused = {};
  let totalSent = 0;
  let delivered = 0;
  let failed = 0;
  let lastDelivery = 0;
  let stopped = false;
  let done;
  const finished = new Promise((r) => (done = r));

  function pump(i) {
    while (outstanding[i] < W && sent[i] < M && !stopped) {
      const j = otherThan(i, N);
      socks[i].emit("message", { recepient: ids[j], data: payload(i, sent[i], o.size) });
      outstanding[i]++;
      sent[i]++;
      totalSent++;
    }
  }
  function check() {
    if (delivered + failed >= (stopped ? totalSent : N * M)) done();
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
      check();
    });
    s.on("response", (r) => {
      if (r.command !== "message" || r.code === "200") return;
      refused[r.code] = (refused[r.code] || 0) + 1; // never delivered: free its window slot
      failed++;
      outstanding[i]--;
      pump(i);
      check();
    });
  });

  const a = snapshot(o.pid);
  const t0 = a.wall * 1000;
  for (let i = 0; i < N; i++) pump(i);
  const timer = setTimeout(() => {
    stopped = true; // time bound reached: stop sending, let what is in flight arrive
    check();
  }, o.durationS * 1000);
  await finished;
  clearTimeout(timer);
  const b = snapshot(o.pid);
  if (delivered + failed < totalSent) {
    stopped = true;
    const drainEnd = performance.now() + o.drainS * 1000;
    while (delivered + failed < totalSent && performance.now() < drainEnd) await sleep(50);
  }
  closeAll(socks);

  const active = (lastDelivery - t0) / 1000;
  const u = usage(a, b);
  return {
    clients: N,
    window: W,
    size: o.size,
    sent: totalSent,
    delivered,
    refused,
    lost: totalSent - delivered - failed,
    msgs_per_s: round(delivered / active, 0),
    ...hist.summary(),
    server_cpu_us_per_msg: u.server_cpu_s === null ? null : round((u.server_cpu_s * 1e6) / delivered, 1),
    gen_cpu_us_per_msg: round((u.gen_cpu_s * 1e6) / delivered, 1),
    ...u,
  };
}

module.exports = { run };
