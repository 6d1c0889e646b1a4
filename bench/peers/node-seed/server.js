// The seed tutorial's chat server (Korean Node.js Socket.IO tutorial, shared/seed/000_*.txt)
// ported to socket.io 4.8: the peer chatserver is benchmarked against.
//
// Faithful to the seed: express + cors, a login map id -> socket.id, `message` to 'ALL' via
// io.sockets.emit (everyone, the sender included), one-to-one through the login map with a
// `response` {command, code, message} of '200' or '404', the seed's Korean sentences.
// Changes a 2017 -> 4.8 port needs: `new Server(server)` for `socketio.listen(server)`,
// `io.sockets.sockets.get(id)` for `io.sockets.connected[id]`, and Socket.IO CORS opened to
// any origin, which the seed's socket.io accepted by default. Per-event console.log is off,
// as in production. Rooms follow the seed book's next chapters (chat04-05): `room` create/join/
// leave with socket.join/leave, and a `groupchat` message to `io.sockets.in(room)`; the book's
// room list pushed to everyone after each room command is left out: it is not what the room
// benchmark times, and 5,000 joins would make its set-up quadratic. The one deviation in behaviour: each handler also calls the Socket.IO
// acknowledgement, when the client asked for one, with the same object as `response`, so one
// load generator drives both servers.
"use strict";

const http = require("http");
const express = require("express");
const cors = require("cors");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || process.env.PORT || 3000);
// Loopback by default: this process exists to be benchmarked on this machine.
const host = process.argv[3] || process.env.HOST || "127.0.0.1";
const verbose = process.env.SEED_LOG === "1";

const app = express();
app.use(cors());
app.get("/", (req, res) => res.send("node-seed chat server"));

const server = http.createServer(app);
const io = new Server(server, { cors: { origin: "*" } });

// The seed's login map: login id -> socket.id (never cleaned up, as in the seed).
const login_ids = {};
// The book's rooms: room id -> {id, name, owner}.
const rooms = {};

function sendResponse(socket, command, code, message, ack) {
  const statusObj = { command: command, code: code, message: message };
  socket.emit("response", statusObj);
  if (typeof ack === "function") ack(statusObj);
}

io.sockets.on("connection", function (socket) {
  socket.remoteAddress = socket.request.connection.remoteAddress;
  socket.remotePort = socket.request.connection.remotePort;

  socket.on("login", function (input, ack) {
    if (verbose) console.log("login 이벤트를 받았습니다." + JSON.stringify(input));
    login_ids[input.id] = socket.id;
    socket.login_id = input.id;
    sendResponse(socket, "login", "200", "로그인되었습니다.", ack);
  });

  socket.on("room", function (room, ack) {
    if (verbose) console.log("room 이벤트를 받았습니다." + JSON.stringify(room));
    if (room.command === "create") {
      rooms[room.roomId] = { id: room.roomId, name: room.roomName, owner: socket.login_id };
      socket.join(room.roomId);
      sendResponse(socket, "room", "200", "방을 만들었습니다.", ack);
    } else if (room.command === "join") {
      socket.join(room.roomId);
      sendResponse(socket, "room", "200", "방에 입장했습니다.", ack);
    } else if (room.command === "leave") {
      socket.leave(room.roomId);
      sendResponse(socket, "room", "200", "방에서 나갔습니다.", ack);
    }
  });

  socket.on("message", function (message, ack) {
    if (verbose) console.log("message 이벤트를 받았습니다." + JSON.stringify(message));
    if (message.command === "groupchat") {
      // 방에 들어 있는 모든 사용자에게 메시지 전달
      io.sockets.in(message.recepient).emit("message", message);
      sendResponse(socket, "message", "200", "방 [" + message.recepient + "]의 모든 사용자들에게 메시지를 전송했습니다.", ack);
    } else if (message.recepient == "ALL") {
      // 나를 포함한 모든 클라이언트에게 메시지 전달
      io.sockets.emit("message", message);
      // The seed sends no `response` after a broadcast; the ack gets what chatserver acks.
      if (typeof ack === "function") ack({ command: "message", code: "200", message: "메시지를 전송했습니다." });
    } else if (login_ids[message.recepient]) {
      // 일대일 채팅 대상에게 메시지 전달
      io.sockets.sockets.get(login_ids[message.recepient]).emit("message", message);
      sendResponse(socket, "message", "200", "메시지를 전송했습니다.", ack);
    } else {
      sendResponse(socket, "message", "404", "상대방의 로그인 ID를 찾을 수 없습니다.", ack);
    }
  });
});

server.listen(port, host, function () {
  console.log("node-seed listening on http://" + host + ":" + port + " (pid " + process.pid + ")");
});
