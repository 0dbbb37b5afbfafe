"""PostgreSQL connection URLs as kscli shows them: never with a password.

Every message about a PostgreSQL ledger names it by ``mask_dsn`` of its URL, and
scrubs every spelling of a password the URL holds (``secrets_in``) from the text of
the server's or the driver's errors.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

_PASSWORD_PARAMS = ("password",)


def _split_query(query: str) -> list[tuple[str, str]]:
    items = []
    for token in query.split("&"):
        if token:
            key, _, value = token.partition("=")
            items.append((key, value))
    return items


def mask_dsn(url: str) -> str:
    """The URL with any password replaced by ``***``: ``postgresql://ada:***@db:5432/kscli``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "postgresql://***"
    netloc_end = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if at != -1:
            netloc_end = min(netloc_end, at)
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    netloc = f"{userinfo}@{hosts}" if at else hosts
    path, qmark, query = tail.partition("?")
    query = query.split("#", 1)[0]
    if qmark:
        parts = [f"{k}=***" if unquote(k).lower() in _PASSWORD_PARAMS else (f"{k}={v}" if v or "=" in k else k)
                 for k, v in _split_query(query)]
        tail = path + "?" + "&".join(parts)
    else:
        tail = path.split("#", 1)[0]
    return f"{scheme}://{netloc}{tail}"


def secrets_in(url: str) -> list[str]:
    """Every spelling of a password written in the URL, to scrub from messages."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        query = parts.query
    except ValueError:
        netloc, query = url.partition("://")[2], ""
    userinfo = netloc.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    for key, value in _split_query(query):
        if unquote(key).lower() in _PASSWORD_PARAMS:
            found.append(value)
    out = []
    for secret in found:
        for spelling in (secret, unquote(secret)):
            if spelling and spelling not in out:
                out.append(spelling)
    return sorted(out, key=len, reverse=True)


def one_line(text: object) -> str:
    """A server's message on one line (its own line breaks and runs of spaces folded)."""
    return " ".join(str(text).split())
