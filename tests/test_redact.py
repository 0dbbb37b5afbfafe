"""A license key given to the wrong command never comes back in an error."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from kscli.cli.redact import mask_keys
from kscli.domain import keys
from tests.conftest import installed_kscli, ledger_path

KEY = keys.format_key(keys.generate())
MASKED = keys.mask(keys.normalize(KEY)[-4:])


@pytest.mark.parametrize("typed", [
    KEY, KEY.lower(), KEY.replace("-", ""), KEY.replace("-", " "), KEY.replace("-", "\u2013"),
], ids=["as-issued", "lower", "no-dashes", "spaces", "en-dashes"])
def test_a_valid_key_is_masked_however_it_was_typed(typed):
    text = f"Error: no subscription '{typed}' in ledger.db (try again)"
    assert mask_keys(text) == f"Error: no subscription '{MASKED}' in ledger.db (try again)"


def test_text_without_a_valid_key_is_left_as_it_is():
    wrong = KEY[:-1] + ("0" if KEY[-1] != "0" else "1")  # fails the check
    for text in ("Error: no subscription S-1001", f"bad key {wrong}", "A" * 40,
                 "the quick brown fox jumps over the lazy dog twice"):
        assert mask_keys(text) == text


def test_a_key_among_other_words_is_masked_alone():
    assert mask_keys(f"seen {KEY.replace('-', ' ')} twice") == f"seen {MASKED} twice"


@pytest.mark.parametrize("argv", [
    ("sub", "show", KEY),
    ("--format", "json", "sub", "show", KEY),
    ("license", "show", KEY.replace("-", " ")),
    ("subs", KEY),
    ("sub", "show", "--no-such-option", KEY),
], ids=["sub show", "sub show json", "license show", "unknown command", "bad option"])
def test_a_key_given_to_the_wrong_command_is_masked_in_the_error(tmp_path, argv):
    store = ledger_path(tmp_path, "sqlite")
    done = subprocess.run([installed_kscli(), "--store", store, *argv], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert done.returncode != 0
    symbols = keys.normalize(KEY)
    for out in (done.stdout, done.stderr):  # not even its first ten symbols, however spaced
        assert symbols[:10] not in out.upper().replace("-", "").replace(" ", "")
    if "--format" in argv:
        assert MASKED in json.loads(done.stdout)["message"]
