"""A CHATSERVER_AUTHENTICATOR for the end-to-end tests: every id, password "sesame"."""


def password_is_sesame(user: str, password: str | None) -> bool:
    """Accept any id whose password is "sesame"."""
    return password == "sesame"
