"""The page, its scripts, /healthz, and the CORS and security headers on them."""

from chatserver import create_app


def test_page_is_served_with_its_scripts_and_a_strict_csp(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/chatserver/vendor/socket.io.min.js" in html and "/static/chatserver/chat.js" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_page_offers_guests_and_registration_as_configured(client, tmp_path):
    html = client.get("/").get_data(as_text=True)
    assert 'data-guests="on"' in html and 'data-registration="open"' in html
    closed = create_app({"TESTING": True, "CHATSERVER_GUESTS": False, "CHATSERVER_REGISTRATION": False,
                         "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'closed.sqlite3'}"})
    html = closed.test_client().get("/").get_data(as_text=True)
    assert 'data-guests="off"' in html and 'data-registration="closed"' in html
    closed.extensions["chatserver"].store.close()


def test_page_modules_are_served(client):
    for name in ("chat/i18n.js", "chat/text.js", "chat.css"):
        with client.get(f"/static/chatserver/{name}") as response:
            assert response.status_code == 200


def test_vendored_client_and_page_script_are_served(client):
    with client.get("/static/chatserver/vendor/socket.io.min.js") as script:
        assert script.status_code == 200 and b"Socket.IO" in script.data
    with client.get("/static/chatserver/chat.js") as script:
        assert script.status_code == 200


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok", "version": __import__("chatserver").__version__}


def test_cors_default_allows_any_origin(client):
    response = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://elsewhere.example"


def test_cors_allowlist_is_applied_to_http_routes():
    app = create_app({"TESTING": True, "CHATSERVER_CORS_ORIGINS": ["https://a.example"]})
    http = app.test_client()
    allowed = http.get("/healthz", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    refused = http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
