// A client written like the seed tutorial's: io.connect(url, {forceNew: true}), `login`, then
// `message` to ALL and to one user, reading `response` events. Two users, alice and bob.
//
//   node tests/node/seed_client.js URL [websocket|polling]
//
// Without a transport the seed's options are used as they are (long-polling, then upgrade).
// Prints one JSON object on stdout: what each client received, in order, and the transport
// each ended on. Exits 1 (still printing JSON, with "error") on any failure or after 20 s.
"use strict";

const io = require("socket.io-client");

const url = process.argv[2];
const only = process.argv[3];
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const ids = { alice: `alice-${suffix}`, bob: `bob-${suffix}` };
const result = { ids, transports: {}, received: { alice: [], bob: [] }, acks: [] };

function finish(code, error) {
  if (error) result.error = String(error && error.stack ? error.stack : error);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
}

setTimeout(() => finish(1, "timed out after 20 s"), 20000).unref();

function connectAs(name) {
  const options = { forceNew: true };
  if (only) options.transports = [only];
  const socket = io.connect(url, options);
  const waiters = [];
  const record = (event) => (payload) => {
    result.received[name].push([event, payload]);
    for (const waiter of waiters.slice()) {
      if (waiter.event === event && waiter.match(payload)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(payload);
      }
    }
  };
  for (const event of ["response", "message", "presence"]) socket.on(event, record(event));
  socket.next = (event, match = () => true) => new Promise((resolve) => waiters.push({ event, match, resolve }));
  socket.on("connect_error", (error) => finish(1, `${name} connect_error: ${error.message}`));
  return new Promise((resolve) => socket.on("connect", () => resolve(socket)));
}

function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return Promise.resolve();
  return new Promise((resolve) => engine.once("upgrade", resolve));
}

async function main() {
  const alice = await connectAs("alice");
  const bob = await connectAs("bob");

  // The seed's login: sendResponse(socket, 'login', '200', ...).
  let response = alice.next("response", (r) => r.command === "login");
  alice.emit("login", { id: ids.alice, password: "", alias: "Alice", today: new Date().toISOString() });
  await response;
  response = bob.next("response", (r) => r.command === "login");
  bob.emit("login", { id: ids.bob, password: "", alias: "Bob", today: new Date().toISOString() });
  await response;

  // To ALL: both get it, the sender included (io.sockets.emit).
  const toAll = { sender: ids.alice, recepient: "ALL", command: "chat", type: "text", data: "hello everyone" };
  const atAlice = alice.next("message", (m) => m.data === toAll.data);
  const atBob = bob.next("message", (m) => m.data === toAll.data);
  alice.emit("message", toAll);
  await Promise.all([atAlice, atBob]);

  // One-to-one: bob gets it, alice gets response 200.
  const private_ = { sender: ids.alice, recepient: ids.bob, command: "chat", type: "text", data: "hello bob" };
  const delivered = bob.next("message", (m) => m.data === private_.data);
  response = alice.next("response", (r) => r.command === "message");
  alice.emit("message", private_);
  await Promise.all([delivered, response]);

  // To nobody: 404.
  response = alice.next("response", (r) => r.command === "message");
  alice.emit("message", { sender: ids.alice, recepient: `nobody-${suffix}`, data: "anyone?" });
  await response;

  // The same with an acknowledgement callback (4.x emitWithAck).
  const acked = alice.next("message", (m) => m.data === "ack me");
  result.acks.push(await bob.emitWithAck("message", { recepient: ids.alice, data: "ack me" }));
  await acked;

  // Without a transport option the seed's client upgrades from long-polling to WebSocket.
  if (!only) await Promise.all([alice, bob].map(upgraded));
  result.transports.alice = alice.io.engine.transport.name;
  result.transports.bob = bob.io.engine.transport.name;
  alice.disconnect();
  bob.disconnect();
  finish(0);
}

main().catch((error) => finish(1, error));
