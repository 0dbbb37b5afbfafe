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
import sys
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
        """Keep ``key``; returns where it went ("keyring" or "ledger").

        The keyring files it under ``key_hash``; the fallback is ``ledger.put_secret``
        under ``license_id`` (any place with that method: see :meth:`fetch`).
        """
        no_core_dumps()
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
        return self.fetch(ledger, lic.secret_store, lic.id, lic.key_hash)

    def fetch(self, place: Any, where: str, name: str, username: str) -> str | None:
        """A secret kept by :meth:`put` (``where`` is what it returned), or None.

        ``place`` is any object with ``put_secret(name, value)`` and ``secret(name)``:
        the ledger for license keys, the signer's files for signing keys.
        """
        no_core_dumps()
        if where == LEDGER:
            return place.secret(name)
        backend = self._keyring()
        if backend is None:
            return place.secret(name)
        try:
            return backend.get_password(SERVICE, username)
        except Exception:  # noqa: BLE001 - a key that cannot be read is reported as missing
            return None

    def forget(self, place: Any, where: str, name: str, username: str) -> None:
        """Delete a secret kept by :meth:`put` (``place`` also has ``forget_secret``);
        one that is already gone, or a keyring that refuses, is left as it is."""
        if where == LEDGER:
            place.forget_secret(name)
            return
        backend = self._keyring()
        if backend is not None:
            try:
                backend.delete_password(SERVICE, username)
            except Exception:  # noqa: BLE001 - nothing to delete, or a locked keyring
                pass

_PR_SET_DUMPABLE = 4


def no_core_dumps() -> None:
    """Before a secret is in this process's memory: no core file of it, ever.

    A crash with core dumps enabled would write the keys in clear into a file anyone
    who can read the working folder may read; and a non-dumpable process cannot be
    attached to by another process of the same user (``ptrace``), nor its memory read
    from ``/proc``. Best effort where the platform lacks either call.
    """
    try:
        import resource

        # the soft limit is the one a crash obeys; the hard one stays for the parent
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass
