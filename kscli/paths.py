"""Where kscli keeps its files, and the KSCLI_* variables that move them."""

from __future__ import annotations

import os

ENVIRONMENT: dict[str, str] = {
    "KSCLI_STORE": "the ledger: a path (*.json for the JSON backend, anything else SQLite) "
    "or a postgresql:// URL; same as --store",
    "KSCLI_FORMAT": "the output format: table, plain, json, jsonl or csv; same as --format",
    "KSCLI_POLICY": "a policy file (TOML) replacing the built-in policy; same as --policy",
    "KSCLI_BUSY_TIMEOUT": "seconds to wait for a busy ledger before failing with exit 5 "
    "(default 10)",
    "PYTHON_KEYRING_BACKEND": "the keyring backend used for license keys (keyring's own variable)",
    "KSCLI_MACHINE_ID_FILE": "a file holding this machine's id, read instead of "
    "/etc/machine-id by `--machine auto` (a container or a cloned disk)",
    "KSCLI_JOBS": "processes a JSON-lines listing of subscriptions may use: 1 keeps it in "
    "one; 2 splits any SQLite listing in two; unset, kscli splits one of 20,000 "
    "subscriptions or more where it has two cores (the output is the same)",
    "NO_COLOR": "when set, no colour in any output",
}


def data_folder() -> str:
    """The platform's user data folder for kscli (``~/.local/share/kscli`` on Linux)."""
    from platformdirs import user_data_dir

    return user_data_dir("kscli", appauthor=False)


def presets_folder() -> str:
    """The user's own statement presets (``~/.config/kscli/presets`` on Linux)."""
    from platformdirs import user_config_dir

    return os.path.join(user_config_dir("kscli", appauthor=False), "presets")


def default_store() -> str:
    """``kscli.db`` in the platform's user data folder."""
    return os.path.join(data_folder(), "kscli.db")


def signer_files() -> tuple[str, str]:
    """The vendor's signer: its public keys, and the private keys kept where no
    keyring works (both private files in the user data folder)."""
    folder = data_folder()
    return os.path.join(folder, "signer.json"), os.path.join(folder, "signer-private.json")


def busy_timeout() -> float:
    raw = os.environ.get("KSCLI_BUSY_TIMEOUT", "")
    try:
        value = float(raw)
    except ValueError:
        return 10.0
    return value if 0 <= value <= 3600 else 10.0
