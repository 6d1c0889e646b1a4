"use strict";
// A lean Socket.IO v5 client speaking the engine.io v4 / socket.io v5 framing by hand: the
// generator's default client. Why: socket.io-client costs the generator as much CPU per
// message as the Node server spends serving it (and its `ws` inflates on the thread pool), so
// with one spare core it would cap the figures it is meant to measure.
// It connects as socket.io-client does by default (transports "polling,websocket"): a polling
// handshake, the socket.io CONNECT over polling, then the WebSocket upgrade ("2probe"/"3probe",
// "5") — with permessage-deflate offered — and everything after over the WebSocket. With
// transports "websocket" it opens the WebSocket directly.

const http = require("http");
const { WsClient } = require("./wsclient");

// Polling requests of all clients share a few keep-alive connections, closed after 2 s idle:
// each open connection holds one of the server's connection slots (eventlet's pool), which
// the capacity run needs for WebSockets.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64, timeout: 2000 });

/** One HTTP request to the server; resolves with the body text, rejects on a non-200. */
function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { "Content-Type": "text/plain;charset=UTF-8" } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

class LeanSocket {
  constructor(url, transports = ["polling", "websocket"]) {
    this.url = url.replace(/\/$/, "");
    this.connected = false;
    this.handlers = Object.create(null); // event name -> one listener: all the scenarios need
    this.acks = new Map();
    this.nextAck = 0;
    this.engineOpen = null;
    this.ws = null;
    this.live = false; // the WebSocket carries the session (opened, and upgraded if polling)
    this.pending = []; // frames sent before that
    this.stage = "polling open"; // how far the connection got, for error messages
    if (transports.includes("polling")) {
      this._viaPolling().catch((err) => this._lost(err.message));
    } else {
      this._openWebSocket(null);
    }
  }

  on(name, fn) {
    this.handlers[name] = fn;
    return this;
  }

  off(name) {
    delete this.handlers[name];
    return this;
  }

  once(name, fn) {
    return this.on(name, (...args) => {
      delete this.handlers[name];
      fn(...args);
    });
  }

  /** Emit `name` with one argument, and an optional acknowledgement callback. */
  emit(name, data, ack) {
    const body = JSON.stringify([name, data]);
    if (typeof ack === "function") {
      const id = this.nextAck++;
      this.acks.set(id, ack);
      this._send(`42${id}${body}`);
    } else {
      this._send(`42${body}`);
    }
  }

  /** Leave like socket.io-client does: socket.io DISCONNECT, then close the WebSocket. */
  close() {
    if (this.connected) this._send("41");
    this.connected = false;
    this.handlers = Object.create(null);
    this.closed = true;
    if (this.ws) this.ws.close();
  }

  async _viaPolling() {
    const base = `${this.url}/socket.io/?EIO=4&transport=polling`;
    const open = await request("GET", `${base}&t=${Date.now().toString(36)}`);
    this.engineOpen = JSON.parse(open.split("\x1e")[0].slice(1));
    const sid = `${base}&sid=${encodeURIComponent(this.engineOpen.sid)}`;
    this.stage = "polling CONNECT";
    await request("POST", sid, "40");
    this.stage = "polling CONNECT reply";
    const reply = await request("GET", `${sid}&t=${Date.now().toString(36)}`);
    if (this.closed) return;
    this.stage = "WebSocket upgrade";
    this._openWebSocket(this.engineOpen.sid); // probe while the CONNECT reply is handled
    for (const p of reply.split("\x1e")) this._onText(p);
  }

  _openWebSocket(sid) {
    if (!sid) this.stage = "WebSocket open";
    const query = sid ? `&sid=${encodeURIComponent(sid)}` : "";
    const ws = new WsClient(this.url, `/socket.io/?EIO=4&transport=websocket${query}`);
    this.ws = ws;
    if (sid) {
      ws.onopen = () => ws.send("2probe");
      ws.ontext = (text) => {
        if (text !== "3probe") return this._lost(`upgrade probe answered ${text.slice(0, 40)}`);
        ws.send("5"); // upgrade: from now on the session is on this WebSocket
        ws.ontext = (t) => this._onText(t);
        this._goLive();
        return undefined;
      };
    } else {
      ws.onopen = () => this._goLive();
      ws.ontext = (t) => this._onText(t);
    }
    ws.onclose = (reason) => this._lost(reason);
  }

  _goLive() {
    this.live = true;
    this.stage = this.connected ? "login" : "CONNECT";
    for (const f of this.pending) this.ws.send(f);
    this.pending = [];
  }

  _send(text) {
    if (this.live) this.ws.send(text);
    else this.pending.push(text);
  }

  _lost(reason) {
    const was = this.connected;
    this.connected = false;
    if (was) this._fire("disconnect", reason);
    else this._fire("connect_error", new Error(reason));
  }

  _fire(name, ...args) {
    const fn = this.handlers[name];
    if (fn) fn(...args);
  }

  _onText(s) {
    switch (s.charCodeAt(0)) {
      case 0x32: // "2" ping -> "3" pong
        this._send("3");
        return;
      case 0x30: // "0" engine open (WebSocket only) -> socket.io CONNECT to "/"
        this.engineOpen = JSON.parse(s.slice(1));
        this._send("40");
        return;
      case 0x34: // "4" engine message carrying a socket.io packet
        this._onPacket(s);
        return;
      default: // "1" close, "6" noop: nothing to do
    }
  }

  _onPacket(s) {
    const type = s.charCodeAt(1);
    if (type === 0x32) {
      // "42["name",arg]": parse only events someone listens to (chatserver's presence is not)
      const fn = this.handlers[s.slice(4, s.indexOf('"', 4))];
      if (fn) fn(JSON.parse(s.slice(2))[1]);
    } else if (type === 0x33) {
      // "43<id>[arg]"
      const open = s.indexOf("[");
      const id = Number(s.slice(2, open));
      const fn = this.acks.get(id);
      this.acks.delete(id);
      if (fn) fn(JSON.parse(s.slice(open))[0]);
    } else if (type === 0x30) {
      this.connected = true;
      if (this.live) this.stage = "login";
      this._fire("connect");
    } else if (type === 0x34) {
      this._fire("connect_error", new Error(`connect refused: ${s.slice(2)}`));
    } else if (type === 0x31) {
      this.connected = false;
      this._fire("disconnect", "io server disconnect");
    }
  }
}

module.exports = { LeanSocket };
