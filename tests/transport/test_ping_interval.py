"""Engine.IO pings in fractions of a second: advertised in milliseconds, and sent at that pace."""

from __future__ import annotations

import json
import time

import websocket

from support import ServerProcess, chatserver_command, free_port


def test_a_half_second_ping_interval_is_advertised_and_kept(tmp_path):
    port = free_port()
    env = {"CHATSERVER_PING_INTERVAL": "0.5", "CHATSERVER_PING_TIMEOUT": "2.5"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket",
                                         timeout=5)
        try:
            packet = ws.recv()
            assert packet[0] == "0", packet  # OPEN
            handshake = json.loads(packet[1:])
            assert (handshake["pingInterval"], handshake["pingTimeout"]) == (500, 2500)

            # Answer every ping for 3 s: a 0.5 s interval (plus a round trip each) makes 5 or 6 of them;
            # a 1 s interval at most 3, no interval at all hundreds.
            pings = 0
            deadline = time.monotonic() + 3.0
            while (remaining := deadline - time.monotonic()) > 0:
                ws.settimeout(remaining)
                try:
                    packet = ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
                assert packet == "2", packet
                pings += 1
                ws.send("3")
            assert 4 <= pings <= 12, pings
        finally:
            ws.close()
