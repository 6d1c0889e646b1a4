"""The shipped deploy/nginx config, in a real nginx, in front of two nodes sharing Redis."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from cluster_support import Nginx


@pytest.fixture
def nginx_and_nodes(redis_server, start_nodes, tmp_path):
    """Two nodes and nginx with the shipped site config pointed at them."""
    nodes = start_nodes(2, redis_server.url)
    with Nginx([node.port for node in nodes], tmp_path) as nginx:
        yield nginx, nodes


def test_page_and_health_check_through_nginx(nginx_and_nodes):
    nginx, _ = nginx_and_nodes
    with urllib.request.urlopen(nginx.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    with urllib.request.urlopen(nginx.url + "/", timeout=5) as response:
        assert response.status == 200 and b"socket.io" in response.read()


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]],
                         ids=["long-polling", "websocket", "polling-then-upgrade"])
def test_clients_through_nginx_chat_with_clients_on_either_node(nginx_and_nodes, connect, user, transports):
    nginx, nodes = nginx_and_nodes
    proxied, first, second = user("proxied"), user("first"), user("second")
    through_nginx = connect(nginx.url, transports=transports)
    assert through_nginx.call("login", {"id": proxied})["code"] == "200"
    # ip_hash sends every loopback client to the same node, so one of these is on the other node.
    direct = [connect(node.url) for node in nodes]
    for client, name in zip(direct, (first, second), strict=True):
        assert client.call("login", {"id": name})["code"] == "200"

    for client, name in zip(direct, (first, second), strict=True):
        assert through_nginx.call("message", {"recepient": name, "data": f"to {name}"})["code"] == "200"
        assert client.next("message")["data"] == f"to {name}"
        assert client.call("message", {"recepient": proxied, "data": f"from {name}"})["code"] == "200"
        assert through_nginx.next("message", data=f"from {name}")["sender"] == name

    # Many round trips on one session: each long-poll must reach the node that holds it.
    for number in range(20):
        assert through_nginx.call("message", {"recepient": "ALL", "data": f"all {number}"})["code"] == "200"
    for client in [through_nginx, *direct]:
        client.next("message", data="all 19")
    assert through_nginx.sio.transport() == transports[-1]


def test_the_control_endpoint_and_metrics_are_not_served_through_nginx(redis_server, start_nodes, tmp_path):
    """The nodes answer /admin/ (token) and /metrics (on here, allowed to everyone), but nginx does not pass them on."""
    settings = {"CHATSERVER_ADMIN_TOKEN": "t", "CHATSERVER_METRICS": "on", "CHATSERVER_METRICS_ALLOW": "0.0.0.0/0"}
    nodes = start_nodes(2, redis_server.url, extra_env=settings)
    direct = urllib.request.Request(nodes[0].url + "/admin/online", headers={"Authorization": "Bearer t"})
    with urllib.request.urlopen(direct, timeout=5) as response:
        assert response.status == 200
    with urllib.request.urlopen(nodes[0].url + "/metrics", timeout=5) as response:
        assert response.status == 200
    with Nginx([node.port for node in nodes], tmp_path) as nginx:
        for path in ("/admin/online", "/metrics"):
            request = urllib.request.Request(nginx.url + path, headers={"Authorization": "Bearer t"})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            refused.value.close()
            assert refused.value.code == 404, path
