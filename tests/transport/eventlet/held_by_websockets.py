"""Run by test_upgraded.py in a process of its own: serve chatserver under eventlet, connect real
WebSocket clients, and print what the server still holds of their HTTP requests as one JSON line.

argv: DATABASE_URL CLIENTS. Half the clients connect over WebSocket directly, half the way a browser
does (a long-polling handshake, then the upgrade).
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated\.", category=Warning)
    import eventlet

eventlet.monkey_patch()

import gc  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import eventlet.wsgi  # noqa: E402
import websocket  # noqa: E402

from chatserver import create_app  # noqa: E402
from chatserver.transport.eventlet.server import protocol_class  # noqa: E402

PATH = "/socket.io/?EIO=4"


def held() -> dict:
    """Count what the process holds of HTTP requests: parsed headers and raw copies of them."""
    gc.collect()
    objects = gc.get_objects()
    return {
        "headers": sum(1 for o in objects if isinstance(o, http.client.HTTPMessage)),
        "raw_header_copies": sum(1 for o in objects if isinstance(o, dict) and "headers_raw" in o),
    }


def receive(ws) -> str:
    """The next packet that is not a PING (answered)."""
    while True:
        packet = ws.recv()
        if packet != "2":
            return packet
        ws.send("3")


def direct_websocket(port: int):
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}{PATH}&transport=websocket", timeout=10)
    assert ws.recv().startswith("0{")
    ws.send("40")
    assert receive(ws).startswith("40{")
    return ws


def upgraded_websocket(port: int):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", f"{PATH}&transport=polling")
    sid = json.loads(connection.getresponse().read()[1:])["sid"]
    query = f"{PATH}&transport=polling&sid={sid}"
    connection.request("POST", query, body=b"40")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    connection.request("GET", query)
    assert connection.getresponse().read().startswith(b"40{")
    connection.close()
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}{PATH}&transport=websocket&sid={sid}", timeout=10)
    ws.send("2probe")
    assert receive(ws) == "3probe"
    ws.send("5")
    return ws


def main() -> None:
    database_url, clients = sys.argv[1], int(sys.argv[2])
    app = create_app({"CHATSERVER_DATABASE_URL": database_url, "CHATSERVER_RATE_LIMIT_PER_SECOND": 0})
    listener = eventlet.listen(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    eventlet.spawn(eventlet.wsgi.server, listener, app, protocol=protocol_class(20.0), log_output=False, debug=False)
    eventlet.sleep(0.1)
    descriptors_before = len(os.listdir("/proc/self/fd"))
    before = held()
    sockets = [direct_websocket(port) if i % 2 else upgraded_websocket(port) for i in range(clients)]
    eventlet.sleep(0.2)
    during = held()
    # The connections still work after the server let go of their requests: every client logs in.
    answers = []
    for i, ws in enumerate(sockets):
        ws.send("42" + str(i) + json.dumps(["login", {"id": f"held{i}"}]))
    for i, ws in enumerate(sockets):
        while True:
            packet = receive(ws)
            if packet.startswith("43" + str(i) + "["):
                answers.append(json.loads(packet[2 + len(str(i)):])[0]["code"])
                break
    for ws in sockets:
        ws.close()
    eventlet.sleep(1.0)
    print(json.dumps({
        "clients": clients, "before": before, "during": during, "answers": answers,
        "descriptors_before": descriptors_before, "descriptors_after": len(os.listdir("/proc/self/fd")),
    }))


if __name__ == "__main__":
    main()
