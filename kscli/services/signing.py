"""Signed license files: the vendor's signer, signing, verifying, revocation lists.

The signer is the vendor's, not a ledger's: its public keys are kept in
``signer.json`` in kscli's data folder (private, 0600), each with its id, name and
dates; the newest is current, older ones are kept (retired) so that licenses they
signed still verify. A private key goes where license keys go (the system keyring,
through :class:`kscli.secrets.Keeper`), or, where no keyring works, into
``signer-private.json`` beside it (0600), with a warning the first time only.

Verification needs no ledger and no signer: only the token, the vendor's public keys
and, for a bound license, this machine's id. Cryptography is in :mod:`kscli.ed25519`,
imported by the functions that sign or verify, never at import of this module.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kscli.domain import ids
from kscli.domain import license_token as tok
from kscli.domain import licenses as rules
from kscli.domain.calendar import iso
from kscli.domain.errors import BadValue, Failure, NoChange, NotFound, Refused, StoreUnreadable
from kscli.domain.model import Event, License
from kscli.secrets import KEYRING, Keeper
from kscli.store.fs import atomic_write, ensure_folder, write_errors

KEYRING_PREFIX = "kscli-signer:"
FILE = "file"  # where a private key is, when not in the keyring (shown to users)
OS_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid")


# --- the signer's files -----------------------------------------------------------

class SignerFiles:
    """``signer.json`` (public keys) and ``signer-private.json`` (private keys kept
    without a keyring). The second is the Keeper's fallback place: it has
    ``put_secret`` and ``secret`` as the ledger has for license keys."""

    def __init__(self, public_path: str, private_path: str) -> None:
        self.public_path = public_path
        self.private_path = private_path

    @classmethod
    def default(cls) -> "SignerFiles":
        from kscli.paths import signer_files

        return cls(*signer_files())

    def _read(self, path: str) -> dict[str, Any] | None:
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreUnreadable(f"cannot read the signer file {path} ({type(exc).__name__})",
                                  hint="restore it from a backup; it was left untouched") from None
        if not isinstance(data, dict):
            raise StoreUnreadable(f"the signer file {path} is not a JSON object",
                                  hint="restore it from a backup; it was left untouched")
        return data

    def _write(self, path: str, doc: dict[str, Any]) -> None:
        from kscli.store.fs import private_umask

        private_umask()
        with write_errors(path):
            ensure_folder(path)
            atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    def load(self) -> dict[str, Any]:
        doc = self._read(self.public_path) or {}
        keys = doc.get("keys", [])
        if not isinstance(keys, list) or any(not isinstance(k, dict) or "id" not in k for k in keys):
            raise StoreUnreadable(f"the signer file {self.public_path} holds no list of keys",
                                  hint="restore it from a backup; it was left untouched")
        return {"keys": keys, "warned": bool(doc.get("warned"))}

    def save(self, doc: dict[str, Any]) -> None:
        self._write(self.public_path, doc)

    def put_secret(self, name: str, value: str) -> None:
        doc = self._read(self.private_path) or {}
        doc[name] = value
        self._write(self.private_path, doc)

    def secret(self, name: str) -> str | None:
        value = (self._read(self.private_path) or {}).get(name)
        return value if isinstance(value, str) else None

    def forget_secret(self, name: str) -> None:
        doc = self._read(self.private_path)
        if doc is not None and name in doc:
            del doc[name]
            self._write(self.private_path, doc)


@dataclass(frozen=True)
class SignerKey:
    """One key pair of the signer: its public half and where its private half is."""

    id: str
    name: str | None
    public_key: str  # ed25519:<base64url>
    created_at: str
    retired_at: str | None
    private_key_in: str  # "keyring" or "file"

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "public_key": self.public_key,
                "created_at": self.created_at, "retired_at": self.retired_at,
                "current": self.retired_at is None, "private_key_in": self.private_key_in}


def _key(raw: dict[str, Any]) -> SignerKey:
    return SignerKey(raw["id"], raw.get("name"), raw.get("public_key", ""),
                     raw.get("created_at", ""), raw.get("retired_at"),
                     raw.get("private_key_in", FILE))


def signer_keys(files: SignerFiles) -> list[SignerKey]:
    """The current key first, then the retired ones, newest first."""
    keys = [_key(k) for k in files.load()["keys"]]
    return ([k for k in keys if k.retired_at is None]
            + [k for k in reversed(keys) if k.retired_at is not None])


def current_key(files: SignerFiles) -> SignerKey:
    for key in signer_keys(files):
        if key.retired_at is None:
            return key
    raise NotFound("there is no signer yet", code="no-signer",
                   hint="make one with `kscli signer init --name NAME`")


@dataclass(frozen=True)
class NewKey:
    key: SignerKey
    warning: str | None  # said once: the first private key kept in a file


def _make_key(files: SignerFiles, keeper: Keeper, now: datetime, name: str | None,
              doc: dict[str, Any]) -> NewKey:
    from kscli import ed25519

    private, public = ed25519.generate()
    kid = tok.key_id(public)
    where = keeper.put(files, kid, KEYRING_PREFIX + kid, tok.b64encode(private))
    key = SignerKey(kid, name, tok.public_key_text(public), iso(now), None,
                    KEYRING if where == KEYRING else FILE)
    warning = None
    if key.private_key_in == FILE and not doc["warned"]:
        doc["warned"] = True
        warning = (f"{keeper.fallback}: the private signing key is kept in "
                   f"{files.private_path} (private, 0600); this is said once, "
                   "`kscli doctor` says where signing keys are")
    record = key.view()
    del record["current"]
    doc["keys"].append(record)
    files.save(doc)
    return NewKey(key, warning)


def init_signer(files: SignerFiles, keeper: Keeper, now: datetime, name: str | None) -> NewKey:
    doc = files.load()
    if doc["keys"]:
        current = current_key(files)
        raise Refused(f"a signer already exists (key {current.id}, made {current.created_at})",
                      code="signer-exists",
                      hint="`kscli signer rotate` makes a new key and keeps the old one "
                           "for verification")
    return _make_key(files, keeper, now, name, doc)


def rotate_signer(files: SignerFiles, keeper: Keeper, now: datetime,
                  name: str | None = None) -> tuple[NewKey, SignerKey]:
    """A new current key; the old one is retired: its public key is kept for
    verification, its private key deleted (a rotation is often for a leak)."""
    from kscli.secrets import LEDGER

    old = current_key(files)
    doc = files.load()
    for raw in doc["keys"]:
        if raw["id"] == old.id:
            raw["retired_at"] = iso(now)
    new = _make_key(files, keeper, now, name if name is not None else old.name, doc)
    keeper.forget(files, LEDGER if old.private_key_in == FILE else KEYRING, old.id,
                  KEYRING_PREFIX + old.id)
    return new, old


def _private_key(files: SignerFiles, keeper: Keeper, key: SignerKey) -> bytes:
    from kscli.secrets import LEDGER

    text = keeper.fetch(files, LEDGER if key.private_key_in == FILE else KEYRING, key.id,
                        KEYRING_PREFIX + key.id)
    where = files.private_path if key.private_key_in == FILE else "the system keyring"
    if text is None:
        raise Failure(f"the private key of signer key {key.id} is not in {where}",
                      code="signing-key-missing",
                      hint="restore it, or `kscli signer rotate` to make a new key")
    from kscli import ed25519

    try:
        private = tok.b64decode(text, "private key")
        matches = len(private) == 32 and tok.public_key_text(ed25519.public_of(private)) \
            == key.public_key
    except (tok.TokenRefused, ValueError):
        matches = False
    if not matches:
        raise Failure(f"the private key of signer key {key.id} in {where} is damaged, or not "
                      "that key's", code="signing-key-damaged",
                      hint="`kscli signer rotate` makes a new key")
    return private


# --- tokens -------------------------------------------------------------------------

def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a claim appears twice")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(payload: bytes, kind: str) -> Any:
    try:
        return json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise tok.malformed("its payload is not JSON text", kind) from None


def _signed(doc: dict[str, Any], private: bytes, kind: str) -> str:
    from kscli import ed25519

    payload = _dumps(doc)
    return tok.armor(tok.compact(payload, ed25519.sign(private, tok.signed_text(payload))), kind)


def _open(text: str, kind: str, public_keys: dict[str, bytes]) -> Any:
    """The payload of a token whose signature checks against the key it names."""
    from kscli import ed25519

    ed25519.available()
    parts = tok.split(tok.unwrap(text, kind), kind)
    data = _loads(parts.payload, kind)
    public = tok.check_signers(public_keys, tok.signer_of(data, kind), kind)
    if not ed25519.verify(public, parts.signature, parts.signed):
        raise tok.bad_signature(kind)
    return data


@dataclass(frozen=True)
class Signed:
    license: License
    claims: tok.LicenseClaims
    text: str  # the license file
    event: Event
    activation: Event | None = None  # a first activation on the bound machine


def sign_license(store: Any, now: datetime, target: Any, *, years: int, files: SignerFiles,
                 keeper: Keeper, expires_at: datetime | None, machine: str | None,
                 entitlements: tuple[str, ...], trust_clock: bool = False) -> Signed:
    """Sign a license file for a key of the ledger and record a ``signed`` event.

    ``machine``: a machine id, ``"auto"`` (this machine, for the key's product) or
    None (any machine). A revoked or lapsed key is refused. A license bound to a
    machine activates the key on it (the machine id is the activation's label), in
    the same transaction and under the same rules as `license activate`: the window
    for a first activation, the seats, the clock.
    """
    from kscli import ed25519
    from kscli.services.licenses import _record, find
    from kscli.services import check_clock

    ed25519.available()
    signer = current_key(files)
    private = _private_key(files, keeper, signer)
    with store.write() as ledger:
        lic = find(ledger, target)
        shown = rules.effective(lic, now, years=years)
        if shown.status in ("revoked", "deactivated"):
            reason = f" ({shown.status_reason})" if shown.status_reason else ""
            raise Refused(f"{lic.id} is {shown.status}{reason}: no license file is signed for it",
                          code=f"key-{shown.status}",
                          clause=rules.CLAUSE if shown.status_reason == rules.LAPSED else None)
        bound, activation = None, None
        if machine is not None:
            bound = this_machine(lic.product) if machine == "auto" else tok.parse_machine_id(machine)
            try:
                change = rules.activate(lic, bound, now, years=years)
            except NoChange:
                pass  # already active on that machine
            else:
                check_clock(ledger, now, trust_clock)
                activation = _record(ledger, change, now)
                lic = change.license
                shown = rules.effective(lic, now, years=years)
        claims = tok.new_license(
            product=lic.product, license_id=lic.id, key_fingerprint=lic.fingerprint,
            seats=lic.seats, entitlements=entitlements, issued_at=now, expires_at=expires_at,
            activation_deadline=rules.activation_deadline(lic.purchased_at, years=years),
            activated=shown.status == "active", machine=bound, signer=signer.id)
        text = _signed(claims.to_dict(), private, tok.LICENSE)
        detail = {"signer": signer.id, "expires_at": iso(expires_at), "machine": bound,
                  "entitlements": list(claims.entitlements),
                  "license_file_sha256": hashlib.sha256(text.encode("ascii")).hexdigest(),
                  **rules.key_detail(lic)}
        event = ledger.append_event(lic.id, "signed", detail, now)
    return Signed(lic, claims, text, event, activation)


def revocation_list(store: Any, now: datetime, files: SignerFiles,
                    keeper: Keeper) -> tuple[str, tok.Revocations]:
    """The signed list of every revoked key of the ledger (id and fingerprint)."""
    from kscli import ed25519

    ed25519.available()
    signer = current_key(files)
    private = _private_key(files, keeper, signer)
    with store.read() as ledger:
        revoked = sorted(((lic.id, lic.fingerprint) for lic in ledger.licenses()
                          if lic.status == "revoked"), key=lambda p: ids.natural_key(p[0]))
    listing = tok.Revocations(signer.id, now, tuple(revoked))
    return _signed(listing.to_dict(), private, tok.REVOCATIONS), listing


@dataclass(frozen=True)
class Verified:
    claims: tok.LicenseClaims
    revocations: tok.Revocations | None
    machine: str | None  # the id it was checked against, for a bound license


def verify_license(text: str, public_keys: dict[str, bytes], now: datetime, *,
                   product: str | None = None, machine: str | None = None,
                   revoked_text: str | None = None) -> Verified:
    """Check a license file offline; raises :class:`TokenRefused` saying why not.

    ``machine``: a machine id, ``"auto"``, or None (``auto`` for a bound license).
    """
    revocations = None
    if revoked_text is not None:
        try:
            revocations = tok.read_revocations(_open(revoked_text, tok.REVOCATIONS, public_keys))
        except tok.TokenRefused as exc:
            raise tok.TokenRefused(f"the revocation list is not valid: {exc.message}",
                                   code="bad-revocation-list", hint=exc.hint) from None
    claims = tok.read_license(_open(text, tok.LICENSE, public_keys))
    here = None
    if claims.machine is not None:
        here = (this_machine(claims.product) if machine in (None, "auto")
                else tok.parse_machine_id(machine))
    tok.check(claims, now, product=product, machine=here, revocations=revocations)
    return Verified(claims, revocations, here)


def read_public_keys(value: str) -> dict[str, bytes]:
    """``--public-key``: one key (``ed25519:...``), or a file of them: the text
    `kscli signer show` prints (one key a line, ``#`` comments) or its JSON."""
    if tok.is_public_key_text(value):
        raw = tok.parse_public_key(value)
        return {tok.key_id(raw): raw}
    try:
        with open(value, "rb") as handle:
            data = handle.read(1_000_000).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadValue(f"--public-key {value!r} is neither a public key (ed25519:...) nor a "
                       f"readable file ({type(exc).__name__})",
                       hint="`kscli signer show > vendor.pub` writes the file") from None
    texts: list[tuple[str, str]] = []
    if data.lstrip().startswith("["):
        try:
            rows = json.loads(data)
            texts = [(f"item {n}", str(row["public_key"])) for n, row in enumerate(rows, 1)]
        except (ValueError, TypeError, KeyError):
            raise BadValue(f"{value} is not a list of public keys as `kscli --format json "
                           "signer show` prints it") from None
    else:
        for number, line in enumerate(data.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                texts.append((f"line {number}", line))
    keys: dict[str, bytes] = {}
    for where, text in texts:
        try:
            raw = tok.parse_public_key(text)
        except BadValue as exc:
            raise BadValue(f"{value} {where}: {exc.message}", hint=exc.hint) from None
        keys[tok.key_id(raw)] = raw
    if not keys:
        raise BadValue(f"{value} holds no public key",
                       hint="`kscli signer show > vendor.pub` writes the file")
    return keys


# --- this machine -------------------------------------------------------------------

def os_machine_id() -> str:
    """The operating system's id of this machine, read locally and never sent."""
    override = os.environ.get("KSCLI_MACHINE_ID_FILE")
    for path in ((override,) if override else OS_MACHINE_ID_FILES):
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                text = handle.read(4096).strip()
        except OSError:
            continue
        if text:
            return text
    found = _platform_machine_id()
    if found:
        return found
    where = override or ", ".join(OS_MACHINE_ID_FILES)
    raise Failure(f"cannot find this machine's id (looked in {where})", code="no-machine-id",
                  hint="set KSCLI_MACHINE_ID_FILE to a file holding a stable id")


def _platform_machine_id() -> str | None:
    import sys

    try:
        if sys.platform == "darwin":
            import subprocess

            out = subprocess.run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
                                 capture_output=True, text=True, timeout=5).stdout
            for line in out.splitlines():
                if "IOPlatformUUID" in line:
                    return line.split("=", 1)[1].strip().strip('"')
        if sys.platform == "win32":
            import winreg

            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                                r"SOFTWARE\Microsoft\Cryptography") as key:
                return str(winreg.QueryValueEx(key, "MachineGuid")[0])
    except (OSError, ValueError, IndexError):
        return None
    return None


def this_machine(product: str) -> str:
    """This machine's id for ``product`` (see :func:`kscli.domain.license_token.machine_id`)."""
    return tok.machine_id(os_machine_id(), product)
