"""What a command prints reaches its reader whole, or the command says it did not.

A file-size limit (`ulimit -f`) or a full disk under `kscli ... > FILE` used to leave a
truncated file behind with exit 0. Every output path now fails with one line and exit 1.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess

import pytest

from tests.conftest import Kscli, installed_kscli

OUTPUTS = [
    ("export",),
    ("--format", "json", "sub", "list"),
    ("--format", "jsonl", "sub", "list"),
    ("--format", "csv", "sub", "list"),
    ("--format", "plain", "sub", "list"),
    ("--format", "table", "sub", "list"),
    ("--format", "json", "sub", "history", "S-1001"),
    ("policy", "show", "--toml"),
]
LIMIT = 4096  # bytes: far less than each output above


@pytest.fixture(scope="module")
def big_ledger(tmp_path_factory):
    """The sample ledger with 400 more subscriptions (every output above > LIMIT)."""
    folder = tmp_path_factory.mktemp("big")
    sample = str(folder / "sample.db")
    env = {**os.environ, "KSCLI_STORE": sample, "PYTHON_KEYRING_BACKEND":
           "keyring.backends.null.Keyring"}
    subprocess.run([installed_kscli(), "init", "--sample"], check=True, env=env,
                   capture_output=True)
    for _ in range(30):  # a history long enough too
        subprocess.run([installed_kscli(), "--quiet", "renew", "off", "S-1001"], env=env,
                       capture_output=True)
        subprocess.run([installed_kscli(), "--quiet", "renew", "on", "S-1001"], env=env,
                       capture_output=True)
    doc = json.loads(subprocess.run([installed_kscli(), "export"], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    template = doc["tables"]["subs"][0]
    doc["tables"]["subs"] += [{**template, "id": f"S-{5000 + i}", "vendor": f"Vendor {i}"}
                              for i in range(400)]
    for counter in doc["tables"]["counters"]:
        if counter["name"] == "S-":
            counter["value"] = 5399
    exported = folder / "export-in.json"
    exported.write_text(json.dumps(doc))
    store = str(folder / "ledger.json")  # no SQLite -shm file to meet the size limit first
    done = subprocess.run([installed_kscli(), "--store", store, "import", str(exported)],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return store


def _run(store: str, argv, stdout, preexec_fn=None):
    return subprocess.run([installed_kscli(), "--store", store, *argv], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=preexec_fn)


def _small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize("argv", OUTPUTS, ids=" ".join)
def test_an_output_past_a_file_size_limit_fails_in_one_line(big_ledger, tmp_path, argv):
    whole = _run(big_ledger, argv, subprocess.PIPE)
    assert whole.returncode == 0 and len(whole.stdout.encode()) > LIMIT, whole.stderr
    with open(tmp_path / "out", "wb") as out:
        cut = _run(big_ledger, argv, out, preexec_fn=_small_files)
    assert cut.returncode == 1, cut.stderr
    assert cut.stderr.startswith("Error: cannot write the output: the file would pass a size limit")
    assert cut.stderr.count("\n") == 1 and "Traceback" not in cut.stderr
    assert os.path.getsize(tmp_path / "out") <= LIMIT


@pytest.mark.parametrize("argv", OUTPUTS, ids=" ".join)
def test_an_output_onto_a_full_disk_fails_in_one_line(big_ledger, tmp_path, argv):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small tmpfs in CI (runs as root): {mounted.stderr}")
        pytest.skip(f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        with open(small / "out", "wb") as out:
            cut = _run(big_ledger, argv, out)
        assert cut.returncode == 1, cut.stderr
        assert cut.stderr.startswith("Error: cannot write the output: the disk is full")
        assert cut.stderr.count("\n") == 1
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_a_reader_that_leaves_early_is_still_no_error(big_ledger):
    shell = shutil.which("sh")
    done = subprocess.run([shell, "-c", f'"{installed_kscli()}" --store "{big_ledger}" export | head -c 10'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout) == 10


def test_a_reader_gone_before_a_short_output_is_written_is_no_error(tmp_path):
    """`kscli sub list | true`: the whole output is still in the buffer when the reader
    has gone; the last flush fails with EPIPE and kscli still exits 0 in silence (not
    Python's 120 and its "Exception ignored" lines)."""
    store = str(tmp_path / "k.db")
    assert Kscli(store)("init", "--sample").exit_code == 0
    for fmt in ("jsonl", "table"):
        proc = subprocess.Popen([installed_kscli(), "--store", store, "--format", fmt, "sub", "list"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # gone before kscli writes anything
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""


def test_an_export_that_fits_is_whole_and_unchanged(big_ledger, tmp_path):
    with open(tmp_path / "out", "wb") as out:
        assert _run(big_ledger, ("export",), out).returncode == 0
    assert (tmp_path / "out").read_text() == Kscli(big_ledger)("export").stdout
