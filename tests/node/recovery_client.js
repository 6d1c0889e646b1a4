// Connection state recovery with socket.io-client 4.8: bob's transport is killed mid-stream,
// the way socket.io's own tests simulate a drop (`socket.io.engine.close()`: no DISCONNECT packet).
//
//   node tests/node/recovery_client.js URL SCENARIO [websocket|polling] [ALICE_URL] [BOB_BACK_URL]
//
// bob connects to URL, alice to ALICE_URL (default URL: another node of a cluster); when
// BOB_BACK_URL is given bob's reconnect goes there instead (another node).
//
// SCENARIO:
//   stream  alice sends one-to-one, ALL and room messages while bob is away for a moment
//   expire  bob stays away longer than the server's recovery window (run it with a short one)
//   grace   bob stays away longer than the presence grace (run it with a short one)
//   hops    as stream, and bob drops again after 40 messages, back to URL (two nodes: there and back)
//
// Prints one JSON object on stdout with what each side saw. Exits 1 (still printing JSON, with
// "error") on any failure or after 40 s.
"use strict";

const io = require("socket.io-client");

const [url, scenario, only, aliceUrl, bobBackUrl] = process.argv.slice(2);
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const ids = { alice: `alice-${suffix}`, bob: `bob-${suffix}`, room: `room-${suffix}` };
const password = "correct horse battery";
const result = { ids, scenario, bob: { connects: [], messages: [], presence: [], responses: [] }, alice: { presence: [] }, acks: [] };

function finish(code, error) {
  if (error) result.error = String(error && error.stack ? error.stack : error);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
}

setTimeout(() => finish(1, "timed out after 40 s"), 40000).unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(reconnectAfter, to = url) {
  const options = { forceNew: true, reconnectionDelay: reconnectAfter, reconnectionDelayMax: reconnectAfter,
                    randomizationFactor: 0 };
  if (only) options.transports = [only];
  const socket = io.connect(to, options);
  socket.on("connect_error", (error) => finish(1, `connect_error: ${error.message}`));
  return new Promise((resolve) => socket.once("connect", () => resolve(socket)));
}

// Every event bob sees, with the offset socket.io appends as its last argument.
function watchBob(bob) {
  const seen = result.bob;
  bob.on("connect", () => seen.connects.push({ id: bob.id, recovered: bob.recovered }));
  bob.on("message", (message, offset) => seen.messages.push({ data: message.data, offset }));
  bob.on("presence", (event, offset) => seen.presence.push({ command: event.command, id: event.id, offset }));
  bob.on("response", (reply) => seen.responses.push(reply));
}

function until(condition, ms) {
  return new Promise((resolve) => {
    const started = Date.now();
    const check = () => (condition() || Date.now() - started > ms ? resolve(condition()) : setTimeout(check, 20));
    check();
  });
}

async function send(alice, recepient, data, command) {
  const payload = command ? { recepient, data, command } : { recepient, data };
  const ack = await alice.emitWithAck("message", payload);
  result.acks.push({ data, code: ack.code });
  return ack;
}

async function login(socket, id, registered) {
  if (registered) await socket.emitWithAck("register", { id, password });
  const ack = await socket.emitWithAck("login", registered ? { id, password } : { id });
  if (ack.code !== "200") throw new Error(`login ${id}: ${JSON.stringify(ack)}`);
}

// The drop: no DISCONNECT packet, the client reconnects by itself (to `to` when given).
function drop(bob, to = bobBackUrl) {
  if (to) bob.io.uri = to;
  bob.io.engine.close();
}

async function stream(hops = false) {
  const alice = await connect(200, aliceUrl || url);
  const bob = await connect(200);
  await login(alice, ids.alice);
  await login(bob, ids.bob);
  alice.on("presence", (event) => result.alice.presence.push({ command: event.command, id: event.id }));
  await bob.emitWithAck("room", { command: "create", roomId: ids.room, roomName: "recovery" });
  await alice.emitWithAck("room", { command: "join", roomId: ids.room });
  watchBob(bob);
  result.bob.firstId = bob.id;
  const total = 60;
  for (let i = 0; i < total; i++) {
    if (i === 20) drop(bob);
    if (hops && i === 40) drop(bob, url);
    const data = `m${i}`;
    if (i % 3 === 0) await send(alice, ids.bob, data);
    else if (i % 3 === 1) await send(alice, "ALL", data);
    else await send(alice, ids.room, data, "groupchat");
    await sleep(10);
  }
  await until(() => result.bob.messages.length >= total && result.bob.connects.length >= (hops ? 2 : 1), 10000);
  await sleep(300); // anything twice would arrive now
  result.bob.lastId = bob.id;
  result.bob.recovered = bob.recovered;
  alice.disconnect();
  bob.disconnect();
}

async function expire() {
  const alice = await connect(200, aliceUrl || url);
  const bob = await connect(3000);
  await login(alice, ids.alice);
  await login(bob, ids.bob);
  watchBob(bob);
  result.bob.firstId = bob.id;
  await send(alice, ids.bob, "before");
  await until(() => result.bob.messages.length >= 1, 5000);
  drop(bob);
  await until(() => result.bob.connects.length >= 1, 10000);
  result.bob.lastId = bob.id;
  result.bob.recovered = bob.recovered;
  // A normal connect: a new socket, not logged in.
  result.bob.afterExpiry = await bob.emitWithAck("message", { recepient: ids.alice, data: "am I in?" });
  alice.disconnect();
  bob.disconnect();
}

async function grace() {
  const alice = await connect(200, aliceUrl || url);
  const bob = await connect(3000);
  await login(alice, ids.alice, true);
  await login(bob, ids.bob, true);
  alice.on("presence", (event) => result.alice.presence.push({ command: event.command, id: event.id }));
  watchBob(bob);
  result.bob.firstId = bob.id;
  await send(alice, ids.bob, "before");
  await until(() => result.bob.messages.length >= 1, 5000);
  drop(bob);
  await sleep(100);
  await send(alice, ids.bob, "within the grace"); // bob is still online: 200, kept for his recovery
  await until(() => result.alice.presence.some((p) => p.command === "offline" && p.id === ids.bob), 5000);
  await send(alice, ids.bob, "after the grace"); // bob is offline now: 202, stored
  await until(() => result.bob.connects.length >= 1, 10000);
  await until(() => result.bob.messages.length >= 3, 5000);
  await until(() => result.alice.presence.some((p) => p.command === "online" && p.id === ids.bob), 3000);
  await sleep(300);
  result.bob.lastId = bob.id;
  result.bob.recovered = bob.recovered;
  result.bob.afterRecovery = await bob.emitWithAck("message", { recepient: ids.alice, data: "back" });
  alice.disconnect();
  bob.disconnect();
}

const scenarios = { stream: () => stream(false), hops: () => stream(true), expire, grace };
if (!scenarios[scenario]) finish(1, `unknown scenario ${scenario}`);
scenarios[scenario]().then(() => finish(0), (error) => finish(1, error));
