"use strict";
// room: the broadcast scenario's sockets (R receivers + S senders, all logged in) all join one
// room (the book's `room` {command:'create'|'join'}), then the senders send M `groupchat`
// messages each to the room, then the same M to 'ALL', to the same sockets on the same server.
// Reports both fan-outs side by side: a room of N members against a broadcast to N.

const { loginAll, closeAll } = require("../lib/clients");
const { quiesce } = require("../lib/util");
const { fanOut } = require("./broadcast");

/** Send `event` with an ack from each socket, at most `concurrency` waiting; reject on a refusal. */
async function callEach(socks, event, payloadOf, concurrency) {
  let next = 0;
  async function worker() {
    while (next < socks.length) {
      const i = next++;
      const reply = await new Promise((resolve) => socks[i].emit(event, payloadOf(i), resolve));
      if (!reply || reply.code !== "200") throw new Error(`${event} refused: ${JSON.stringify(reply)}`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function run(o) {
  const N = o.receivers + o.senders;
  const ids = Array.from({ length: N }, (_, i) => `${o.prefix}r${i}`);
  const { sockets: socks, error } = await loginAll(o.url, ids, o.connect);
  if (error) return { error };
  const roomId = `${o.prefix}room`;
  try {
    await callEach(socks.slice(0, 1), "room", () => ({ command: "create", roomId, roomName: "bench" }), 1);
    await callEach(socks.slice(1), "room", () => ({ command: "join", roomId }), o.concurrency);
  } catch (err) {
    closeAll(socks);
    return { error: String(err.message || err) };
  }
  await quiesce(o.pid); // the room lists pushed after the joins are not part of what is timed
  const room = await fanOut(socks, o, { recepient: roomId, command: "groupchat" });
  await quiesce(o.pid);
  const all = await fanOut(socks, o, { recepient: "ALL" });
  closeAll(socks);
  const rename = (result, prefix) => Object.fromEntries(Object.entries(result).map(([k, v]) => [prefix + k, v]));
  return {
    members: N,
    ...room, // the room's figures under the usual names, so the table reads them as for broadcast
    ...rename(all, "all_"),
    room_vs_all: all.deliveries_per_s ? Math.round((room.deliveries_per_s / all.deliveries_per_s) * 100) / 100 : null,
  };
}

module.exports = { run };
