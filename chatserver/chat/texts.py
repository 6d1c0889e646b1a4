"""Human-readable `response` texts, by locale and by (command, code)."""

# The Korean login/message sentences are the seed tutorial's, word for word.
TEXTS = {
    "en": {
        ("login", "200"): "Logged in.",
        ("logout", "200"): "Logged out.",
        ("logout", "404"): "Not logged in.",
        ("message", "200"): "Message sent.",
        ("message", "404"): "The recipient's login ID was not found.",
        "401-login": "Login refused: wrong id or password.",
        "401": "Log in first.",
        "400": "Malformed payload: {detail}.",
        "400-unknown": "Unknown event.",
        "413": "data is longer than {limit} characters.",
        "429": "Too many events: slow down.",
        "500": "Server error; please try again.",
        "500-unreachable": "The other chat servers cannot be reached right now; nothing was delivered. Try again soon.",
        "500-partial": "The other chat servers cannot be reached right now; only users on this server got the message.",
    },
    "ko": {
        ("login", "200"): "로그인되었습니다.",
        ("logout", "200"): "로그아웃되었습니다.",
        ("logout", "404"): "로그인되어 있지 않습니다.",
        ("message", "200"): "메시지를 전송했습니다.",
        ("message", "404"): "상대방의 로그인 ID를 찾을 수 없습니다.",
        "401-login": "로그인이 거부되었습니다: ID 또는 비밀번호가 틀렸습니다.",
        "401": "먼저 로그인하세요.",
        "400": "잘못된 요청입니다: {detail}.",
        "400-unknown": "알 수 없는 이벤트입니다.",
        "413": "data가 {limit}자를 넘습니다.",
        "429": "이벤트가 너무 많습니다. 잠시 후 다시 시도하세요.",
        "500": "서버 오류입니다. 다시 시도하세요.",
        "500-unreachable": "다른 채팅 서버에 연결할 수 없어 메시지를 전달하지 못했습니다. 잠시 후 다시 시도하세요.",
        "500-partial": "지금은 다른 채팅 서버에 연결할 수 없어 이 서버의 사용자에게만 메시지가 전달되었습니다.",
    },
}
