"""ChatNamespace through Flask-SocketIO's test client: two and three users in one process."""


def events(test_client, name=None):
    """Return the (name, payload) pairs a test client received since last asked."""
    return [(e["name"], e["args"] if isinstance(e["args"], dict) else e["args"][0])
            for e in test_client.get_received() if name is None or e["name"] == name]


def login(test_client, user, **fields):
    reply = test_client.emit("login", {"id": user, **fields}, callback=True)
    assert reply["code"] == "200"
    return reply


def test_login_answers_with_response_ack_the_room_list_and_presence(connect):
    alice = connect()
    reply = login(alice, "alice", alias="Alice")
    assert events(alice) == [
        ("response", reply),
        ("room", {"command": "list", "rooms": []}),
        ("presence", {"command": "list", "users": [{"id": "alice", "alias": "Alice"}]}),
        ("presence", {"command": "online", "id": "alice", "alias": "Alice"}),
    ]


def test_lang_in_the_connect_auth_picks_the_socket_language(connect):
    korean, english = connect(auth={"lang": "ko"}), connect()
    assert login(korean, "alice")["message"] == "로그인되었습니다."
    assert login(english, "bob")["message"] == "Logged in."
    assert korean.emit("room", {"command": "join", "roomId": "nowhere"}, callback=True)["code"] == "404"
    assert korean.emit("room", {"command": "list"}, callback=True)["message"] == "방 목록입니다."


def test_presence_reaches_logged_in_sockets_only(connect):
    alice, bob, lurker = connect(), connect(), connect()
    login(alice, "alice")
    login(bob, "bob")
    assert events(alice, "presence")[-1] == ("presence", {"command": "online", "id": "bob", "alias": "bob"})
    bob.disconnect()
    assert events(alice, "presence") == [("presence", {"command": "offline", "id": "bob", "alias": "bob"})]
    assert events(lurker) == []


def test_one_to_one_reaches_every_socket_of_the_recipient_only(connect):
    alice, bob_phone, bob_laptop, carol = connect(), connect(), connect(), connect()
    for test_client, user in ((alice, "alice"), (bob_phone, "bob"), (bob_laptop, "bob"), (carol, "carol")):
        login(test_client, user)
    for test_client in (alice, bob_phone, bob_laptop, carol):
        test_client.get_received()

    ack = alice.emit("message", {"recepient": "bob", "data": "hi", "sender": "carol", "extra": 1}, callback=True)
    assert ack == {"command": "message", "code": "200", "message": "Message sent."}
    assert events(alice) == [("response", ack)]
    for device in (bob_phone, bob_laptop):
        ((name, message),) = events(device)
        assert name == "message"
        assert set(message) == {"id", "sender", "recepient", "command", "type", "data", "timestamp"}
        assert (message["sender"], message["recepient"], message["data"]) == ("alice", "bob", "hi")
    assert events(carol) == []


def test_all_reaches_every_connected_socket_including_the_sender_without_response(connect):
    alice, bob, anonymous = connect(), connect(), connect()
    login(alice, "alice")
    login(bob, "bob")
    for test_client in (alice, bob, anonymous):
        test_client.get_received()
    ack = alice.emit("message", {"recepient": "ALL", "data": "hello"}, callback=True)
    assert ack["code"] == "200"
    received = [events(test_client) for test_client in (alice, bob, anonymous)]
    assert all(len(r) == 1 and r[0][0] == "message" and r[0][1]["data"] == "hello" for r in received)
    assert len({r[0][1]["id"] for r in received}) == 1


def test_offline_recipient_is_404_and_nothing_is_delivered(connect):
    alice, bob = connect(), connect()
    login(alice, "alice")
    bob.get_received()
    ack = alice.emit("message", {"recepient": "bob", "data": "hi"}, callback=True)
    assert ack["code"] == "404"
    assert events(alice, "response")[-1] == ("response", ack)
    assert events(bob) == []


def test_reserved_event_names_do_not_run_lifecycle_handlers(connect):
    alice, bob = connect(), connect()
    login(alice, "alice")
    login(bob, "bob")
    bob.get_received()
    for name in ("disconnect", "connect"):
        ack = alice.emit(name, {"id": "x"}, callback=True)
        assert ack == {"command": name, "code": "400", "message": "Unknown event."}
    assert alice.is_connected()
    assert alice.emit("message", {"recepient": "bob", "data": "still here"}, callback=True)["code"] == "200"
    assert [name for name, _ in events(bob)] == ["message"]  # no offline event for alice


def test_logout_then_message_is_401(connect):
    alice = connect()
    login(alice, "alice")
    assert alice.emit("logout", callback=True)["code"] == "200"
    assert alice.emit("logout", callback=True)["code"] == "404"
    assert alice.emit("message", {"recepient": "ALL", "data": "x"}, callback=True)["code"] == "401"


def test_rate_limit_answers_429_and_keeps_the_socket(app, connect):
    app.extensions["chatserver"].service.rate_per_second = 0.001
    app.extensions["chatserver"].service.burst = 2
    alice = connect()
    codes = [alice.emit("logout", callback=True)["code"] for _ in range(3)]
    assert codes == ["404", "404", "429"]
    assert alice.is_connected()


def test_chat_in_its_own_namespace():
    from chatserver import create_app

    app = create_app({"TESTING": True, "CHATSERVER_NAMESPACE": "/chat"})
    socketio = app.extensions["chatserver"].socketio
    in_chat = socketio.test_client(app, namespace="/chat")
    assert in_chat.emit("login", {"id": "alice"}, callback=True, namespace="/chat")["code"] == "200"
    assert in_chat.get_received("/chat")[0]["name"] == "response"
