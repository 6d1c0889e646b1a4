"""A client that floods `message` events for a while: `python flooder.py PORT SECONDS`.

It sends windows of 200 events back to back and reads the 200 answers before the next window:
as fast as the server answers, without turning into a client that stops reading (which the
server would drop as a slow consumer). Runs as its own process so its work does not slow the
test's measuring client. Prints the tally as JSON.
"""

import collections
import json
import sys
import time

import websocket

WINDOW = 200
EVENT = "42" + json.dumps(["message", {"recepient": "flooder", "data": "flood"}])


def main(port: int, seconds: float) -> None:
    """Flood the server on ``port`` for ``seconds`` and print the tally."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    ws.recv()  # Engine.IO OPEN
    ws.send("40")
    ws.send("42" + json.dumps(["login", {"id": "flooder"}]))
    codes, sent = collections.Counter(), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(WINDOW):
            ws.send(EVENT)
        sent += WINDOW
        answered = 0
        while answered < WINDOW:
            packet = ws.recv()
            if packet == "2":
                ws.send("3")
            elif packet.startswith('42["response"'):
                answer = json.loads(packet[2:])[1]
                if answer["command"] == "message":
                    codes[answer["code"]] += 1
                    answered += 1
    ws.send("41")
    ws.close()
    print(json.dumps({"sent": sent, "codes": codes, "seconds": seconds}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
