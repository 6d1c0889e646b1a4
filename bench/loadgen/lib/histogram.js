"use strict";
// Latency histogram with ~1% relative precision: constant memory and O(1) per sample, so
// recording millions of broadcast deliveries costs the generator almost nothing.

const PER_DOUBLING = 70; // buckets per factor of two: 2^(1/70) ~ 1.0100
const MIN_US = 1; // resolution floor: 1 microsecond
const BUCKETS = 70 * 40; // up to 2^40 us, far beyond any bounded run

class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.n = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** Record one latency in milliseconds. */
  record(ms) {
    const us = ms * 1000;
    const b = us <= MIN_US ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(us / MIN_US) * PER_DOUBLING));
    this.counts[b] += 1;
    this.n += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The latency (ms) below which fraction q of the samples fall; null when empty. */
  quantile(q) {
    if (this.n === 0) return null;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b];
      if (seen >= rank) {
        // Upper edge of the bucket, capped by the true maximum.
        const us = MIN_US * Math.pow(2, (b + 1) / PER_DOUBLING);
        return Math.min(us / 1000, this.max);
      }
    }
    return this.max;
  }

  /** p50/p99/p99.9/max in ms, rounded to microseconds. */
  summary() {
    const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
    return {
      samples: this.n,
      p50_ms: r(this.quantile(0.5)),
      p99_ms: r(this.quantile(0.99)),
      p999_ms: r(this.quantile(0.999)),
      max_ms: r(this.n ? this.max : null),
      mean_ms: r(this.n ? this.sum / this.n : null),
    };
  }
}

module.exports = { Histogram };
