"""Sending a reminder digest to a --notify address (`kscli remind` only imports this).

- ``https://...`` or ``http://...``: a JSON POST (``{"title", "text", "deadlines"}``);
  a user and password in the URL go as HTTP Basic authentication, never in the URL
  sent.
- ``ntfy://HOST/TOPIC``: a ntfy message, POSTed to ``https://HOST/TOPIC`` (the digest
  as the body, a ``Title`` header); ``ntfy://TOKEN@HOST/TOPIC`` sends the access token
  as ``Authorization: Bearer``, ``ntfy://USER:PASSWORD@HOST/TOPIC`` as Basic.
  ``ntfy+http://HOST:PORT/TOPIC`` posts over plain HTTP (a server on one's own network).
- ``mailto:ADDRESS``: an email through the server of ``KSCLI_SMTP_URL``
  (``smtp://USER@HOST:PORT``; no user for a relay that needs no login; port 25 by
  default, ``smtps://`` for TLS from the start, port 465 by default). The password is
  ``KSCLI_SMTP_PASSWORD``, else the keyring's (service ``kscli-smtp``, user
  ``USER@HOST``); a password in the URL is refused. STARTTLS is used whenever the
  server offers it (certificates checked against the system's authorities, or the file
  named by ``SSL_CERT_FILE``), and required before a password is sent: kscli never
  sends one in clear. The sender is ``KSCLI_SMTP_FROM``, else the user when it is an
  address, else the recipient.

A delivery that fails raises :class:`DeliveryFailed` with one line that names the
address without its user, password, token or query (:func:`shown`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from kscli.domain.errors import Failure

TIMEOUT = 20  # seconds for one delivery
_SCHEMES = ("https", "http", "ntfy", "ntfy+http", "mailto")


class DeliveryFailed(Failure):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"could not send the reminders to {where}: {why}; nothing was "
                         "recorded as reminded there", code="delivery-failed",
                         hint="fix it and run `kscli remind` again: it sends what was not sent")


def shown(address: str) -> str:
    """The address as messages and the ledger show it: no user, password, token or query."""
    if address.lower().startswith("mailto:"):
        return address
    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "a --notify address that cannot be read"
    where = f"{parts.scheme}://{host}{port}{parts.path}"
    return where + ("?…" if parts.query else "")


def problem(address: str) -> str | None:
    """Why ``address`` cannot be a --notify address, or None."""
    scheme = address.split(":", 1)[0].lower() if ":" in address else ""
    if scheme not in _SCHEMES:
        return (f"{shown(address)!r} is not a --notify address: write https://..., http://..., "
                "ntfy://HOST/TOPIC or mailto:ADDRESS")
    if scheme == "mailto":
        return None if "@" in address[7:] else "mailto: needs an address (mailto:me@example.com)"
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"{shown(address)} has a bad host or port"
    if not parts.hostname:
        return f"{shown(address)} names no host"
    if scheme.startswith("ntfy") and parts.path.strip("/") == "":
        return f"{shown(address)} names no topic (ntfy://HOST/TOPIC)"
    return None


def send(address: str, title: str, text: str, records: list[dict[str, Any]],
         env: Mapping[str, str] | None = None) -> None:
    """Deliver one digest; raise DeliveryFailed."""
    env = os.environ if env is None else env
    scheme = address.split(":", 1)[0].lower()
    if scheme == "mailto":
        _mail(unquote(address[7:].split("?", 1)[0]), title, text, env)
    elif scheme.startswith("ntfy"):
        _ntfy(address, title, text)
    else:
        body = json.dumps({"title": title, "text": text, "deadlines": records}).encode("utf-8")
        _post(address, body, {"Content-Type": "application/json"})


def _auth(user: str | None, password: str | None, bearer: bool) -> dict[str, str]:
    import base64

    if user is None:
        return {}
    user, password = unquote(user), unquote(password) if password is not None else None
    if password is None and bearer:
        return {"Authorization": f"Bearer {user}"}
    pair = f"{user}:{password or ''}".encode("utf-8")
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _post(address: str, body: bytes, headers: dict[str, str], *, scheme: str | None = None,
          bearer: bool = False) -> None:
    import http.client
    import urllib.error
    import urllib.request

    parts = urlsplit(address)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    target = parts._replace(scheme=scheme or parts.scheme, netloc=netloc).geturl()
    headers = {**headers, "User-Agent": "kscli", **_auth(parts.username, parts.password, bearer)}
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    where = shown(address)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(where, f"the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(where, _why(reason)) from None
    except (ValueError, http.client.InvalidURL):  # its words quote the address, token and all
        raise DeliveryFailed(where, "the address cannot be sent to (a space or control "
                                    "character in it?)") from None
    except http.client.HTTPException as exc:
        raise DeliveryFailed(where, f"the server's answer could not be read "
                                    f"({type(exc).__name__})") from None


def _why(reason: Any) -> str:
    """An error's words, one line, with no address in them (it could hold a token)."""
    text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    return " ".join(str(text).split()) or type(reason).__name__


def _ntfy(address: str, title: str, text: str) -> None:
    scheme = "http" if address.lower().startswith("ntfy+http:") else "https"
    _post(address, text.encode("utf-8"),
          {"Title": title.encode("ascii", "replace").decode("ascii"), "Tags": "calendar"},
          scheme=scheme, bearer=True)


def smtp_password(user: str, host: str, env: Mapping[str, str]) -> str | None:
    """KSCLI_SMTP_PASSWORD, else the keyring's (service ``kscli-smtp``, ``USER@HOST``)."""
    if env.get("KSCLI_SMTP_PASSWORD"):
        return env["KSCLI_SMTP_PASSWORD"]
    from kscli.secrets import keyring_backend

    backend, _ = keyring_backend()
    if backend is None:
        return None
    try:
        return backend.get_password("kscli-smtp", f"{user}@{host}")
    except Exception:  # noqa: BLE001 - a failing keyring is "no password there"
        return None


def _mail(recipient: str, title: str, text: str, env: Mapping[str, str]) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    where = f"mailto:{recipient}"
    url = env.get("KSCLI_SMTP_URL", "")
    if not url:
        raise DeliveryFailed(where, "KSCLI_SMTP_URL is not set (smtp://USER@HOST:PORT)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DeliveryFailed(where, "KSCLI_SMTP_URL has a bad host or port") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise DeliveryFailed(where, "KSCLI_SMTP_URL must be smtp://USER@HOST:PORT "
                                    "(or smtps:// for TLS from the start)")
    if parts.password is not None:
        raise DeliveryFailed(where, "KSCLI_SMTP_URL holds a password: put it in "
                                    "KSCLI_SMTP_PASSWORD or the keyring instead")
    host, user = parts.hostname, unquote(parts.username) if parts.username else None
    password = smtp_password(user, host, env) if user else None
    if user and password is None:
        raise DeliveryFailed(where, f"no password for {user} on {host} (set KSCLI_SMTP_PASSWORD, "
                                    "or keep it in the keyring: service kscli-smtp, user "
                                    f"{user}@{host})")
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = env.get("KSCLI_SMTP_FROM") or (user if user and "@" in user else recipient)
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="kscli")
    message.set_content(text)
    context = ssl.create_default_context()
    server = f"the mail server {host}"
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=TIMEOUT,
                                                    context=context)
        else:
            client = smtplib.SMTP(host, port or 25, timeout=TIMEOUT)
        with client:
            client.ehlo()
            if parts.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif parts.scheme == "smtp" and user:
                raise DeliveryFailed(where, f"{server} does not offer STARTTLS: kscli does "
                                            "not send a password in clear")
            if user:
                client.login(user, password or "")
            client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        words = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        raise DeliveryFailed(where, f"{server} answered {exc.smtp_code} {_why(words)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        code, words = next(iter(exc.recipients.values()))
        raise DeliveryFailed(where, f"{server} refused the recipient: {code} "
                                    f"{_why(words.decode('utf-8', 'replace'))}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DeliveryFailed(where, f"{server}: {_why(exc)}") from None
