"use strict";
// A minimal RFC 6455 WebSocket client on a raw TCP socket, for the load generator only.
// Why not `ws`: ws inflates permessage-deflate frames asynchronously on the libuv thread pool,
// which costs ~60 us per received frame: against a server that compresses (eventlet's WebSocket
// does when the client offers it, as browsers do) the generator, not the server, was the bottleneck.
// This client inflates synchronously (~2 us). It offers permessage-deflate like a browser,
// never compresses what it sends (socket.io-client skips frames under 1 KiB too), and speaks
// text frames, ping/pong and close: all a Socket.IO server sends.

const net = require("net");
const crypto = require("crypto");
const zlib = require("zlib");

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const OFFER = "permessage-deflate; client_max_window_bits";

/**
 * A synchronous raw-inflate function that keeps its window between messages (context takeover).
 * Node has no public synchronous streaming inflate, so this drives the stream's native handle the
 * way zlib.inflateRawSync does internally; a self-test below falls back to a public-API version
 * (the previous 32 KiB of output as preset dictionary, ~4x slower) if those internals change.
 */
function handleInflater() {
  const stream = zlib.createInflateRaw({ windowBits: 15 });
  const handle = stream._handle;
  const state = stream._writeState; // [availOutAfter, availInAfter], filled by writeSync
  const out = Buffer.allocUnsafe(16384);
  return (input) => {
    const parts = [];
    let inOff = 0;
    let avail = input.length;
    for (;;) {
      handle.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, avail, out, 0, out.length);
      const produced = out.length - state[0];
      if (produced) parts.push(Buffer.from(out.subarray(0, produced)));
      inOff += avail - state[1];
      avail = state[1];
      if (state[0] !== 0) break; // output space left over: all input consumed
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };
}

/** The portable fallback: the previous 32 KiB of output as the preset dictionary of each message. */
function dictionaryInflater() {
  const WINDOW = 32768;
  const history = Buffer.alloc(2 * WINDOW);
  let end = 0;
  return (input) => {
    const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (end) opts.dictionary = history.subarray(Math.max(0, end - WINDOW), end);
    const out = zlib.inflateRawSync(input, opts);
    const tail = out.length > WINDOW ? out.subarray(out.length - WINDOW) : out;
    if (end + tail.length > history.length) {
      history.copy(history, 0, end - WINDOW, end);
      end = WINDOW;
    }
    tail.copy(history, end);
    end += tail.length;
    return out;
  };
}

/** True if `make`'s inflater decodes two messages where the second refers back to the first. */
function roundTrips(make) {
  const a = "hello hello hello chat message one";
  const b = "hello hello hello chat message two";
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH }; // ends in 00 00 ff ff, like a frame + TRAILER
  const fa = zlib.deflateRawSync(a, sync);
  const fb = zlib.deflateRawSync(b, { ...sync, dictionary: Buffer.from(a) });
  const inflate = make();
  return inflate(fa).toString() === a && inflate(fb).toString() === b;
}

const newInflater = (() => {
  try {
    if (roundTrips(handleInflater)) return handleInflater;
  } catch (e) {
    // zlib internals differ on this Node: use the portable version
  }
  return dictionaryInflater;
})();

/** Encode one masked client frame (text, or a control opcode) holding `payload`. */
function encodeFrame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = (Math.random() * 0x100000000) >>> 0;
  frame.writeUInt32BE(mask, head);
  const m = frame.subarray(head, head + 4);
  payload.copy(frame, head + 4);
  for (let i = 0; i < n; i++) frame[head + 4 + i] ^= m[i & 3];
  return frame;
}

class WsClient {
  /** Open ws://host:port/path; callbacks: onopen(), ontext(string), onclose(reason). */
  constructor(url, path) {
    const u = new URL(url);
    this.onopen = () => {};
    this.ontext = () => {};
    this.onclose = () => {};
    this.open = false;
    this.deflate = false;
    this.buf = null;
    this.fragments = [];
    this.compressed = false;
    this.closed = false;
    const key = crypto.randomBytes(16).toString("base64");
    this.expectAccept = crypto.createHash("sha1").update(key + GUID).digest("base64");
    this.sock = net.connect({ host: u.hostname, port: Number(u.port) || 80 });
    this.sock.setNoDelay(true);
    this.sock.on("connect", () => {
      this.sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${OFFER}\r\n\r\n`,
      );
    });
    this.sock.on("data", (chunk) => this._onData(chunk));
    this.sock.on("error", (err) => this._close(err.message));
    this.sock.on("close", () => this._close("transport close"));
  }

  /** Send one text frame. */
  send(text) {
    if (this.open) this.sock.write(encodeFrame(0x1, Buffer.from(text)));
  }

  /** Send a close frame and end the TCP connection. */
  close() {
    if (this.open) this.sock.write(encodeFrame(0x8, Buffer.from([0x03, 0xe8])));
    this.open = false;
    this.sock.end();
  }

  _close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    this.sock.destroy();
    this.onclose(reason);
  }

  _onData(chunk) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.open && !this._handshake()) return;
    let off = 0;
    const b = this.buf;
    while (b.length - off >= 2 && !this.closed) {
      const b0 = b[off];
      let len = b[off + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = Number(b.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (b.length - off < head + len) break;
      this._onFrame(b0, b.subarray(off + head, off + head + len));
      off += head + len;
    }
    this.buf = off >= b.length ? null : b.subarray(off);
  }

  /** Parse the 101 response; false while it is incomplete. */
  _handshake() {
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const head = this.buf.subarray(0, end).toString("latin1");
    this.buf = this.buf.subarray(end + 4);
    if (!/^HTTP\/1\.1 101 /.test(head) || !head.includes(this.expectAccept)) {
      this._close(`handshake refused: ${head.split("\r\n", 1)[0]}`);
      return false;
    }
    const ext = /^sec-websocket-extensions:(.*)$/im.exec(head);
    if (ext && ext[1].includes("permessage-deflate")) {
      this.deflate = true;
      this.resetEachMessage = ext[1].includes("server_no_context_takeover");
      this.inflate = newInflater();
    }
    this.open = true;
    this.onopen();
    return !this.closed;
  }

  _onFrame(b0, payload) {
    const opcode = b0 & 0x0f;
    if (opcode === 0x9) return this.sock.write(encodeFrame(0xa, Buffer.from(payload))); // ping -> pong
    if (opcode === 0xa) return undefined;
    if (opcode === 0x8) {
      if (this.open) this.sock.write(encodeFrame(0x8, Buffer.from(payload.subarray(0, 2))));
      return this._close("server close");
    }
    if (opcode !== 0x0) this.compressed = (b0 & 0x40) !== 0; // RSV1 on a message's first frame
    this.fragments.push(payload);
    if (!(b0 & 0x80)) return undefined; // not FIN: wait for the rest
    let data = this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments);
    this.fragments = [];
    if (this.compressed) {
      if (this.resetEachMessage) this.inflate = newInflater();
      data = this.inflate(Buffer.concat([data, TRAILER]));
    }
    this.ontext(data.toString());
    return undefined;
  }
}

module.exports = { WsClient, roundTrips, handleInflater, dictionaryInflater, newInflater };
