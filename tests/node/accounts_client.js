// Accounts and history with socket.io-client 4.8: register, password login, logout revoking
// the token, token login, a message kept for an offline user and delivered at their login, and `history` pages.
//
//   node tests/node/accounts_client.js URL [websocket|polling]
//
// Prints one JSON object on stdout with every ack and what bob received after logging in
// again. Exits 1 (still printing JSON, with "error") on any failure or after 20 s.
"use strict";

const io = require("socket.io-client");

const url = process.argv[2];
const only = process.argv[3];
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const ids = { alice: `alice-${suffix}`, bob: `bob-${suffix}` };
const password = "correct horse battery";
const result = { ids, acks: {}, bobReceived: [] };

function finish(code, error) {
  if (error) result.error = String(error && error.stack ? error.stack : error);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
}

setTimeout(() => finish(1, "timed out after 20 s"), 20000).unref();

function connect() {
  const options = { forceNew: true };
  if (only) options.transports = [only];
  const socket = io.connect(url, options);
  socket.on("connect_error", (error) => finish(1, `connect_error: ${error.message}`));
  return new Promise((resolve) => socket.on("connect", () => resolve(socket)));
}

async function main() {
  const alice = await connect();
  const bob = await connect();
  const acks = result.acks;

  acks.registerAlice = await alice.emitWithAck("register", { id: ids.alice, password, alias: "Alice" });
  acks.registerBob = await bob.emitWithAck("register", { id: ids.bob, password });
  acks.aliceLogin = await alice.emitWithAck("login", { id: ids.alice, password });
  acks.bobLogin = await bob.emitWithAck("login", { id: ids.bob, password });

  // bob goes away; alice's message waits for him (202).
  acks.bobLogout = await bob.emitWithAck("logout", {});
  acks.toOfflineBob = await alice.emitWithAck("message", { recepient: ids.bob, data: "while you were away" });

  // bob comes back on a new socket: the kept message follows the presence list.
  const bobAgain = await connect();
  for (const event of ["response", "presence", "message"]) {
    bobAgain.on(event, (payload) => result.bobReceived.push([event, payload]));
  }
  const kept = new Promise((resolve) => bobAgain.on("message", resolve));
  acks.bobLoginAgain = await bobAgain.emitWithAck("login", { id: ids.bob, password });
  await kept;

  // Logging out revoked the first token; the new one logs a third socket in without the password.
  const bobPhone = await connect();
  acks.revokedTokenLogin = await bobPhone.emitWithAck("login", { id: ids.bob, token: acks.bobLogin.token });
  acks.bobTokenLogin = await bobPhone.emitWithAck("login", { id: ids.bob, token: acks.bobLoginAgain.token });

  acks.historyNewest = await bobAgain.emitWithAck("history", { recepient: ids.alice, limit: 1 });
  acks.historyAll = await alice.emitWithAck("history", { recepient: "ALL", limit: 5 });
  acks.badLimit = await alice.emitWithAck("history", { recepient: ids.bob, limit: 0 });

  for (const socket of [alice, bob, bobAgain, bobPhone]) socket.disconnect();
  finish(0);
}

main().catch((error) => finish(1, error));
