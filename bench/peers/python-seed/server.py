"""The seed's chat server as the plain stack writes it: Flask-SocketIO on eventlet, nothing of chatserver.

The floor under chatserver's figures: node-seed's handlers (bench/peers/node-seed/server.js)
line for line on the packages the user asked for (Flask, flask-cors, Flask-SocketIO,
python-socketio, eventlet), each with its defaults but eventlet's connection cap. What this server does per message is the
least any server on that stack does, so chatserver/python-seed says what chatserver's own
layers cost or save, and python-seed/node-seed what the stack allows at best.

    python bench/peers/python-seed/server.py PORT [HOST]
"""

import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # eventlet's deprecation notice
    import eventlet

eventlet.monkey_patch()

from flask import Flask, request  # noqa: E402
from flask_cors import CORS  # noqa: E402
from flask_socketio import SocketIO, emit, join_room, leave_room  # noqa: E402

app = Flask(__name__)
CORS(app)
socketio = SocketIO(app, cors_allowed_origins="*", async_mode="eventlet")

login_ids: dict = {}  # login id -> sid, never cleaned up, as in the seed
login_of: dict = {}  # sid -> login id (the seed's socket.login_id)
rooms: dict = {}


def send_response(command: str, code: str, message: str) -> dict:
    status = {"command": command, "code": code, "message": message}
    emit("response", status)
    return status  # the acknowledgement, as node-seed's


@app.get("/")
def index() -> str:
    return "python-seed chat server"


@socketio.on("login")
def login(data: dict) -> dict:
    login_ids[data["id"]] = request.sid
    login_of[request.sid] = data["id"]
    return send_response("login", "200", "로그인되었습니다.")


@socketio.on("room")
def room(data: dict):
    if data["command"] == "create":
        rooms[data["roomId"]] = {"id": data["roomId"], "name": data.get("roomName"), "owner": login_of.get(request.sid)}
        join_room(data["roomId"])
        return send_response("room", "200", "방을 만들었습니다.")
    if data["command"] == "join":
        join_room(data["roomId"])
        return send_response("room", "200", "방에 입장했습니다.")
    if data["command"] == "leave":
        leave_room(data["roomId"])
        return send_response("room", "200", "방에서 나갔습니다.")
    return None


@socketio.on("message")
def message(data: dict) -> dict:
    if data.get("command") == "groupchat":
        emit("message", data, to=data["recepient"])
        return send_response("message", "200", "방 [" + data["recepient"] + "]의 모든 사용자들에게 메시지를 전송했습니다.")
    if data.get("recepient") == "ALL":
        emit("message", data, broadcast=True)
        return {"command": "message", "code": "200", "message": "메시지를 전송했습니다."}
    if data.get("recepient") in login_ids:
        emit("message", data, to=login_ids[data["recepient"]])
        return send_response("message", "200", "메시지를 전송했습니다.")
    return send_response("message", "404", "상대방의 로그인 ID를 찾을 수 없습니다.")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    print(f"python-seed listening on http://{host}:{port}", flush=True)
    # The one setting not left at its default: eventlet's pool of 1,024 green threads would cap
    # the clients at 1,024, and the connect scenario holds 2,000.
    socketio.run(app, host=host, port=port, log_output=False, max_size=100_000)
