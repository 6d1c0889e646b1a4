"use strict";
// Small helpers shared by the scenarios.

const { cpuSeconds } = require("./procstat");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until the server is idle (under 5% of a core over 250 ms), at most maxMs: login leaves
 * work behind (presence fan-out in chatserver), which must not be billed to the next phase.
 */
async function quiesce(pid, maxMs = 30000) {
  if (!pid) return sleep(500);
  const end = performance.now() + maxMs;
  let prev = cpuSeconds(pid);
  while (performance.now() < end) {
    await sleep(250);
    const cur = cpuSeconds(pid);
    if (cur - prev < 0.0125) return;
    prev = cur;
  }
}

/** A uniformly random index in [0, n) other than `self`. */
function otherThan(self, n) {
  const j = Math.floor(Math.random() * (n - 1));
  return j >= self ? j + 1 : j;
}

/** Round to `d` decimals. */
const round = (x, d = 3) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

module.exports = { sleep, quiesce, otherThan, round };

/**
 * Message `data`: "a|b|sendTime|" padded with "x" to `size` characters. The generator's
 * senders and receivers share one clock (performance.now) because they share one process.
 */
function payload(a, b, size) {
  const head = `${a}|${b}|${performance.now()}|`;
  return head.length >= size ? head : head + "x".repeat(size - head.length);
}

/** [a, b, sendTime] back out of a payload. */
function parsePayload(data) {
  const p1 = data.indexOf("|");
  const p2 = data.indexOf("|", p1 + 1);
  const p3 = data.indexOf("|", p2 + 1);
  return [Number(data.slice(0, p1)), Number(data.slice(p1 + 1, p2)), Number(data.slice(p2 + 1, p3))];
}

module.exports.payload = payload;
module.exports.parsePayload = parsePayload;
