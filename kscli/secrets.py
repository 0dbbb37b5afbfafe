"""Where license keys themselves are kept: the system keyring, or the ledger file.

``keyring`` is imported here only, and only when a command stores or reveals a key,
so that no other command pays for it. Its backend is the one keyring picks, or the
one named by ``PYTHON_KEYRING_BACKEND`` (read on every use). On a machine without a
usable backend (a headless server without D-Bus gets keyring's "fail" backend, and
any backend may raise when used), keys go into the ledger's ``secrets`` table: the
ledger file is private (0600). The first time that happens to a ledger, the command
records a ``secrets-in-ledger`` event and warns; later commands find the event and stay
silent (`kscli doctor` says where keys go every time). A License record's
``secret_store`` says which ("keyring" or "ledger"). In the keyring a key is filed
under the service ``kscli`` and the key's hash, so that two ledgers never collide.
"""

from __future__ import annotations

import os
from typing import Any

SERVICE = "kscli"
KEYRING = "keyring"
LEDGER = "ledger"
MISSING = "missing"  # kept in a ledger file once, and left out of the export it came from

_NO_KEYRING = ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring")


def _name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _resolve() -> tuple[Any | None, str, str]:
    """The usable backend (or None), the backend's name, and why none is usable."""
    try:
        import keyring
        import keyring.core

        backend = keyring.core.load_env() or keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring setup means "no keyring"
        name = os.environ.get("PYTHON_KEYRING_BACKEND") or "keyring"
        return None, name, f"the keyring backend cannot be loaded ({type(exc).__name__}: {exc})"
    name = _name(backend)
    if name in _NO_KEYRING:
        return None, name, f"no usable keyring backend (keyring chose {name})"
    return backend, name, ""


def keyring_backend() -> tuple[Any | None, str]:
    """The usable keyring backend and its name, or None and why there is none."""
    backend, name, why = _resolve()
    return (backend, name) if backend is not None else (None, why)


class Keeper:
    """Stores and fetches the keys of one command.

    ``fallback`` is None while every key went to the keyring; it says why when a key
    had to go to the ledger instead, and ``failed_backend`` names the keyring backend
    that could not be used. ``warn`` is set by the use case that records the ledger's
    ``secrets-in-ledger`` event (the first fallback of that ledger): only then does the
    command warn. With ``use_keyring=False`` keys always go to the ledger (sample data),
    silently and with no event.
    """

    def __init__(self, use_keyring: bool = True) -> None:
        self.use_keyring = use_keyring
        self.fallback: str | None = None
        self.failed_backend: str | None = None
        self.warn = False
        self._backend: Any = None
        self._resolved = False
        self._reason = ""
        self._backend_name = ""

    def _keyring(self) -> Any | None:
        if not self._resolved:
            self._resolved = True
            self._backend, self._backend_name, why = _resolve()
            if self._backend is None:
                self._reason = why
        return self._backend

    def put(self, ledger: Any, license_id: str, key_hash: str, key: str) -> str:
        """Keep ``key``; returns where it went ("keyring" or "ledger")."""
        if self.use_keyring:
            backend = self._keyring()
            if backend is not None:
                try:
                    backend.set_password(SERVICE, key_hash, key)
                    return KEYRING
                except Exception as exc:  # noqa: BLE001 - no D-Bus, locked, denied...
                    self._backend = None
                    self._reason = f"the keyring ({_name(backend)}) failed: {type(exc).__name__}"
            self.fallback = self._reason
            self.failed_backend = self._backend_name
        ledger.put_secret(license_id, key)
        return LEDGER

    def get(self, ledger: Any, lic: Any) -> str | None:
        """The key of a License, or None when it cannot be found."""
        if lic.secret_store == MISSING:
            return None
        if lic.secret_store == LEDGER:
            return ledger.secret(lic.id)
        backend = self._keyring()
        if backend is None:
            return ledger.secret(lic.id)
        try:
            return backend.get_password(SERVICE, lic.key_hash)
        except Exception:  # noqa: BLE001 - a key that cannot be read is reported as missing
            return None
