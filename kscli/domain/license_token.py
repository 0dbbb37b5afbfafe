"""Signed license files: the token format and the checks of its claims.

A token is three parts joined by dots, all ASCII::

    ks1.<payload>.<signature>

``ks1`` is the version; ``payload`` is the base64url (no padding) of a UTF-8 JSON
object, the claims; ``signature`` is the base64url of the 64-byte Ed25519 signature
of the ASCII text ``ks1.<payload>`` (the first two parts and their dot). A file holds
one token between BEGIN and END lines, wrapped at 64 columns::

    -----BEGIN KSCLI LICENSE-----
    ks1.eyJhY3RpdmF0ZWQiOmZhbHNlLCJhY3RpdmF0aW9uX2RlYWRsaW5lIjoiMjAy
    ...
    -----END KSCLI LICENSE-----

Spaces, tabs and line breaks inside are not part of the token (e-mail may re-wrap
it); every other byte is. Reading is strict: base64url must be canonical (no padding,
no stray bits), the payload must be exactly the object described below, and a version
other than ``ks1`` is refused, so that any changed byte fails.

The claims of a license (``typ`` "license"), every field always present:

- ``product`` (text), ``license_id`` (``L-1001``), ``key_fingerprint`` (the key's
  eight-hex fingerprint; never the key), ``seats`` (int), ``entitlements`` (a sorted
  list of names);
- ``issued_at`` and ``expires_at`` (``YYYY-MM-DDTHH:MM:SSZ``; ``expires_at`` may be
  null: no expiry): valid from ``issued_at`` included to ``expires_at`` excluded;
- ``activation_deadline`` (``YYYY-MM-DD``, the key's last day to activate) and
  ``activated`` (was the key active when signed): a license of a key not yet
  activated is valid only until its activation window closes (00:00 UTC after the
  last day); a license of an active key does not depend on it;
- ``machine`` (32 hex digits, see :func:`machine_id`, or null: any machine);
- ``signer`` (the signing key's id, :func:`key_id`).

A revocation list (``typ`` "revocations"): ``signer``, ``issued_at`` and ``revoked``,
a list of ``{"license_id", "key_fingerprint"}``; a license is revoked when both match.

JSON itself is read and written by the caller (the domain does no I/O and imports no
codec), and so is the signature: this module says what is signed and checks what was.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from kscli.domain import ids
from kscli.domain.calendar import UTC, iso
from kscli.domain.errors import BadValue, Refused
from kscli.domain.licenses import closes_after

VERSION = "ks1"
LICENSE = "license"
REVOCATIONS = "revocations"
ARMOR = {
    LICENSE: ("-----BEGIN KSCLI LICENSE-----", "-----END KSCLI LICENSE-----"),
    REVOCATIONS: ("-----BEGIN KSCLI REVOCATIONS-----", "-----END KSCLI REVOCATIONS-----"),
}
WIDTH = 64
KEY_PREFIX = "ed25519:"
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32

_B64 = re.compile(r"[A-Za-z0-9_-]*")
_VERSION = re.compile(r"ks\d+")
_SPACE = re.compile(r"[ \t\r\n]+")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_MACHINE = re.compile(r"[0-9a-f]{32}")
_LICENSE_ID = ids.form(ids.LICENSE)
_FINGERPRINT = re.compile(r"[0-9a-f]{8}")
_PUBLIC_KEY = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")


# --- refusals ----------------------------------------------------------------------

class TokenRefused(Refused):
    """A license or revocation list that does not verify (exit 4).

    ``code`` names why (``malformed-license``, ``unknown-version``, ``unknown-signer``,
    ``bad-signature``, ``wrong-product``, ``wrong-machine``, ``license-not-yet-valid``,
    ``license-expired``, ``activation-window-elapsed``, ``license-revoked``);
    ``claims`` are the signed claims when the signature was good.
    """

    def __init__(self, message: str, *, code: str, claims: "LicenseClaims | None" = None,
                 hint: str | None = None) -> None:
        super().__init__(message, code=code, hint=hint)
        self.claims = claims

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": False, **super().to_dict()}
        if self.claims is not None:
            out["claims"] = self.claims.to_dict()
        return out


def malformed(why: str, kind: str = LICENSE) -> TokenRefused:
    what = "license file" if kind == LICENSE else "revocation list"
    return TokenRefused(f"malformed {what}: {why}", code="malformed-license",
                        hint="ask the vendor for the file again, unchanged")


# --- base64url and the frame --------------------------------------------------------

def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: str, what: str, kind: str = LICENSE) -> bytes:
    """Canonical base64url without padding; anything else is malformed."""
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        raise malformed(f"its {what} is not base64url", kind)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64encode(raw) != text:  # stray bits in the last symbol: another text, same bytes
        raise malformed(f"its {what} is not canonical base64url", kind)
    return raw


def signed_text(payload: bytes) -> bytes:
    """The bytes the signature covers: ``ks1.<payload>``."""
    return f"{VERSION}.{b64encode(payload)}".encode("ascii")


def compact(payload: bytes, signature: bytes) -> str:
    return f"{signed_text(payload).decode('ascii')}.{b64encode(signature)}"


def armor(token: str, kind: str = LICENSE) -> str:
    """The file: BEGIN line, the token wrapped at 64 columns, END line."""
    begin, end = ARMOR[kind]
    lines = [token[i:i + WIDTH] for i in range(0, len(token), WIDTH)]
    return "\n".join([begin, *lines, end]) + "\n"


def unwrap(text: str, kind: str = LICENSE) -> str:
    """The token of a file (armored or bare), spaces and line breaks removed."""
    body = text.strip(" \t\r\n")
    begin, end = ARMOR[kind]
    if body.startswith("-----"):
        if not body.startswith(begin) or not body.endswith(end) or len(body) < len(begin + end):
            other = next((k for k, (b, _) in ARMOR.items() if k != kind and body.startswith(b)), None)
            if other is not None:
                raise malformed(f"this is a {'license file' if other == LICENSE else 'revocation list'}",
                                kind)
            raise malformed(f"it does not start with {begin} and end with {end}", kind)
        body = body[len(begin):len(body) - len(end)]
    token = _SPACE.sub("", body)
    if not token:
        raise malformed("it holds no token", kind)
    return token


@dataclass(frozen=True)
class Parts:
    signed: bytes  # what the signature covers
    payload: bytes
    signature: bytes


def split(token: str, kind: str = LICENSE) -> Parts:
    """The parts of a compact token; an unknown version is refused by name."""
    pieces = token.split(".")
    head = pieces[0]
    if head != VERSION:
        if _VERSION.fullmatch(head):
            raise TokenRefused(f"unknown token version {head}: this kscli reads {VERSION}",
                               code="unknown-version", hint="a newer kscli may read it")
        raise malformed(f"it does not start with {VERSION}.", kind)
    if len(pieces) != 3:
        raise malformed(f"it has {len(pieces)} dot-separated parts, not 3", kind)
    payload = b64decode(pieces[1], "payload", kind)
    signature = b64decode(pieces[2], "signature", kind)
    if len(signature) != SIGNATURE_BYTES:
        raise malformed(f"its signature is {len(signature)} bytes, not {SIGNATURE_BYTES}", kind)
    return Parts(f"{head}.{pieces[1]}".encode("ascii"), payload, signature)


# --- keys ---------------------------------------------------------------------------

def key_id(public_key: bytes) -> str:
    """A signing key's id: 16 hex digits of the SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def public_key_text(public_key: bytes) -> str:
    return KEY_PREFIX + b64encode(public_key)


def is_public_key_text(text: str) -> bool:
    return bool(_PUBLIC_KEY.fullmatch(text.strip()))


def parse_public_key(text: str) -> bytes:
    """``ed25519:<base64url of 32 bytes>``, as `kscli signer show` prints it."""
    value = text.strip()
    if not _PUBLIC_KEY.fullmatch(value):
        raise BadValue(f"not a public key: expected {KEY_PREFIX} and 43 base64url symbols",
                       hint="`kscli signer show` prints the vendor's public keys")
    raw = base64.urlsafe_b64decode(value[len(KEY_PREFIX):] + "=")
    if b64encode(raw) != value[len(KEY_PREFIX):] or len(raw) != PUBLIC_KEY_BYTES:
        raise BadValue("not a public key: its base64url is not canonical",
                       hint="copy it again from `kscli signer show`")
    return raw


# --- machine ids --------------------------------------------------------------------

def machine_id(os_machine_id: str, product: str) -> str:
    """The id of a machine for one product: 32 hex digits of a SHA-256 of the OS's
    machine id salted with the product (case and spaces around it ignored), so that
    two vendors get two unrelated ids for the same machine."""
    salt = product.strip().casefold().encode("utf-8")
    data = b"kscli-machine-id:v1\0" + salt + b"\0" + os_machine_id.strip().encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:32]


def parse_machine_id(text: str) -> str:
    value = text.strip().lower()
    if not _MACHINE.fullmatch(value):
        raise BadValue(f"not a machine id: expected 32 hex digits, as "
                       "`kscli license machine-id --product P` prints it", code="bad-machine-id")
    return value


# --- the claims ---------------------------------------------------------------------

@dataclass(frozen=True)
class LicenseClaims:
    product: str
    license_id: str
    key_fingerprint: str
    seats: int
    entitlements: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    activation_deadline: date
    activated: bool
    machine: str | None
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "typ": LICENSE, "product": self.product, "license_id": self.license_id,
            "key_fingerprint": self.key_fingerprint, "seats": self.seats,
            "entitlements": list(self.entitlements), "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "activation_deadline": self.activation_deadline.isoformat(),
            "activated": self.activated, "machine": self.machine, "signer": self.signer,
        }

    @property
    def activation_closes_at(self) -> datetime | None:
        """When a license of a key never activated stops being valid; None once active."""
        return None if self.activated else closes_after(self.activation_deadline)


@dataclass(frozen=True)
class Revocations:
    signer: str
    issued_at: datetime
    revoked: tuple[tuple[str, str], ...]  # (license_id, key_fingerprint), sorted

    def to_dict(self) -> dict[str, Any]:
        return {"typ": REVOCATIONS, "signer": self.signer, "issued_at": iso(self.issued_at),
                "revoked": [{"license_id": i, "key_fingerprint": f} for i, f in self.revoked]}

    def holds(self, claims: LicenseClaims) -> bool:
        return (claims.license_id, claims.key_fingerprint) in set(self.revoked)


def _fields(data: Any, keys: set[str], kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise malformed("its payload is not a JSON object", kind)
    if data.get("typ") != kind:
        raise malformed(f"it is not a {'license' if kind == LICENSE else 'revocation list'} "
                        f"(typ {data.get('typ')!r})", kind)
    missing, extra = keys - set(data), set(data) - keys
    if missing or extra:
        parts = ([f"missing {', '.join(sorted(missing))}"] if missing else []) + \
                ([f"unknown {', '.join(sorted(extra))}"] if extra else [])
        raise malformed("its claims are " + "; ".join(parts), kind)
    return data


def _text(data: dict, key: str, pattern: re.Pattern | None = None, kind: str = LICENSE,
          limit: int = 200) -> str:
    value = data[key]
    if not isinstance(value, str) or not value or len(value) > limit or (
            pattern is not None and not pattern.fullmatch(value)):
        raise malformed(f"its claim {key} is not valid", kind)
    return value


def _time(data: dict, key: str, kind: str = LICENSE) -> datetime:
    value = _text(data, key, _TIME, kind)
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise malformed(f"its claim {key} is not a time", kind) from None


_LICENSE_KEYS = {"typ", "product", "license_id", "key_fingerprint", "seats", "entitlements",
                 "issued_at", "expires_at", "activation_deadline", "activated", "machine",
                 "signer"}


def read_license(data: Any) -> LicenseClaims:
    """The claims of a license payload (already parsed from JSON), checked strictly."""
    d = _fields(data, _LICENSE_KEYS, LICENSE)
    seats = d["seats"]
    if type(seats) is not int or not 1 <= seats <= 10000:
        raise malformed("its claim seats is not valid")
    entitlements = d["entitlements"]
    if not isinstance(entitlements, list) or any(
            not isinstance(e, str) or not e or len(e) > 100 for e in entitlements) \
            or entitlements != sorted(set(entitlements)):
        raise malformed("its claim entitlements is not a sorted list of names")
    if type(d["activated"]) is not bool:
        raise malformed("its claim activated is not true or false")
    day = _text(d, "activation_deadline", _DAY)
    try:
        deadline = date.fromisoformat(day)
    except ValueError:
        raise malformed("its claim activation_deadline is not a day") from None
    expires = None if d["expires_at"] is None else _time(d, "expires_at")
    issued = _time(d, "issued_at")
    if expires is not None and expires <= issued:
        raise malformed("it expires before it was issued")
    return LicenseClaims(
        product=_text(d, "product"), license_id=_text(d, "license_id", _LICENSE_ID),
        key_fingerprint=_text(d, "key_fingerprint", _FINGERPRINT), seats=seats,
        entitlements=tuple(entitlements), issued_at=issued, expires_at=expires,
        activation_deadline=deadline, activated=d["activated"],
        machine=None if d["machine"] is None else _text(d, "machine", _MACHINE),
        signer=_text(d, "signer", _HEX16),
    )


def read_revocations(data: Any) -> Revocations:
    d = _fields(data, {"typ", "signer", "issued_at", "revoked"}, REVOCATIONS)
    entries = d["revoked"]
    if not isinstance(entries, list):
        raise malformed("its claim revoked is not a list", REVOCATIONS)
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"license_id", "key_fingerprint"}:
            raise malformed("an entry of its list is not a license_id and a key_fingerprint",
                            REVOCATIONS)
        pairs.append((_text(entry, "license_id", _LICENSE_ID, REVOCATIONS),
                      _text(entry, "key_fingerprint", _FINGERPRINT, REVOCATIONS)))
    return Revocations(_text(d, "signer", _HEX16, REVOCATIONS), _time(d, "issued_at", REVOCATIONS),
                       tuple(pairs))


def signer_of(data: Any, kind: str = LICENSE) -> str:
    """The signing key's id named by a payload, read before its signature is checked
    (only to pick the key to check it with)."""
    if not isinstance(data, dict) or not isinstance(data.get("signer"), str) \
            or not _HEX16.fullmatch(data["signer"]):
        raise malformed("it names no valid signer key", kind)
    return data["signer"]


def new_license(*, product: str, license_id: str, key_fingerprint: str, seats: int,
                entitlements: tuple[str, ...] | list[str], issued_at: datetime,
                expires_at: datetime | None, activation_deadline: date, activated: bool,
                machine: str | None, signer: str) -> LicenseClaims:
    """The claims `license sign` signs; refuses an expiry not after the issue time."""
    if expires_at is not None and expires_at <= issued_at:
        raise BadValue(f"the expiry {iso(expires_at)} is not after now ({iso(issued_at)})",
                       hint="give a later --expires")
    return LicenseClaims(product, license_id, key_fingerprint, seats,
                         tuple(sorted(set(entitlements))), issued_at.astimezone(UTC),
                         None if expires_at is None else expires_at.astimezone(UTC),
                         activation_deadline, activated, machine, signer)


# --- the checks ---------------------------------------------------------------------

def _at(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def check(claims: LicenseClaims, now: datetime, *, product: str | None = None,
          machine: str | None = None, revocations: Revocations | None = None) -> None:
    """Refuse a license with good signature that is not valid here and ``now``.

    ``machine`` is this machine's id for the license's product (checked only when the
    license is bound to one); ``product`` the product the caller expects.
    """
    def refuse(message: str, code: str, hint: str | None = None) -> TokenRefused:
        return TokenRefused(f"{claims.license_id}: {message}", code=code, claims=claims, hint=hint)

    if revocations is not None and revocations.holds(claims):
        raise refuse(f"revoked (in the revocation list of {_at(revocations.issued_at)})",
                     "license-revoked")
    if product is not None and product.strip().casefold() != claims.product.casefold():
        raise refuse(f"wrong product: it is for {claims.product!r}, not {product.strip()!r}",
                     "wrong-product")
    if claims.machine is not None and machine != claims.machine:
        raise refuse("bound to another machine" + ("" if machine else " (no machine id given)"),
                     "wrong-machine", hint="the customer sends `kscli license machine-id "
                                           f"--product {claims.product!r}` to the vendor")
    if now < claims.issued_at:
        raise refuse(f"not yet valid: issued for {_at(claims.issued_at)}",
                     "license-not-yet-valid")
    if claims.expires_at is not None and now >= claims.expires_at:
        raise refuse(f"expired on {_at(claims.expires_at)}", "license-expired")
    closes = claims.activation_closes_at
    if closes is not None and now >= closes:
        raise refuse(f"the key was not activated by {claims.activation_deadline.isoformat()}: "
                     f"its activation window closed on {_at(closes)}",
                     "activation-window-elapsed",
                     hint="the vendor signs a new file once the key is activated")


def check_signers(known: Mapping[str, Any], signer: str, kind: str = LICENSE) -> Any:
    """The public key a token names, or an ``unknown-signer`` refusal."""
    if signer not in known:
        what = "license" if kind == LICENSE else "revocation list"
        raise TokenRefused(f"unknown signer key {signer}: this {what} was not signed by any "
                           f"of the {len(known)} public key(s) given",
                           code="unknown-signer",
                           hint="the vendor's `kscli signer show` prints every key it kept")
    return known[signer]


def bad_signature(kind: str = LICENSE) -> TokenRefused:
    what = "license file" if kind == LICENSE else "revocation list"
    return TokenRefused(f"bad signature: the {what} was changed or not signed by this key",
                        code="bad-signature")
