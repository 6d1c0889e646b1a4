"use strict";
// broadcast: R receivers and S senders, all logged in; each sender sends M messages to 'ALL'
// with a window of W messages not yet delivered to every socket (the seed's io.sockets.emit
// reaches the sender too, so each message makes R+S deliveries). Reports deliveries/s,
// latency per delivery, lost deliveries and server CPU per delivery. `fanOut` is shared with the
// room scenario, which sends the same messages to a room of the same sockets.

const { loginAll, closeAll } = require("../lib/clients");
const { Histogram } = require("../lib/histogram");
const { snapshot, usage } = require("../lib/procstat");
const { quiesce, payload, parsePayload, round, sleep } = require("../lib/util");

async function run(o) {
  const N = o.receivers + o.senders;
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}b${i}`);
  const { sockets: socks, error } = await loginAll(o.url, ids, o.connect);
  if (error) return { error };
  await quiesce(o.pid);
  const result = await fanOut(socks, o, { recepient: "ALL" });
  closeAll(socks);
  return result;
}

/**
 * The last o.senders of `socks` each send o.messages messages addressed by `address` (merged into
 * each payload) with a window of o.window, and every socket of `socks` must receive each one.
 */
async function fanOut(socks, o, address) {
  const R = o.receivers;
  const S = o.senders;
  const M = o.messages;
  const W = o.window;
  const N = R + S;
  const senders = socks.slice(R); // the last S sockets send; every socket receives

  const hist = new Histogram();
  const remaining = new Int32Array(S * M); // deliveries still due, per message
  const outstanding = new Int32Array(S);
  const sent = new Int32Array(S);
  let totalSent = 0;
  let delivered = 0;
  let lastDelivery = 0;
  let stopped = false;
  let done;
  const finished = new Promise((r) => (done = r));

  function pump(s) {
    while (outstanding[s] < W && sent[s] < M && !stopped) {
      remaining[s * M + sent[s]] = N;
      senders[s].emit("message", { ...address, data: payload(s, sent[s], o.size) });
      outstanding[s]++;
      sent[s]++;
      totalSent++;
    }
  }
  function check() {
    if (delivered >= (stopped ? totalSent : S * M) * N) done();
  }
  for (const sock of socks) {
    sock.off("message");
    sock.on("message", (m) => {
      const [s, q, t] = parsePayload(m.data);
      const now = performance.now();
      hist.record(now - t);
      delivered++;
      lastDelivery = now;
      if (--remaining[s * M + q] === 0) {
        outstanding[s]--;
        pump(s);
      }
      check();
    });
  }

  const a = snapshot(o.pid);
  const t0 = a.wall * 1000;
  for (let s = 0; s < S; s++) pump(s);
  const timer = setTimeout(() => {
    stopped = true;
    check();
  }, o.durationS * 1000);
  await finished;
  clearTimeout(timer);
  const b = snapshot(o.pid);
  if (delivered < totalSent * N) {
    stopped = true;
    const drainEnd = performance.now() + o.drainS * 1000;
    while (delivered < totalSent * N && performance.now() < drainEnd) await sleep(50);
  }
  const active = (lastDelivery - t0) / 1000;
  const u = usage(a, b);
  return {
    receivers: R,
    senders: S,
    window: W,
    size: o.size,
    sent: totalSent,
    delivered,
    lost: totalSent * N - delivered,
    deliveries_per_s: round(delivered / active, 0),
    msgs_per_s: round(delivered / N / active, 1),
    ...hist.summary(),
    server_cpu_us_per_delivery: u.server_cpu_s === null ? null : round((u.server_cpu_s * 1e6) / delivered, 2),
    gen_cpu_us_per_delivery: round((u.gen_cpu_s * 1e6) / delivered, 2),
    ...u,
  };
}

module.exports = { run, fanOut };
