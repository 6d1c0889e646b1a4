"""ChatService and MemoryPresence with plain values: no Flask, no sockets."""

import pytest
from chat_support import FakeClock

from chatserver.chat import ONLINE_ROOM, ChatService, Delivery, user_room
from chatserver.chat.accounts import Accounts
from chatserver.chat.outbox import EVERY_CHAT_ROOM
from chatserver.chat.presence import MemoryPresence
from chatserver.chat.ratelimit import TokenBucket
from chatserver.chat.texts import TEXTS


@pytest.fixture
def service():
    ids = iter(f"m{n}" for n in range(1000))
    return ChatService(clock=FakeClock(1_700_000_000.5), new_id=lambda: next(ids), rate_per_second=0)


def codes(outbox):
    return outbox.reply["code"]


def test_login_replies_lists_users_and_announces_first_socket(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s2", "login", {"id": " bob ", "alias": "Bobby"})
    assert outbox.reply == {"command": "login", "code": "200", "message": "Logged in.", "registered": False}
    assert outbox.respond
    assert outbox.joins == [user_room("bob"), ONLINE_ROOM]
    assert outbox.deliveries == [
        Delivery("presence", {"command": "list", "users": [
            {"id": "alice", "alias": "alice"}, {"id": "bob", "alias": "Bobby"}]}, "s2"),
        Delivery("presence", {"command": "online", "id": "bob", "alias": "Bobby"}, ONLINE_ROOM),
    ]


def test_second_socket_of_a_user_is_not_announced_again(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s2", "login", {"id": "alice"})
    assert [d.payload["command"] for d in outbox.deliveries] == ["list"]
    assert service.presence.users() == [{"id": "alice", "alias": "alice"}]


def test_login_again_with_another_id_switches_the_socket(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "login", {"id": "bob"})
    assert outbox.leaves == [user_room("alice"), ONLINE_ROOM, EVERY_CHAT_ROOM], "and every chat room of alice"
    assert outbox.joins == [user_room("bob"), ONLINE_ROOM]
    commands = [(d.payload["command"], d.payload.get("id")) for d in outbox.deliveries]
    assert commands == [("list", None), ("offline", "alice"), ("online", "bob")]
    assert not service.presence.is_online("alice")
    assert service.presence.user_of("s1") == "bob"


def test_login_again_with_the_same_id_changes_nothing(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "login", {"id": "alice"})
    assert codes(outbox) == "200"
    assert outbox.leaves == outbox.joins == []
    assert [d.payload["command"] for d in outbox.deliveries] == ["list"]


@pytest.mark.parametrize(
    "payload",
    [
        None, "alice", 42, ["alice"], {}, {"id": None}, {"id": 7}, {"id": ""}, {"id": "   "},
        {"id": "x" * 65}, {"id": "a\nb"}, {"id": "a\x00b"}, {"id": "ALL"}, {"id": "all"}, {"id": " All "},
        {"id": "alice", "alias": 3}, {"id": "alice", "alias": "x" * 65}, {"id": "alice", "password": 1},
    ],
)
def test_bad_login_is_400_and_keeps_the_existing_login(service, payload):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "login", payload)
    assert codes(outbox) == "400"
    assert outbox.deliveries == [] and outbox.leaves == []
    assert service.presence.user_of("s1") == "alice"


def test_id_of_64_code_points_is_accepted(service):
    assert codes(service.handle("s1", "login", {"id": "가" * 64})) == "200"


def test_authenticator_refuses_with_401_and_keeps_the_existing_login():
    service = ChatService(accounts=Accounts(None, authenticator=lambda user, password: password == "secret"),
                          rate_per_second=0)
    assert codes(service.handle("s1", "login", {"id": "alice", "password": "secret"})) == "200"
    outbox = service.handle("s1", "login", {"id": "bob", "password": "wrong"})
    assert outbox.reply == {"command": "login", "code": "401", "message": "Login refused: wrong id or password."}
    assert codes(service.handle("s2", "login", {"id": "carol"})) == "401"
    assert service.presence.user_of("s1") == "alice"


def test_logout_announces_the_last_socket_only(service):
    service.handle("s1", "login", {"id": "alice"})
    service.handle("s2", "login", {"id": "alice"})
    first = service.handle("s1", "logout", {"ignored": True})
    assert codes(first) == "200" and first.deliveries == []
    second = service.handle("s2", "logout")
    assert second.reply == {"command": "logout", "code": "200", "message": "Logged out."}
    assert second.deliveries == [Delivery("presence", {"command": "offline", "id": "alice", "alias": "alice"},
                                          ONLINE_ROOM)]
    assert codes(service.handle("s2", "logout")) == "404"


def test_disconnect_logs_out_without_a_reply(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.disconnect("s1")
    assert outbox.reply is None
    assert [d.payload["command"] for d in outbox.deliveries] == ["offline"]
    assert service.disconnect("s1").deliveries == []


def test_message_to_all_is_broadcast_with_server_fields_and_no_response(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "message", {"recepient": "ALL", "data": "hi", "sender": "mallory", "x": 1})
    assert outbox.reply["code"] == "200" and not outbox.respond
    assert outbox.deliveries == [Delivery("message", {
        "id": "m0", "sender": "alice", "recepient": "ALL", "command": "chat", "type": "text", "data": "hi",
        "timestamp": 1_700_000_000_500}, None)]


def test_message_to_one_user_goes_to_their_room(service):
    service.handle("s1", "login", {"id": "alice"})
    service.handle("s2", "login", {"id": "bob"})
    outbox = service.handle("s1", "message", {"recepient": "bob", "command": "emote", "type": "x", "data": ""})
    assert outbox.reply == {"command": "message", "code": "200", "message": "Message sent."} and outbox.respond
    (delivery,) = outbox.deliveries
    assert delivery.payload["command"] == "emote" and delivery.payload["type"] == "x"
    # The sender's other sockets get the same message, in the same emit; the sending socket does not.
    assert (delivery.to, delivery.skip) == ([user_room("bob"), user_room("alice")], "s1")


def test_message_to_oneself_goes_to_each_of_ones_sockets_once(service):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "message", {"recepient": "alice", "data": "note to self"})
    assert [(d.to, d.skip) for d in outbox.deliveries] == [(user_room("alice"), None)]


def test_message_to_someone_offline_is_404_and_delivers_nothing(service):
    service.handle("s1", "login", {"id": "alice"})
    for recipient in ("bob", "all", " ALL"):
        outbox = service.handle("s1", "message", {"recepient": recipient, "data": "hi"})
        assert outbox.reply["code"] == "404" and outbox.deliveries == []


def test_message_before_login_is_401_whatever_else_is_wrong(service):
    for payload in ({"recepient": "ALL", "data": "hi"}, None, "junk", {"data": 5}):
        assert service.handle("s1", "message", payload).reply == {
            "command": "message", "code": "401", "message": "Log in first."}


@pytest.mark.parametrize(
    "payload",
    [None, "hi", [], {"data": "hi"}, {"recepient": 5, "data": "hi"}, {"recepient": "x" * 65, "data": "hi"},
     {"recepient": "ALL"}, {"recepient": "ALL", "data": None}, {"recepient": "ALL", "data": 5},
     {"recepient": "ALL", "data": "hi", "command": 1}, {"recepient": "ALL", "data": "hi", "type": {}},
     {"recepient": "ALL", "data": "nul \x00 inside"}],
)
def test_malformed_message_is_400(service, payload):
    service.handle("s1", "login", {"id": "alice"})
    outbox = service.handle("s1", "message", payload)
    assert outbox.reply["code"] == "400" and outbox.deliveries == []


def test_data_length_counts_code_points():
    service = ChatService(max_message_length=3, rate_per_second=0)
    service.handle("s1", "login", {"id": "alice"})
    assert service.handle("s1", "message", {"recepient": "ALL", "data": "😀😀😀"}).reply["code"] == "200"
    outbox = service.handle("s1", "message", {"recepient": "ALL", "data": "😀😀😀😀"})
    assert outbox.reply == {"command": "message", "code": "413", "message": "data is longer than 3 characters."}


def test_unknown_events_are_400_with_their_name():
    service = ChatService(rate_per_second=0)
    assert service.handle("s1", "disconnect").reply == {
        "command": "disconnect", "code": "400", "message": "Unknown event."}
    assert service.handle("s1", 42).reply["command"] == ""
    assert service.handle("s1", {"a": 1}).reply == {"command": "", "code": "400", "message": "Unknown event."}
    assert service.handle("s1", "x" * 500).reply["command"] == "x" * 64


def test_unexpected_fault_is_500_and_logged(caplog):
    def broken(user, password):
        raise RuntimeError("directory down")

    service = ChatService(accounts=Accounts(None, authenticator=broken), rate_per_second=0)
    outbox = service.handle("s1", "login", {"id": "alice"})
    assert outbox.reply == {"command": "login", "code": "500", "message": "Server error; please try again."}
    assert "directory down" in caplog.text


def test_korean_locale_uses_the_seed_sentences():
    service = ChatService(locale="ko", rate_per_second=0)
    assert service.handle("s1", "login", {"id": "alice"}).reply["message"] == "로그인되었습니다."
    assert service.handle("s1", "message", {"recepient": "bob", "data": "x"}).reply["message"] == (
        "상대방의 로그인 ID를 찾을 수 없습니다.")
    assert service.handle("s1", "message", {"recepient": "alice", "data": "x"}).reply["message"] == (
        "메시지를 전송했습니다.")


def test_each_socket_is_answered_in_the_language_it_asked_for():
    service = ChatService(rate_per_second=0)
    service.connect("korean", "127.0.0.1", "ko")
    service.connect("english", "127.0.0.1")
    service.connect("unknown", "127.0.0.1", "fr")
    assert service.handle("korean", "login", {"id": "alice"}).reply["message"] == "로그인되었습니다."
    assert service.handle("english", "login", {"id": "bob"}).reply["message"] == "Logged in."
    assert service.handle("unknown", "login", {"id": "carol"}).reply["message"] == "Logged in."
    assert service.handle("korean", "message", {"recepient": "nobody", "data": "x"}).reply == {
        "command": "message", "code": "404", "message": "상대방의 로그인 ID를 찾을 수 없습니다."}
    assert service.handle("korean", "message", {"recepient": "x", "data": "x" * 2001}).reply["message"] == (
        TEXTS["ko"]["413"].format(limit=2000))
    assert service.handle("english", "message", {"recepient": "nobody", "data": "x"}).reply["message"] == (
        "The recipient's login ID was not found.")


def test_login_lang_switches_the_socket_language_refusals_included():
    service = ChatService(locale="ko", rate_per_second=0)
    service.connect("s1", "127.0.0.1")
    refused = service.handle("s1", "login", {"id": "ALL", "lang": "en"}).reply
    assert refused["code"] == "400" and refused["message"].startswith("Malformed payload")
    assert service.handle("s1", "login", {"id": "alice", "lang": "en"}).reply["message"] == "Logged in."
    assert service.handle("s1", "login", {"id": "alice", "lang": "ko"}).reply["message"] == "로그인되었습니다."
    service.disconnect("s1")
    service.connect("s1", "127.0.0.1")
    assert service.handle("s1", "login", {"id": "alice"}).reply["message"] == "로그인되었습니다."


def test_unknown_locale_is_refused():
    with pytest.raises(ValueError, match="locale"):
        ChatService(locale="fr")


def test_rate_limit_drops_excess_events_with_429_then_refills():
    clock = FakeClock()
    service = ChatService(rate_per_second=2, burst=3, monotonic=clock)
    replies = [service.handle("s1", "logout").reply["code"] for _ in range(4)]
    assert replies == ["404", "404", "404", "429"]
    assert service.handle("s2", "logout").reply["code"] == "404"  # other sockets are not affected
    clock.now += 0.5
    assert service.handle("s1", "logout").reply["code"] == "404"
    assert service.handle("s1", "logout").reply["code"] == "429"


def test_token_bucket_never_exceeds_its_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    clock.now += 100
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_memory_presence_keeps_the_first_alias_until_the_user_leaves():
    presence = MemoryPresence()
    assert presence.add("s1", "alice", "Al") is True
    assert presence.add("s2", "alice", "Alice") is False
    assert presence.users() == [{"id": "alice", "alias": "Al"}]
    assert presence.remove("s1").last is False
    departure = presence.remove("s2")
    assert (departure.user, departure.alias, departure.last) == ("alice", "Al", True)
    assert presence.remove("s2") is None and presence.users() == []


def test_memory_presence_users_stay_sorted_and_current_as_users_come_and_go():
    presence = MemoryPresence()
    presence.add("s1", "carol", "C")
    presence.add("s2", "alice", "A")
    listed = presence.users()
    assert listed == [{"id": "alice", "alias": "A"}, {"id": "carol", "alias": "C"}]
    listed.append({"id": "mallory", "alias": "M"})  # a caller's changes to its copy stay there
    presence.add("s3", "bob", "B")
    assert [user["id"] for user in presence.users()] == ["alice", "bob", "carol"]
    presence.add("s4", "bob", "Bobby")  # a second socket changes nothing
    assert [user["id"] for user in presence.users()] == ["alice", "bob", "carol"]
    presence.remove("s2")
    assert presence.users() == [{"id": "bob", "alias": "B"}, {"id": "carol", "alias": "C"}]


def test_message_ids_are_unique_within_and_across_services():
    first, second = ChatService(rate_per_second=0), ChatService(rate_per_second=0)
    ids = {service.new_id() for service in (first, second) for _ in range(1000)}
    assert len(ids) == 2000


def test_every_text_has_a_korean_sentence():
    from chatserver.chat.texts import TEXTS

    assert set(TEXTS["ko"]) == set(TEXTS["en"])
