"""`kscli report --html`: the page in a real headless Chromium (Debian's `chromium`).

It loads with no console message and no network request (every request would go
through a recording proxy on 127.0.0.1), each chart has one bar per row, and the
numbers in the page are those of `--format json`. Without chromium the tests skip
locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from freezegun import freeze_time

from tests.conftest import Kscli
from tests.test_report import NOW, _ledger, _rates


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run must install Debian's chromium")
    pytest.skip("no chromium: `apt-get install chromium` to render the report's page")


# What Chromium itself asks for at start-up whatever the page (its updater, sign-in and
# clock services, on hosts no page of ours names); anything else is the page's.
BROWSER_OWN = {"update.googleapis.com", "accounts.google.com", "clients2.google.com"}


def _host(request: str) -> str:
    from urllib.parse import urlsplit

    target = request.split(" ", 1)[1]
    return (urlsplit(target).hostname if "://" in target else target.rsplit(":", 1)[0]) or ""


def _the_pages(seen: list[str]) -> list[str]:
    return [r for r in seen if _host(r) not in BROWSER_OWN]


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _record

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


def _run_chromium(tmp_path, port: int, *args: str) -> subprocess.CompletedProcess:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-default-apps", "--disable-extensions",
               "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter",
               "--disable-client-side-phishing-detection", "--no-pings",
               "--disable-domain-reliability", "--disable-breakpad",
               f"--proxy-server=127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
               "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HOME": str(tmp_path)})


class _Page(HTMLParser):
    """The charts' bars (per currency) and every cell marked with data-key."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, int] = {}
        self.totals: dict[str, list[str]] = {}
        self.chart: str | None = None
        self.cells: list[tuple[str, str]] = []
        self._key: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "svg" and "data-currency" in attrs:
            self.chart = f"{attrs['data-currency']}#{len(self.bars)}"
            self.bars[self.chart] = 0
            self.totals[self.chart] = []
        if tag == "g" and attrs.get("class") == "bar" and self.chart:
            self.bars[self.chart] += 1
            self.totals[self.chart].append(attrs["data-total"])
        if "data-key" in attrs:
            self._key = attrs["data-key"]

    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None

    def handle_data(self, data):
        if self._key is not None:
            self.cells.append((self._key, data))
            self._key = None


@pytest.mark.parametrize("args", [("--in", "EUR"), ()], ids=["in-eur", "per-currency"])
def test_the_page_in_chromium(tmp_path, proxy, args):
    _chromium()
    port, seen = proxy
    kscli = Kscli(str(tmp_path / "ledger.db"))
    page = tmp_path / "spend.html"
    with freeze_time(NOW):
        _ledger(kscli)
        _rates(kscli, tmp_path)
        doc = kscli.json("report", "--months", "3", "--forecast", "2", *args, "--html", str(page))
    assert os.stat(page).st_mode & 0o777 == 0o600

    dumped = _run_chromium(tmp_path, port, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "CONSOLE" not in dumped.stderr, [l for l in dumped.stderr.splitlines() if "CONSOLE" in l]
    parsed = _Page()
    parsed.feed(dumped.stdout)
    assert parsed.scripts == 0
    # one chart per currency (converted, then apart), one bar per row
    groups: dict[str, list[dict]] = {}
    for row in doc["rows"] + doc["apart"]:
        groups.setdefault(row["currency"] + ("" if row in doc["rows"] else " apart"), []).append(row)
    assert list(parsed.bars.values()) == [len(rows) for rows in groups.values()]
    assert list(parsed.totals.values()) == [[r["total"] for r in rows] for rows in groups.values()]
    # the table's numbers are the JSON's, in order
    for key in ("billed", "projected", "total"):
        assert [v for k, v in parsed.cells if k == key] == \
            [r[key] for r in doc["rows"] + doc["apart"]]
    assert [v for k, v in parsed.cells if k == "yearly"] == [t["yearly_converted"] for t in doc["top"]]
    assert [v for k, v in parsed.cells if k == "renewing-count"] == [str(doc["renewing"]["count"])]

    shot = tmp_path / "spend.png"
    shown = _run_chromium(tmp_path, port, f"--screenshot={shot}", "--window-size=1000,1600",
                          "--hide-scrollbars", page.as_uri())
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "CONSOLE" not in shown.stderr
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert _the_pages(seen) == [], "\n".join(seen)  # the page fetched nothing: no request reached the proxy


def test_the_proxy_would_see_a_request(tmp_path, proxy):
    """The check above can fail: a page that fetches an image is seen by the proxy."""
    _chromium()
    port, seen = proxy
    page = tmp_path / "fetching.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
                    "</body></html>", encoding="utf-8")
    _run_chromium(tmp_path, port, "--dump-dom", page.as_uri())
    assert any("example.invalid" in request for request in _the_pages(seen)), seen


def test_without_chromium_ci_fails_rather_than_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium there
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="chromium is not installed"):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _chromium()
