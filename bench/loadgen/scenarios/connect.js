"use strict";
// connect: N clients connect (browser default: polling handshake, then WebSocket upgrade) and
// log in, `concurrency` at a time. Reports the time it took and the server's RSS per client.

const { connectMany, closeAll } = require("../lib/clients");
const { rssKb, snapshot, usage } = require("../lib/procstat");
const { quiesce, round } = require("../lib/util");

async function run(o) {
  const N = o.clients;
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}c${i}`);
  await quiesce(o.pid);
  const rssBefore = rssKb(o.pid);
  const a = snapshot(o.pid);
  const conn = await connectMany(o.url, ids, o.connect);
  const b = snapshot(o.pid);
  await quiesce(o.pid); // let login side effects (presence) finish before reading memory
  const rssAfter = rssKb(o.pid);
  closeAll(conn.sockets);

  const u = usage(a, b);
  return {
    clients: N,
    concurrency: o.connect.concurrency,
    transports: o.connect.transports.join(","),
    logged_in: conn.ok,
    failures: conn.failures,
    first_error: conn.firstError,
    connect_s: u.wall_s,
    logins_per_s: round(conn.ok / u.wall_s, 0),
    rss_before_kb: rssBefore,
    rss_after_kb: rssAfter,
    rss_per_client_kb: rssBefore === null || !conn.ok ? null : round((rssAfter - rssBefore) / conn.ok, 1),
    server_cpu_ms_per_login: u.server_cpu_s === null || !conn.ok ? null : round((u.server_cpu_s * 1000) / conn.ok, 3),
    ...u,
  };
}

module.exports = { run };
