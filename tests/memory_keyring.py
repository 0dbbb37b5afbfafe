"""An in-memory keyring backend for tests (PYTHON_KEYRING_BACKEND points here)."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

_VAULT: dict[tuple[str, str], str] = {}


class MemoryKeyring(KeyringBackend):
    priority = 1

    def get_password(self, service, username):
        return _VAULT.get((service, username))

    def set_password(self, service, username, password):
        _VAULT[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in _VAULT:
            raise PasswordDeleteError(username)
        del _VAULT[(service, username)]


def vault() -> dict[tuple[str, str], str]:
    return _VAULT
