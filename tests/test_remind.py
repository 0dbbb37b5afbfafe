"""`kscli remind`: each deadline reminded once per channel, against real servers on
127.0.0.1 (http.server for https/http and ntfy, aiosmtpd for mail)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from freezegun import freeze_time

from kscli.domain.calendar import add_months
from tests.conftest import exported_events, ledger_created, require_module

EVERY_BACKEND = True


def _renewing_soon(add_sub, **options):
    """A monthly subscription whose renewal is three days from the real clock (servers run
    in threads, so these tests do not freeze time)."""
    started = add_months(datetime.now(timezone.utc), -1) + timedelta(days=3)
    return add_sub(started=started.date().isoformat(), **options)


def _reminders(kscli, subject="S-1001"):
    return [e for e in exported_events(kscli, subject) if e["action"] == "remind"]


# --- stdout ------------------------------------------------------------------------------

def test_stdout_digest_once_then_nothing_until_again(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Acme", price="9.99", started="2026-10-25")
        first = kscli("remind", "--within", "7d")
        second = kscli("remind", "--within", "7d")
        again = kscli("remind", "--within", "7d", "--again")
    assert first.exit_code == 0 and first.stderr == ""
    assert first.stdout.startswith("kscli: 1 deadline within 7d, the first in 3 days (2026-11-25)")
    assert "S-1001 Acme Cloud: renews and charges 9.99 USD" in first.stdout
    assert "to act: kscli renew off S-1001" in first.stdout
    assert second.exit_code == 0 and second.stdout == "" and second.stderr == ""
    assert again.stdout == first.stdout
    recorded = _reminders(kscli)
    assert len(recorded) == 2  # the first run and --again
    assert recorded[0]["detail"]["deadline"] == "renewal-S-1001-2"
    assert recorded[0]["detail"]["channel"] == "stdout" and recorded[0]["detail"]["date"] == "2026-11-25"


def test_a_deadline_entering_the_window_later_is_reminded_then(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-10-25")
        add_sub(started="2026-11-05")
        assert "S-1001" in kscli("remind", "--within", "7d").stdout
    with freeze_time("2026-11-29T10:00:00Z"):
        later = kscli("remind", "--within", "7d").stdout
    assert "S-1002" in later and "S-1001" not in later


def test_nothing_due_prints_nothing_and_creates_no_ledger(kscli, store_path):
    result = kscli("remind")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert not ledger_created(store_path)


def test_quiet_leaves_stdout_out(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-10-25")
        assert kscli("--quiet", "remind").stdout == ""
        assert _reminders(kscli) == []
        assert "S-1001" in kscli("remind").stdout


def test_json_digest_for_scripts(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-10-25")
        found = kscli.json("remind")
        assert kscli("remind", fmt="json").stdout == ""
    assert [d["uid"] for d in found] == ["renewal-S-1001-2"]


@pytest.mark.parametrize("address, words", [
    ("ftp://example.com/x", "is not a --notify address"),
    ("mailto:", "mailto: needs an address"),
    ("ntfy://ntfy.example.com", "names no topic"),
    ("https://", "names no host"),
])
def test_bad_notify_addresses_are_usage_errors(kscli, add_sub, address, words):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-10-25")
        result = kscli("remind", "--notify", address)
        assert result.exit_code == 2 and words in result.stderr
        assert result.stdout == "" and _reminders(kscli) == []


# --- http(s) and ntfy ---------------------------------------------------------------------

class Hook:
    """A real HTTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def test_http_gets_a_json_post_once(kscli, add_sub, hook):
    _renewing_soon(add_sub, vendor="Acme")
    url = f"http://ada:s3cret@127.0.0.1:{hook.port}/hook"
    first = kscli("--quiet", "remind", "--notify", url)
    second = kscli("--quiet", "remind", "--notify", url)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr
    assert len(hook.received) == 1
    got = hook.received[0]
    assert got["path"] == "/hook"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["Authorization"] == "Basic " + base64.b64encode(b"ada:s3cret").decode()
    doc = json.loads(got["body"])
    assert [d["uid"] for d in doc["deadlines"]] == [d["uid"] for d in kscli.json("deadlines", "--within", "7d")]
    assert "S-1001 Acme Cloud: renews" in doc["text"] and doc["title"].startswith("kscli: 1 deadline")
    recorded = _reminders(kscli)
    assert [r["detail"]["channel"] for r in recorded] == [f"http://127.0.0.1:{hook.port}/hook"]
    assert "s3cret" not in json.dumps(recorded)
    assert kscli("--quiet", "remind", "--notify", url, "--again").exit_code == 0
    assert len(hook.received) == 2


def test_each_channel_is_reminded_on_its_own(kscli, add_sub, hook):
    _renewing_soon(add_sub)
    first = kscli("remind", "--notify", f"http://127.0.0.1:{hook.port}/a")
    assert "S-1001" in first.stdout and len(hook.received) == 1
    second = kscli("remind", "--notify", f"http://127.0.0.1:{hook.port}/a",
                   "--notify", f"http://127.0.0.1:{hook.port}/b")
    assert second.stdout == ""  # stdout had it already
    assert [r["path"] for r in hook.received] == ["/a", "/b"]


def test_a_refusing_server_exits_1_records_nothing_and_hides_the_token(kscli, add_sub, hook):
    _renewing_soon(add_sub)
    hook.status = 500
    url = f"http://ada:s3cret@127.0.0.1:{hook.port}/hook?token=tk_secret"
    result = kscli("remind", "--notify", url)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "answered 500" in result.stderr
    assert f"http://127.0.0.1:{hook.port}/hook?…" in result.stderr
    everything = result.stdout + result.stderr + kscli("export").stdout
    assert "s3cret" not in everything and "tk_secret" not in everything and "ada:" not in everything
    assert "S-1001" in result.stdout  # stdout, a channel of its own, did get it
    assert [r["detail"]["channel"] for r in _reminders(kscli)] == ["stdout"]
    hook.status = 200
    fixed = kscli("remind", "--notify", url)
    assert fixed.exit_code == 0 and fixed.stdout == ""
    assert len(hook.received) == 2 and b"S-1001" in hook.received[1]["body"]


def test_an_unreachable_server_is_one_line_and_exit_1(kscli, add_sub):
    _renewing_soon(add_sub)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = kscli("--quiet", "remind", "--notify", f"http://127.0.0.1:{port}/x")
    assert result.exit_code == 1 and result.stderr.startswith("Error: could not send")
    assert "Traceback" not in result.stderr and _reminders(kscli) == []


def test_ntfy_gets_the_digest_with_a_title_and_the_token(kscli, add_sub, hook):
    _renewing_soon(add_sub)
    url = f"ntfy+http://tk_abc123@127.0.0.1:{hook.port}/kscli-alerts"
    result = kscli("--quiet", "remind", "--notify", url)
    assert result.exit_code == 0, result.stderr
    (got,) = hook.received
    assert got["path"] == "/kscli-alerts"
    assert got["headers"]["Authorization"] == "Bearer tk_abc123"
    assert got["headers"]["Title"].startswith("kscli: 1 deadline")
    assert b"to act: kscli renew off S-1001" in got["body"]
    assert "tk_abc123" not in kscli("export").stdout


# --- mail ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.messages: list[dict] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        from email import message_from_bytes, policy

        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "message": message_from_bytes(envelope.content,
                                                            policy=policy.default),
                              "tls": session.ssl is not None})
        return "250 OK"


def _smtp(mailbox, **options):
    controller_module = require_module("aiosmtpd.controller", "test")
    controller = controller_module.Controller(mailbox, hostname="127.0.0.1", port=_free_port(),
                                              **options)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    started = []

    def start(mailbox, **options):
        controller = _smtp(mailbox, **options)
        started.append(controller)
        return controller.port

    yield start
    for controller in started:
        controller.stop()


def test_mail_arrives_once_through_a_plain_relay(kscli, add_sub, smtp):
    box = Mailbox()
    port = smtp(box)
    _renewing_soon(add_sub, vendor="Acme")
    env = {"KSCLI_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    first = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    second = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr
    (mail,) = box.messages
    assert mail["to"] == ["ada@example.com"]
    assert mail["message"]["Subject"].startswith("kscli: 1 deadline within 7d")
    assert "S-1001 Acme Cloud: renews" in mail["message"].get_content()
    assert [r["detail"]["channel"] for r in _reminders(kscli)] == ["mailto:ada@example.com"]


def test_a_refused_recipient_exits_1_and_records_nothing(kscli, add_sub, smtp):
    port = smtp(Mailbox(refuse=True))
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 1 and "550" in result.stderr
    assert result.stderr.count("\n") == 1 and _reminders(kscli) == []


def test_mail_without_smtp_url_says_what_to_set(kscli, add_sub):
    _renewing_soon(add_sub)
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com",
                   env={"KSCLI_SMTP_URL": ""})
    assert result.exit_code == 1 and "KSCLI_SMTP_URL is not set" in result.stderr
    assert _reminders(kscli) == []


def test_a_password_in_the_smtp_url_is_refused_and_never_shown(kscli, add_sub):
    _renewing_soon(add_sub)
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com",
                   env={"KSCLI_SMTP_URL": "smtp://ada:hunter2@127.0.0.1:25"})
    assert result.exit_code == 1 and "KSCLI_SMTP_PASSWORD" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_no_password_is_sent_to_a_server_without_starttls(kscli, add_sub, smtp):
    box = Mailbox()
    port = smtp(box)
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://ada@127.0.0.1:{port}", "KSCLI_SMTP_PASSWORD": "hunter2"}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 1 and "does not offer STARTTLS" in result.stderr
    assert "hunter2" not in result.stderr and box.messages == [] and _reminders(kscli) == []


def _certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (its own authority), and its key."""
    import ipaddress

    require_module("cryptography", "signing")
    from cryptography import x509
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1(), default_backend())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kscli test server")])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256(), default_backend()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_smtp(smtp, tmp_path):
    """A server that offers STARTTLS and takes a login (ada / pw) only over TLS."""
    import ssl

    smtp_module = require_module("aiosmtpd.smtp", "test")
    cert_file, key_file = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"ada" and auth_data.password == b"pw"
        logins.append((auth_data.login, ok))
        return smtp_module.AuthResult(success=ok)

    box = Mailbox()
    port = smtp(box, tls_context=context, require_starttls=True, authenticator=authenticator,
                auth_required=True, auth_require_tls=True)
    return box, port, cert_file, logins


def test_starttls_and_login_with_the_password_from_the_environment(kscli, add_sub, tls_smtp):
    box, port, cert_file, logins = tls_smtp
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://ada@127.0.0.1:{port}", "KSCLI_SMTP_PASSWORD": "pw",
           "SSL_CERT_FILE": cert_file}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 0, result.stderr
    (mail,) = box.messages
    assert mail["tls"] and logins == [(b"ada", True)]
    assert mail["message"]["From"] == "ada@example.com"
    assert "pw" not in json.dumps(_reminders(kscli))


def test_the_password_can_come_from_the_keyring(kscli, add_sub, tls_smtp):
    import keyring

    box, port, cert_file, logins = tls_smtp
    keyring.set_password("kscli-smtp", "ada@127.0.0.1", "pw")
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://ada@127.0.0.1:{port}", "SSL_CERT_FILE": cert_file}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 0, result.stderr
    assert len(box.messages) == 1 and logins == [(b"ada", True)]


def test_a_wrong_password_exits_1_without_showing_it(kscli, add_sub, tls_smtp):
    box, port, cert_file, logins = tls_smtp
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://ada@127.0.0.1:{port}", "KSCLI_SMTP_PASSWORD": "wrong-pw-xyz",
           "SSL_CERT_FILE": cert_file}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 1 and "wrong-pw-xyz" not in result.stderr
    assert box.messages == [] and _reminders(kscli) == []


def test_an_untrusted_certificate_is_refused(kscli, add_sub, tls_smtp):
    box, port, _cert, _logins = tls_smtp
    _renewing_soon(add_sub)
    env = {"KSCLI_SMTP_URL": f"smtp://ada@127.0.0.1:{port}", "KSCLI_SMTP_PASSWORD": "pw"}
    result = kscli("--quiet", "remind", "--notify", "mailto:ada@example.com", env=env)
    assert result.exit_code == 1 and "certificate" in result.stderr.lower()
    assert box.messages == []


# --- start-up -----------------------------------------------------------------------------

def test_only_remind_imports_the_network_and_mail_modules(tmp_path):
    code = ("import sys; from kscli.cli import cli\n"
            "try:\n"
            f"    cli.main(['--store', {str(tmp_path / 'k.db')!r}, '--format', 'json', "
            "'deadlines'], standalone_mode=False)\n"
            "finally:\n"
            "    print(','.join(m for m in ('urllib.request', 'http.client', 'smtplib', "
            "'email.message', 'ssl', 'kscli.notify', 'kscli.ical') if m in sys.modules), "
            "file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr.strip() == ""


def test_a_control_character_in_a_name_reaches_the_terminal_as_an_escape(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Evil\x1b[31mCorp", started="2026-10-25")
        shown = kscli("remind").stdout
    assert "\x1b" not in shown and "Evil" in shown and "Corp" in shown


def test_an_address_with_a_space_fails_without_quoting_its_token(kscli, add_sub, hook):
    _renewing_soon(add_sub)
    result = kscli("--quiet", "remind", "--notify",
                   f"http://127.0.0.1:{hook.port}/a b?token=tk_hidden")
    assert result.exit_code == 1 and "tk_hidden" not in result.stderr
    assert hook.received == [] and _reminders(kscli) == []


def test_a_deadline_that_moves_to_another_day_is_reminded_again(kscli, add_sub):
    """An annual plan renewing on 2027-01-01 with 33 days' notice: cancel by 2026-11-29,
    reminded. A change that moves nothing reminds nothing; the notice shortened to 30
    days moves that same deadline (its uid) to 2026-12-02: reminded again, once."""
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-01-01", plan="annual", notice="33d")
        first = kscli("remind", "--within", "14d").stdout
        kscli.json("sub", "edit", "S-1001", "--account", "ada")
        unmoved = kscli("remind", "--within", "14d").stdout
        kscli.json("sub", "edit", "S-1001", "--notice", "30d")
        moved = kscli("remind", "--within", "14d").stdout
        after = kscli("remind", "--within", "14d").stdout
    assert "2026-11-29" in first and unmoved == "" and after == ""
    assert "2026-12-02" in moved
    recorded = _reminders(kscli)
    assert [(r["detail"]["deadline"], r["detail"]["date"]) for r in recorded] == [
        ("cancel-by-S-1001-2", "2026-11-29"), ("cancel-by-S-1001-2", "2026-12-02")]
