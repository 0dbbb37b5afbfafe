"""Ed25519 through ``cryptography`` (the ``kscli[signing]`` extra), and nothing else.

Imported only by the commands that make, use or check signatures (`signer init` and
`rotate`, `license sign`, `verify` and `revoked`), so that no other command pays for
the library or needs it installed. Keys are their 32 raw bytes.
"""

from __future__ import annotations

from typing import Any

from kscli.domain.errors import StoreUnreadable

EXTRA_HINT = 'install it with: pip install "kscli[signing]"'


def _library() -> Any:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise StoreUnreadable(
            "signed license files need the cryptography library, which is not installed",
            code="missing-extra", hint=EXTRA_HINT) from None
    return ed25519, InvalidSignature


def generate() -> tuple[bytes, bytes]:
    """A new key pair: (private key, public key), 32 raw bytes each."""
    ed25519, _ = _library()
    from cryptography.hazmat.primitives import serialization as s

    private = ed25519.Ed25519PrivateKey.generate()
    return (private.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()),
            private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))


def public_of(private_key: bytes) -> bytes:
    ed25519, _ = _library()
    from cryptography.hazmat.primitives import serialization as s

    private = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
    return private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


def sign(private_key: bytes, message: bytes) -> bytes:
    ed25519, _ = _library()
    return ed25519.Ed25519PrivateKey.from_private_bytes(private_key).sign(message)


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    ed25519, invalid = _library()
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (invalid, ValueError):
        return False
    return True


def available() -> None:
    """Raise the missing-extra error (exit 6) now, before anything is written."""
    _library()
