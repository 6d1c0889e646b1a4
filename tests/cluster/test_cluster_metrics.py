"""/metrics of two real nodes on Redis: each counts its own users and deliveries; Redis health follows Redis."""

from __future__ import annotations

import urllib.request

from cluster_support import RedisServer, eventually
from prometheus_client.parser import text_string_to_metric_families

METRICS_ON = {"CHATSERVER_METRICS": "on"}


def gauges(node) -> dict[str, float]:
    """The node's unlabelled samples by name."""
    with urllib.request.urlopen(node.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


def login(client, user):
    assert client.call("login", {"id": user})["code"] == "200"
    return client


def test_each_node_reports_its_own_and_redis_health(tmp_path, start_nodes, connect, user):
    with RedisServer(tmp_path) as redis:
        left, right = start_nodes(2, redis.url, extra_env=METRICS_ON)
        pam, quinn, rob = user("pam"), user("quinn"), user("rob")
        pam_client = login(connect(left.url), pam)
        login(connect(left.url), quinn)
        rob_client = login(connect(right.url), rob)
        pam_client.next("presence", command="online", id=rob)
        before = {node: gauges(node)["chatserver_deliveries_total"] for node in (left, right)}
        assert pam_client.call("message", {"recepient": "ALL", "data": "to both nodes"})["code"] == "200"
        rob_client.next("message", data="to both nodes")

        # One ALL message: each node hands it to its own sockets only.
        eventually(lambda: gauges(left)["chatserver_deliveries_total"] - before[left] == 2, timeout=5)
        eventually(lambda: gauges(right)["chatserver_deliveries_total"] - before[right] == 1, timeout=5)
        for node, users in ((left, 2), (right, 1)):
            now = gauges(node)
            assert now["chatserver_users_logged_in"] == users and now["chatserver_sockets"] == users
            assert now["chatserver_redis_up"] == 1 and now["chatserver_database_up"] == 1

        redis.kill()
        eventually(lambda: gauges(left)["chatserver_redis_up"] == 0, timeout=10)
        assert gauges(left)["chatserver_database_up"] == 1  # PostgreSQL is still there
        redis.start()
        eventually(lambda: gauges(left)["chatserver_redis_up"] == 1, timeout=10)
