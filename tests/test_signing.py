"""Signed license files: the signer, `license sign`, offline `license verify`, machine
binding, rotation and revocation lists, checked with a second Ed25519 implementation."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain import license_token as tok
from tests.conftest import Kscli, exported_events, require_module
from tests.test_license_cli import local_tz  # noqa: F401 - a fixture

nacl_signing = require_module("nacl.signing", "signing")

PRODUCT = "Photo Editor"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """This machine's OS id comes from a file the test controls (two machines: two files)."""

    def use(name: str) -> None:
        path = tmp_path / f"machine-id-{name}"
        path.write_text(f"{name}-0123456789abcdef\n")
        monkeypatch.setenv("KSCLI_MACHINE_ID_FILE", str(path))

    use("customer")
    return use


@pytest.fixture
def vendor(any_store_spec, machine):
    """A vendor with a signer and two keys issued (L-1001, L-1002) on every backend."""
    k = Kscli(any_store_spec)
    assert k("signer", "init", "--name", "Acme desk").exit_code == 0
    assert k("license", "issue", "--product", PRODUCT, "--count", "2").exit_code == 0
    return k


def public_file(k: Kscli, tmp_path, name: str = "acme.pub") -> str:
    shown = k("signer", "show")
    assert shown.exit_code == 0, shown.stderr
    path = tmp_path / name
    path.write_text(shown.stdout)
    return str(path)


def sign(k: Kscli, *args: str) -> str:
    result = k("license", "sign", *args)
    assert result.exit_code == 0, result.stderr
    assert "-----BEGIN KSCLI LICENSE-----" in result.stdout
    return result.stdout


def verify(text: str, *args: str, fmt: str | None = None):
    return Kscli(None)("license", "verify", "-", *args, input=text, fmt=fmt)


# --- the whole story ----------------------------------------------------------------

def test_a_bound_license_verifies_on_its_machine_and_not_on_another(vendor, tmp_path, machine):
    customer_id = vendor("license", "machine-id", "--product", PRODUCT).stdout.strip()
    assert len(customer_id) == 32
    text = sign(vendor, "L-1001", "--machine", customer_id, "--entitlement", "pro")
    pub = public_file(vendor, tmp_path)

    nowhere = tmp_path / "no-ledger" / "kscli.db"
    ok = Kscli(str(nowhere))("license", "verify", "-", "--public-key", pub, "--product", PRODUCT,
                             input=text)
    assert ok.exit_code == 0, ok.stderr
    assert not nowhere.parent.exists()  # offline: no ledger opened, none created
    assert ok.stdout.startswith("valid: L-1001 Photo Editor") and "bound to this machine" in ok.stdout
    claims = verify(text, "--public-key", pub, fmt="json").json()["claims"]
    assert claims["machine"] == customer_id and claims["entitlements"] == ["pro"]

    machine("elsewhere")
    other = verify(text, "--public-key", pub)
    assert other.exit_code == 4
    assert other.stderr.strip().splitlines() == [other.stderr.strip()]
    assert "bound to another machine" in other.stderr
    # the right id given explicitly still verifies there (a CI job checking a customer's file)
    assert verify(text, "--public-key", pub, "--machine", customer_id).exit_code == 0


def test_machine_ids_are_stable_and_differ_per_product(vendor, machine):
    first = vendor("license", "machine-id", "--product", PRODUCT).stdout.strip()
    assert vendor("license", "machine-id", "--product", " photo editor ").stdout.strip() == first
    assert vendor("license", "machine-id", "--product", "Other").stdout.strip() != first
    machine("elsewhere")
    assert vendor("license", "machine-id", "--product", PRODUCT).stdout.strip() != first
    assert vendor("license", "sign", "L-1001", "--machine", "laptop").exit_code == 2


def test_sign_machine_auto_binds_to_the_signing_machine(vendor, tmp_path, machine):
    text = sign(vendor, "L-1001", "--machine", "auto")
    pub = public_file(vendor, tmp_path)
    assert verify(text, "--public-key", pub, "--machine", "auto").exit_code == 0
    machine("elsewhere")
    assert verify(text, "--public-key", pub).exit_code == 4


def test_signing_is_an_event_with_a_reference_and_no_key(vendor):
    result = vendor("--format", "json", "license", "sign", "L-1002", "--expires", "2030-01-01")
    assert result.exit_code == 0, result.stderr
    signed = result.json()
    assert signed["reference"].startswith("KS-") and signed["license_file"].startswith("-----BEGIN")
    events = [e for e in exported_events(vendor, "L-1002") if e["action"] == "signed"]
    assert [e["reference"] for e in events] == [signed["reference"]]
    assert events[0]["detail"]["expires_at"] == "2030-01-01T00:00:00Z"
    assert events[0]["detail"]["fingerprint"] == signed["key_fingerprint"]


def test_a_rotated_signer_still_verifies_old_licenses_with_the_kept_key(vendor, tmp_path):
    old_text = sign(vendor, "L-1001")
    old_pub = public_file(vendor, tmp_path, "old.pub")
    rotated = vendor("--format", "json", "signer", "rotate")
    assert rotated.exit_code == 0, rotated.stderr
    new_text = sign(vendor, "L-1002")
    shown = vendor.json("signer", "show")
    assert [k["current"] for k in shown] == [True, False]
    assert shown[0]["id"] == rotated.json()["id"] and shown[1]["retired_at"]
    both = public_file(vendor, tmp_path, "both.pub")

    assert verify(old_text, "--public-key", both).exit_code == 0
    assert verify(new_text, "--public-key", both).exit_code == 0
    # the JSON of `signer show` is a key file too
    json_pub = tmp_path / "keys.json"
    json_pub.write_text(vendor("--format", "json", "signer", "show").stdout)
    assert verify(old_text, "--public-key", str(json_pub)).exit_code == 0
    # a customer holding only the old key cannot check the new license
    refused = verify(new_text, "--public-key", old_pub, fmt="json")
    assert refused.exit_code == 4 and refused.json()["error"] == "unknown-signer"
    assert refused.json()["valid"] is False and "claims" not in refused.json()
    # nor with only the new key, the old one
    assert verify(old_text, "--public-key", shown[0]["public_key"]).exit_code == 4


def test_a_revoked_license_is_refused_with_the_revocation_list(vendor, tmp_path):
    text = sign(vendor, "L-1001")
    kept = sign(vendor, "L-1002")
    pub = public_file(vendor, tmp_path)
    assert vendor("license", "revoke", "L-1001").exit_code == 2  # off a terminal: --yes
    revoked = vendor("--format", "json", "license", "revoke", "L-1001", "--reason", "chargeback",
                     "--yes")
    assert revoked.exit_code == 0 and revoked.json()["status"] == "revoked"
    assert revoked.json()["reference"].startswith("KS-")
    again = vendor("license", "revoke", "L-1001", "--yes")
    assert again.exit_code == 0 and "already revoked" in again.stderr
    listing = tmp_path / "revoked.lst"
    made = vendor("license", "revoked", "-o", str(listing))
    assert made.exit_code == 0 and "1 revoked key(s)" in made.stderr
    assert stat.S_IMODE(os.stat(listing).st_mode) == 0o600

    refused = verify(text, "--public-key", pub, "--revoked", str(listing), fmt="json")
    assert refused.exit_code == 4 and refused.json()["error"] == "license-revoked"
    assert "revoked" in refused.stderr
    assert verify(kept, "--public-key", pub, "--revoked", str(listing)).exit_code == 0
    assert verify(text, "--public-key", pub).exit_code == 0  # without the list: not known
    # a changed revocation list is refused, not ignored
    body = listing.read_text()
    lines = body.splitlines()
    lines[2] = lines[2][:-1] + ("A" if lines[2][-1] != "A" else "B")
    listing.write_text("\n".join(lines) + "\n")
    broken = verify(kept, "--public-key", pub, "--revoked", str(listing), fmt="json")
    assert broken.exit_code == 4 and broken.json()["error"] == "bad-revocation-list"
    # a license file is not a revocation list, nor the reverse
    listing.write_text(body)
    assert verify(body, "--public-key", pub).exit_code == 4
    wrong = tmp_path / "wrong.lst"
    wrong.write_text(kept)
    assert verify(kept, "--public-key", pub, "--revoked", str(wrong)).exit_code == 4


def test_revoked_and_lapsed_keys_are_not_signed(vendor):
    assert vendor("license", "revoke", "L-1001", "--yes").exit_code == 0
    refused = vendor("--format", "json", "license", "sign", "L-1001")
    assert refused.exit_code == 4 and refused.json()["error"] == "key-revoked"
    assert vendor("license", "sign", "L-9999").exit_code == 3


def test_sign_writes_a_private_file_and_prints_the_reference(vendor, tmp_path):
    out = tmp_path / "out" / "customer.lic"
    result = vendor("license", "sign", "L-1001", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "reference" in result.stdout and "-----BEGIN" not in result.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = out.read_text()
    assert max(len(line) for line in text.splitlines()) <= 64


# --- the format: strict, survives e-mail, readable by another implementation -------

def test_whitespace_and_rewrapping_do_not_matter(vendor, tmp_path):
    text = sign(vendor, "L-1001")
    pub = public_file(vendor, tmp_path)
    token = tok.unwrap(text)
    rewrapped = "\r\n".join(token[i:i + 20] for i in range(0, len(token), 20))
    for variant in (token, "  " + token + "\n\n", rewrapped,
                    text.replace("\n", "\r\n"), "\n\t" + text.replace("\n", "\n  ")):
        assert verify(variant, "--public-key", pub).exit_code == 0, variant


def _signed_token(claims: dict, signer: nacl_signing.SigningKey) -> str:
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signed = ("ks1." + b64(payload)).encode()
    return signed.decode() + "." + b64(signer.sign(signed).signature)


def _claims(signer: nacl_signing.SigningKey, **changes) -> dict:
    import hashlib

    kid = hashlib.sha256(bytes(signer.verify_key)).hexdigest()[:16]
    claims = {"typ": "license", "product": PRODUCT, "license_id": "L-1042",
              "key_fingerprint": "3f9a1c2e", "seats": 3, "entitlements": ["cloud", "pro"],
              "issued_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z",
              "activation_deadline": "2026-12-31", "activated": True, "machine": None,
              "signer": kid}
    claims.update(changes)
    return claims


def test_a_token_signed_by_pynacl_from_the_documented_format_verifies():
    signer = nacl_signing.SigningKey.generate()
    key = "ed25519:" + b64(bytes(signer.verify_key))
    token = _signed_token(_claims(signer), signer)
    ok = verify(token, "--public-key", key, "--as-of", "2026-06-01", fmt="json")
    assert ok.exit_code == 0, ok.stderr
    assert ok.json()["claims"]["seats"] == 3 and ok.json()["claims"]["license_id"] == "L-1042"
    # the same signer, an unknown claim: refused as malformed, signature or not
    extra = _signed_token(_claims(signer, owner="x"), signer)
    assert "unknown owner" in verify(extra, "--public-key", key, "--as-of", "2026-06-01").stderr
    # another signer's token naming this key id: a bad signature
    impostor = nacl_signing.SigningKey.generate()
    forged = _signed_token(_claims(signer), impostor)
    bad = verify(forged, "--public-key", key, "--as-of", "2026-06-01", fmt="json")
    assert bad.exit_code == 4 and bad.json()["error"] == "bad-signature"


def test_pynacl_verifies_the_tokens_kscli_signs(vendor, tmp_path):
    from nacl.exceptions import BadSignatureError

    token = tok.unwrap(sign(vendor, "L-1001", "--entitlement", "pro"))
    key = vendor.json("signer", "show")[0]["public_key"]
    verify_key = nacl_signing.VerifyKey(base64.urlsafe_b64decode(key[len("ed25519:"):] + "="))
    head, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    message = verify_key.verify((head + "." + payload).encode(),
                                base64.urlsafe_b64decode(pad(signature)))
    claims = json.loads(base64.urlsafe_b64decode(pad(message.decode().split(".")[1])))
    assert claims["license_id"] == "L-1001" and claims["entitlements"] == ["pro"]
    assert claims["product"] == PRODUCT and claims["signer"] == vendor.json("signer", "show")[0]["id"]
    with pytest.raises(BadSignatureError):
        verify_key.verify((head + "." + payload + "x").encode(),
                          base64.urlsafe_b64decode(pad(signature)))


def _nacl_checker(signer):
    """kscli's own reading of a token, with PyNaCl's key (the domain plus the service)."""
    from kscli.services.signing import verify_license

    raw = bytes(signer.verify_key)
    keys = {tok.key_id(raw): raw}
    from datetime import datetime, timezone

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    return lambda text: verify_license(text, keys, now)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_every_single_byte_change_of_a_token_fails():
    """Each position of the token and of its file, changed to the next base64url symbol
    (still base64url: the hardest change to catch) and to bytes that are not."""
    signer = nacl_signing.SigningKey.generate()
    token = _signed_token(_claims(signer), signer)
    check = _nacl_checker(signer)
    armored = tok.armor(token)
    check(token)  # the originals verify
    check(armored)
    tried = 0
    for text in (token, armored):
        for i, original in enumerate(text):
            if original in " \t\r\n":
                continue  # not part of the token: e-mail may change it
            successor = ALPHABET[(ALPHABET.index(original) + 1) % 64] if original in ALPHABET \
                else "A"
            for new in {successor, ".", "=", "\x00", "é", original.swapcase()} - {original}:
                with pytest.raises(tok.TokenRefused):
                    check(text[:i] + new + text[i + 1:])
                tried += 1
    assert tried > 2 * len(token) * 4


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_changed_character_anywhere_fails(data):
    signer = _PROPERTY_SIGNER
    token = _PROPERTY_TOKEN
    i = data.draw(st.integers(0, len(token) - 1))
    new = data.draw(st.characters(blacklist_characters=" \t\r\n" + token[i]))
    with pytest.raises(tok.TokenRefused):
        _nacl_checker(signer)(token[:i] + new + token[i + 1:])


_PROPERTY_SIGNER = nacl_signing.SigningKey(bytes(range(32)))
_PROPERTY_TOKEN = _signed_token(_claims(_PROPERTY_SIGNER), _PROPERTY_SIGNER)


def test_a_changed_last_symbol_with_the_same_bytes_fails():
    """base64url's last symbol holds unused bits: another symbol can give the same bytes."""
    signer = nacl_signing.SigningKey.generate()
    token = _signed_token(_claims(signer), signer)
    check = _nacl_checker(signer)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = token[-1]
    same_bytes = [c for c in alphabet if c != last and
                  base64.urlsafe_b64decode(token.split(".")[2][:-1] + c + "==")
                  == base64.urlsafe_b64decode(token.split(".")[2] + "==")]
    assert same_bytes  # 86 symbols hold 64 bytes: 4 bits unused
    for c in same_bytes:
        with pytest.raises(tok.TokenRefused) as refused:
            check(token[:-1] + c)
        assert refused.value.code == "malformed-license"


@pytest.mark.parametrize("text, code", [
    ("ks2.eyJ9.AAAA", "unknown-version"),
    ("ks1.eyJ9", "malformed-license"),
    ("hello", "malformed-license"),
    ("-----BEGIN KSCLI LICENSE-----\nks1.x.y\n", "malformed-license"),
    ("", "malformed-license"),
])
def test_malformed_and_unknown_versions_are_refused_in_one_line(text, code, vendor, tmp_path):
    pub = public_file(vendor, tmp_path)
    result = verify(text, "--public-key", pub, fmt="json")
    assert result.exit_code == 4, result.stderr
    assert result.json()["error"] == code
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_bad_public_key_is_a_usage_error(vendor, tmp_path):
    text = sign(vendor, "L-1001")
    junk = tmp_path / "junk.pub"
    junk.write_text("# comment\nnot a key\n")
    for value in (str(junk), "ed25519:short", str(tmp_path / "missing.pub")):
        result = verify(text, "--public-key", value)
        assert result.exit_code == 2, (value, result.stderr)
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert "line 2" in verify(text, "--public-key", str(junk)).stderr


# --- time: expiry, not-yet-valid, the activation window ----------------------------

def test_expiry_last_second_valid_next_refused(vendor, tmp_path, local_tz):
    with freeze_time("2026-06-01T12:00:00Z"):
        text = sign(vendor, "L-1001", "--expires", "2027-01-01")
    pub = public_file(vendor, tmp_path)
    assert verify(text, "--public-key", pub, "--as-of", "2026-12-31T23:59:59Z").exit_code == 0
    late = verify(text, "--public-key", pub, "--as-of", "2027-01-01T00:00:00Z")
    assert late.exit_code == 4 and "expired on 2027-01-01 00:00 UTC" in late.stderr
    early = verify(text, "--public-key", pub, "--as-of", "2026-06-01T11:59:59Z", fmt="json")
    assert early.exit_code == 4 and early.json()["error"] == "license-not-yet-valid"
    assert verify(text, "--public-key", pub, "--as-of", "2026-06-01T12:00:00Z").exit_code == 0
    # the clock itself, on machines far from UTC
    local_tz("Pacific/Kiritimati")
    with freeze_time("2026-12-31T23:59:59Z"):
        assert verify(text, "--public-key", pub).exit_code == 0
    local_tz("America/Adak")
    with freeze_time("2027-01-01T00:00:00Z"):
        assert verify(text, "--public-key", pub).exit_code == 4


def test_an_expiry_in_the_past_is_a_usage_error_and_records_nothing(vendor):
    with freeze_time("2026-06-01T12:00:00Z"):
        result = vendor("license", "sign", "L-1001", "--expires", "2026-06-01")
    assert result.exit_code == 2 and "not after now" in result.stderr
    assert [e for e in exported_events(vendor, "L-1001") if e["action"] == "signed"] == []


def test_a_license_of_a_key_never_activated_ends_with_its_activation_window(any_store_spec,
                                                                             tmp_path):
    k = Kscli(any_store_spec)
    with freeze_time("2024-03-01T10:00:00Z"):
        assert k("signer", "init").exit_code == 0
        assert k("license", "issue", "--product", PRODUCT, "--purchased",
                 "2024-02-29T08:00:00Z", "--count", "2").exit_code == 0
        assert k("license", "activate", "L-1002", "--machine", "laptop").exit_code == 0
        unactivated = sign(k, "L-1001")
        active = sign(k, "L-1002")
    pub = public_file(k, tmp_path)
    claims = verify(unactivated, "--public-key", pub, "--as-of", "2024-06-01", fmt="json").json()
    assert claims["claims"]["activation_deadline"] == "2025-02-28"
    assert claims["claims"]["activated"] is False
    assert verify(unactivated, "--public-key", pub, "--as-of", "2025-02-28T23:59:59Z").exit_code == 0
    late = verify(unactivated, "--public-key", pub, "--as-of", "2025-03-01T00:00:00Z", fmt="json")
    assert late.exit_code == 4 and late.json()["error"] == "activation-window-elapsed"
    assert "2025-03-01 00:00 UTC" in late.stderr
    assert verify(active, "--public-key", pub, "--as-of", "2030-01-01").exit_code == 0
    # the vendor cannot sign it any more either, from the first second after its window
    with freeze_time("2025-02-28T23:59:59Z"):
        assert k("license", "sign", "L-1001").exit_code == 0
    with freeze_time("2025-03-01T00:00:00Z"):
        refused = k("--format", "json", "license", "sign", "L-1001")
    assert refused.exit_code == 4 and refused.json()["error"] == "key-deactivated"
    assert refused.json()["clause"] == "license.activation-window"


# --- the signer ---------------------------------------------------------------------

def test_signer_init_once_show_without_signer_and_private_files(tmp_path, monkeypatch):
    k = Kscli(None)
    missing = k("signer", "show")
    assert missing.exit_code == 3 and "signer init" in missing.stderr
    assert k("license", "sign", "L-1001").exit_code == 3  # no signer: nothing opened
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    made = k("--format", "json", "signer", "init", "--name", "Acme")
    assert made.exit_code == 0 and made.json()["private_key_in"] == "file"
    assert "warning:" in made.stderr and "signer-private.json" in made.stderr
    folder = tmp_path / "home" / ".local" / "share" / "kscli"
    for name in ("signer.json", "signer-private.json"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    private = json.loads((folder / "signer-private.json").read_text())
    assert list(private) == [made.json()["id"]]
    assert list(private.values())[0] not in (folder / "signer.json").read_text()
    again = k("signer", "init")
    assert again.exit_code == 4 and "signer rotate" in again.stderr
    rotated = k("--format", "json", "signer", "rotate")
    assert rotated.exit_code == 0 and "warning" not in rotated.stderr  # said once
    # the old private key is deleted, its public key kept
    private = json.loads((folder / "signer-private.json").read_text())
    assert list(private) == [rotated.json()["id"]]
    assert [key["id"] for key in k.json("signer", "show")] == [rotated.json()["id"],
                                                               made.json()["id"]]
    doctor = k("--format", "json", "doctor").json()
    line = next(r for r in doctor if r["check"] == "signing key")
    assert "signer-private.json" in line["detail"] and "1 retired" in line["detail"]


def test_with_a_keyring_the_private_key_goes_there_only(tmp_path):
    from tests.memory_keyring import vault

    k = Kscli(None)
    made = k.json("signer", "init")
    assert made["private_key_in"] == "keyring"
    assert ("kscli", "kscli-signer:" + made["id"]) in vault()
    folder = tmp_path / "home" / ".local" / "share" / "kscli"
    assert not (folder / "signer-private.json").exists()
    line = next(r for r in k.json("doctor") if r["check"] == "signing key")
    assert "system keyring" in line["detail"]
    rotated = k.json("signer", "rotate")
    assert ("kscli", "kscli-signer:" + made["id"]) not in vault()
    assert ("kscli", "kscli-signer:" + rotated["id"]) in vault()


def test_a_damaged_or_swapped_private_key_is_refused_before_anything_is_written(
        any_store_spec, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    k = Kscli(any_store_spec)
    made = k.json("signer", "init")
    assert k("license", "issue", "--product", PRODUCT).exit_code == 0
    private_file = tmp_path / "home" / ".local" / "share" / "kscli" / "signer-private.json"
    other = b64(bytes(nacl_signing.SigningKey.generate()))
    for value in (other, "not base64!", b64(b"short")):
        private_file.write_text(json.dumps({made["id"]: value}))
        result = k("--format", "json", "license", "sign", "L-1001")
        assert result.exit_code == 1 and "damaged" in result.stderr, result.stderr
        assert value not in result.stderr + result.stdout
    assert [e["action"] for e in exported_events(k, "L-1001")] == ["issued"]


# --- without the extra --------------------------------------------------------------

def test_without_cryptography_the_commands_name_the_extra_and_exit_6(vendor, tmp_path,
                                                                       monkeypatch):
    text = sign(vendor, "L-1001")
    pub = public_file(vendor, tmp_path)
    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    for argv in (("signer", "rotate"), ("license", "sign", "L-1002"), ("license", "revoked")):
        result = vendor(*argv)
        assert result.exit_code == 6, (argv, result.stderr)
        assert 'pip install "kscli[signing]"' in result.stderr and result.stdout == ""
    result = verify(text, "--public-key", pub)
    assert result.exit_code == 6 and 'pip install "kscli[signing]"' in result.stderr
    assert [e for e in exported_events(vendor, "L-1002") if e["action"] == "signed"] == []
    # what needs no cryptography still works
    assert vendor("signer", "show").exit_code == 0
    assert vendor("license", "machine-id", "--product", PRODUCT).exit_code == 0


def test_license_validate_imports_neither_cryptography_nor_the_signing_commands():
    import subprocess

    from kscli.domain import keys

    key = keys.format_key(keys.generate())
    code = ("import sys\nfrom kscli.cli import main\n"
            f"sys.argv = ['kscli', 'license', 'validate', {key!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('IMPORTED=' + ','.join(m for m in ('cryptography', 'nacl', "
            "'kscli.cli.license_files', 'kscli.services.signing', 'kscli.ed25519') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("valid ") and lines[-1] == "IMPORTED=", out


# --- the pure rules -----------------------------------------------------------------

def _pure_claims(**changes) -> dict:
    claims = _claims(_PROPERTY_SIGNER, **changes)
    return claims


@pytest.mark.parametrize("change, why", [
    ({"seats": True}, "seats"), ({"seats": 0}, "seats"), ({"seats": "1"}, "seats"),
    ({"entitlements": ["pro", "cloud"]}, "entitlements"),
    ({"entitlements": ["pro", "pro"]}, "entitlements"),
    ({"issued_at": "2026-01-01T00:00:00+00:00"}, "issued_at"),
    ({"expires_at": "2025-01-01T00:00:00Z"}, "expires before"),
    ({"activation_deadline": "2026-02-30"}, "activation_deadline"),
    ({"activated": 1}, "activated"), ({"machine": "laptop"}, "machine"),
    ({"license_id": "S-1001"}, "license_id"), ({"typ": "revocations"}, "not a license"),
    ({"key": "1QASW-A7YHB-XDP0G-JE7WK-RFC3W"}, "unknown key"),
])
def test_claims_are_read_strictly(change, why):
    with pytest.raises(tok.TokenRefused) as refused:
        tok.read_license(_pure_claims(**change))
    assert refused.value.code == "malformed-license" and why in refused.value.message
    claims = _pure_claims()
    del claims["machine"]
    with pytest.raises(tok.TokenRefused, match="missing machine"):
        tok.read_license(claims)


def test_the_checks_at_their_boundaries_with_an_explicit_now():
    from datetime import datetime, timezone

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    claims = tok.read_license(_pure_claims(activated=False, machine="a" * 32))
    tok.check(claims, at("2026-12-31T23:59:59"), machine="a" * 32)
    for now, machine, code in [
        (at("2027-01-01T00:00:00"), "a" * 32, "license-expired"),
        (at("2025-12-31T23:59:59"), "a" * 32, "license-not-yet-valid"),
        (at("2026-06-01T00:00:00"), "b" * 32, "wrong-machine"),
        (at("2026-06-01T00:00:00"), None, "wrong-machine"),
    ]:
        with pytest.raises(tok.TokenRefused) as refused:
            tok.check(claims, now, machine=machine)
        assert refused.value.code == code
    window = tok.read_license(_pure_claims(activated=False, expires_at=None))
    tok.check(window, at("2026-12-31T23:59:59"))  # the last day (2026-12-31) counts whole
    with pytest.raises(tok.TokenRefused, match="2027-01-01 00:00 UTC"):
        tok.check(window, at("2027-01-01T00:00:00"))
    tok.check(tok.read_license(_pure_claims(expires_at=None)), at("2999-01-01T00:00:00"))
    with pytest.raises(tok.TokenRefused, match="wrong product"):
        tok.check(claims, at("2026-06-01T00:00:00"), product="Other", machine="a" * 32)
    tok.check(claims, at("2026-06-01T00:00:00"), product=" photo EDITOR ", machine="a" * 32)


def test_machine_ids_are_salted_with_the_product():
    assert tok.machine_id("abc", "Photo Editor") == tok.machine_id(" abc\n", " photo editor ")
    assert tok.machine_id("abc", "Photo Editor") != tok.machine_id("abc", "Audio Mixer")
    assert tok.machine_id("abc", "Photo Editor") != tok.machine_id("abd", "Photo Editor")
    assert len(tok.machine_id("abc", "P")) == 32


def test_a_license_bound_to_a_machine_activates_the_key_there(any_store_spec, tmp_path):
    k = Kscli(any_store_spec)
    first, second = "1" * 32, "2" * 32
    with freeze_time("2024-03-01T10:00:00Z"):
        assert k("signer", "init").exit_code == 0
        assert k("license", "issue", "--product", PRODUCT, "--purchased",
                 "2024-02-29T08:00:00Z").exit_code == 0
        signed = k("--format", "json", "license", "sign", "L-1001", "--machine", first)
        assert signed.exit_code == 0, signed.stderr
        assert signed.json()["activated"] is True and signed.json()["activation_reference"]
        shown = k.json("license", "show", "L-1001")
        assert shown["status"] == "active"
        assert [a["machine"] for a in shown["activations"]] == [first]
        # the same machine again: no second activation; another: no seat left
        again = k.json("license", "sign", "L-1001", "--machine", first)
        assert again["activation_reference"] is None
        refused = k("--format", "json", "license", "sign", "L-1001", "--machine", second)
        assert refused.exit_code == 4 and refused.json()["error"] == "seats-exhausted"
    actions = [e["action"] for e in exported_events(k, "L-1001")]
    assert actions == ["issued", "activated", "signed", "signed"]
    pub = public_file(k, tmp_path)
    # an activated key's license outlives the activation window
    late = verify(signed.json()["license_file"], "--public-key", pub, "--machine", first,
                  "--as-of", "2030-01-01")
    assert late.exit_code == 0, late.stderr


def test_a_bound_first_activation_after_the_window_is_refused(any_store_spec):
    k = Kscli(any_store_spec)
    with freeze_time("2024-03-01T10:00:00Z"):
        assert k("signer", "init").exit_code == 0
        assert k("license", "issue", "--product", PRODUCT, "--purchased",
                 "2024-02-29T08:00:00Z").exit_code == 0
    with freeze_time("2025-02-28T23:59:59Z"):
        assert k("license", "sign", "L-1001", "--machine", "1" * 32).exit_code == 0
    with freeze_time("2025-03-01T00:00:00Z"):
        assert k("license", "issue", "--product", PRODUCT, "--purchased",
                 "2024-02-29T08:00:00Z").exit_code == 0
        refused = k("--format", "json", "license", "sign", "L-1002", "--machine", "2" * 32)
    assert refused.exit_code == 4 and refused.json()["clause"] == "license.activation-window"
    assert [e["action"] for e in exported_events(k, "L-1002")] == ["issued"]
