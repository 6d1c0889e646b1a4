"use strict";
// latency: open loop. N logged-in clients send one-to-one messages to random peers at a fixed
// total rate, well below saturation, whatever the replies do; latency is send -> delivery.
// send_lag shows how late the generator itself was against the schedule.

const { loginAll, closeAll } = require("../lib/clients");
const { Histogram } = require("../lib/histogram");
const { snapshot, usage } = require("../lib/procstat");
const { quiesce, otherThan, payload, parsePayload, round, sleep } = require("../lib/util");

async function run(o) {
  const N = o.clients;
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}l${i}`);
  const { sockets: socks, error } = await loginAll(o.url, ids, o.connect);
  if (error) return { error };
  await quiesce(o.pid);

  const hist = new Histogram();
  const lag = new Histogram();
  let delivered = 0;
  let failed = 0;
  for (const s of socks) {
    s.on("message", (m) => {
      hist.record(performance.now() - parsePayload(m.data)[2]);
      delivered++;
    });
    s.on("response", (r) => {
      if (r.command === "message" && r.code !== "200") failed++;
    });
  }

  const total = Math.round(o.rate * o.durationS);
  const a = snapshot(o.pid);
  const t0 = a.wall * 1000;
  let sent = 0;
  // Each tick sends every message whose scheduled time has come (timers are ~1 ms coarse).
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - t0) * o.rate) / 1000) + 1);
    for (; sent < due; sent++) {
      lag.record(performance.now() - (t0 + (sent * 1000) / o.rate));
      const i = sent % N;
      socks[i].emit("message", { recepient: ids[otherThan(i, N)], data: payload(i, sent, o.size) });
    }
    await sleep(1);
  }
  const drainEnd = performance.now() + o.drainS * 1000;
  while (delivered + failed < sent && performance.now() < drainEnd) await sleep(10);
  const b = snapshot(o.pid);
  closeAll(socks);

  const lagS = lag.summary();
  return {
    clients: N,
    rate: o.rate,
    size: o.size,
    sent,
    delivered,
    failed,
    lost: sent - delivered - failed,
    ...hist.summary(),
    send_lag_p99_ms: lagS.p99_ms,
    send_lag_max_ms: lagS.max_ms,
    ...usage(a, b),
  };
}

module.exports = { run };
