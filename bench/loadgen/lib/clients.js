"use strict";
// Many Socket.IO client sockets in one process, each connected the way the seed's page connects
// (io.connect(url, {forceNew: true}): its own engine, polling first then the WebSocket upgrade,
// permessage-deflate offered) and logged in with an acknowledgement. "lean" (lib/lean.js) is the
// default; "sio" is the real socket.io-client, to cross-check the lean one.

const { io } = require("socket.io-client");
const { LeanSocket } = require("./lean");

/** A new socket of the kind the scenario asked for: "sio" (socket.io-client) or "lean". */
function newSocket(url, opts) {
  if (opts.client === "lean") return new LeanSocket(url, opts.transports);
  return io(url, {
    forceNew: true,
    reconnection: false, // a dropped client stays dropped, so the scenario can count it
    timeout: opts.timeoutMs,
    transports: opts.transports,
  });
}

/** Connect one socket and log it in as `id`; resolves with the socket, rejects on error or timeout. */
function connectOne(url, id, opts) {
  return new Promise((resolve, reject) => {
    const socket = newSocket(url, opts);
    const timer = setTimeout(() => {
      const at = socket.stage ? ` (stuck at: ${socket.stage})` : "";
      fail(new Error(`connect+login timed out after ${opts.timeoutMs} ms${at}`));
    }, opts.timeoutMs);
    function fail(err) {
      clearTimeout(timer);
      socket.close();
      reject(err);
    }
    socket.once("connect_error", (err) => fail(new Error(`connect_error: ${err.message}`)));
    socket.once("connect", () => {
      socket.emit("login", { id, alias: id }, (res) => {
        clearTimeout(timer);
        if (res && res.code === "200") resolve(socket);
        else fail(new Error(`login refused: ${JSON.stringify(res)}`));
      });
    });
  });
}

/**
 * Connect and log in one socket per id, at most `concurrency` in flight, within `deadlineMs`.
 * Returns {sockets (null where it failed or was not tried), ok, failures, firstError}; with
 * stopOnFailure no new connection starts after the first failure.
 */
async function connectMany(url, ids, opts) {
  const sockets = new Array(ids.length).fill(null);
  const deadline = performance.now() + opts.deadlineMs;
  let next = 0;
  let ok = 0;
  let failures = 0;
  let firstError = null;
  async function worker() {
    while (next < ids.length && performance.now() < deadline && !(opts.stopOnFailure && failures)) {
      const i = next++;
      try {
        sockets[i] = await connectOne(url, ids[i], opts);
        ok++;
      } catch (err) {
        failures++;
        if (!firstError) firstError = err.message;
      }
    }
  }
  const workers = [];
  for (let w = 0; w < Math.min(opts.concurrency, ids.length); w++) workers.push(worker());
  await Promise.all(workers);
  if (ok + failures < ids.length && !firstError) firstError = "time bound reached";
  return { sockets, ok, failures, firstError };
}

/** Close every open socket. */
function closeAll(sockets) {
  for (const s of sockets) if (s) s.close();
}

// Connect and log in every id, all or nothing: {sockets}, or {error} with every socket closed.
async function loginAll(url, ids, options) {
  const conn = await connectMany(url, ids, options);
  if (!conn.failures) return { sockets: conn.sockets };
  closeAll(conn.sockets);
  return { error: `login failed for ${conn.failures} of ${ids.length}: ${conn.firstError}` };
}

module.exports = { connectOne, connectMany, loginAll, closeAll };
