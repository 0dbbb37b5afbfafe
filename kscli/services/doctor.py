"""Checks for `kscli doctor`: each a (check, result, detail) line."""

from __future__ import annotations

import os
import stat
import sys

from kscli.domain.errors import KscliError
from kscli.domain.words import count_of


def line(check: str, result: str, detail: str) -> dict[str, str]:
    return {"check": check, "result": result, "detail": detail}


def _mode_check(name: str, path: str, want_private: bool = True) -> dict[str, str] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return line(name, "FAIL", f"{path} is writable by others (mode {mode:o}): chmod go-w {path}")
    if want_private and mode & 0o077:
        return line(name, "WARN", f"{path} is readable by others (mode {mode:o}): chmod 600 {path}")
    return line(name, "ok", f"{path} mode {mode:o}")


def run_checks(app, quick: bool = False) -> list[dict[str, str]]:
    """Every check, in order: the store, the policy, then information lines. ``quick``
    leaves out what reads the whole ledger (its integrity in full and every value)."""
    results: list[dict[str, str]] = []
    results.extend(_store_checks(app, quick))
    results.extend(_policy_checks(app))
    results.extend(_secrets_checks(app))
    results.extend(_signing_checks())
    results.extend(_completion_checks())
    return results


def _store_checks(app, quick: bool = False) -> list[dict[str, str]]:
    """Where the ledger is, its schema version and integrity, and the modes of its files."""
    results: list[dict[str, str]] = []
    try:
        store = app.store
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
        return [line("store", "FAIL", getattr(exc, "message", None) or str(exc))]
    path = getattr(store, "path", None)
    if app.store_spec and path and not store.exists():
        # named on purpose (--store, KSCLI_STORE): a mistyped path must not pass a CI check
        return [line("store", "FAIL", f"{store.location} does not exist: check the path given "
                                      "with --store or KSCLI_STORE, or create it with `kscli init`")]
    try:
        checks = store.checks(quick)
    except KscliError as exc:
        results.append(line("store", "FAIL", f"{store.kind} ledger: {exc.message}"
                            + (f" ({exc.hint})" if exc.hint else "")))
    except Exception as exc:  # noqa: BLE001
        results.append(line("store", "FAIL", f"{store.kind} ledger at {store.location}: "
                                             f"{type(exc).__name__}: {exc}"))
    else:
        results.append(line("store", "ok", f"{store.kind} ledger at {store.location}"))
        for name, passed, detail in checks:
            results.append(line(name, "ok" if passed else "FAIL", detail))
        if not quick and all(passed for _, passed, _ in checks):
            results.append(_values_check(store))
    if path and os.path.exists(path):
        for check in (_mode_check("ledger file", path),
                      _mode_check("ledger folder", os.path.dirname(os.path.abspath(path)), False)):
            if check:
                results.append(check)
    return results


def _values_check(store) -> dict[str, str]:
    """Every stored value, as an import of the ledger's export would check it (the one
    rule of kscli.checks, and the rules between records: ids, counters, references)."""
    from kscli.services.export_file import check_tables

    try:
        if not store.exists():
            return line("values", "ok", "nothing stored yet")
        with store.read() as ledger:
            tables = ledger.dump_rows()
        tables.setdefault("secrets", [])
        check_tables(tables, store.location)
    except KscliError as exc:
        return line("values", "FAIL", exc.message)
    count = sum(len(rows) for rows in tables.values())
    return line("values", "ok", f"every value of {count} rows is one kscli can use")


def _policy_checks(app) -> list[dict[str, str]]:
    """The effective policy; a policy file is also linted and its mode checked."""
    results: list[dict[str, str]] = []
    path = app.policy_path
    try:
        policy = app.policy
        results.append(line("policy", "ok", f"version {policy.version} from {policy.source}"))
    except Exception as exc:  # noqa: BLE001 - a policy that cannot be read is a failed check
        hint = f" (`kscli policy check {path}` lists every problem)" if path else ""
        return [line("policy", "FAIL", (getattr(exc, "message", None) or str(exc)) + hint)]
    if path:
        try:
            from kscli.policy_files import lint_policy_file

            problems = lint_policy_file(path)
        except Exception as exc:  # noqa: BLE001
            problems = []
            results.append(line("policy file", "FAIL", str(exc)))
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity != "error"]
        if errors:
            results.append(line("policy file", "FAIL",
                                f"{path}: {count_of(len(errors), 'error')}, first: {errors[0]} "
                                f"(`kscli policy check {path}` lists them)"))
        elif warnings:
            results.append(line("policy file", "WARN",
                                f"{path}: {count_of(len(warnings), 'warning')}, first: {warnings[0]} "
                                f"(`kscli policy check {path}` lists them)"))
        check = _mode_check("policy file mode", path, want_private=False)
        if check:
            results.append(check)
    return results


def completion_places(home: str | None = None, env: dict[str, str] | None = None,
                      ) -> dict[str, list[str]]:
    """Where each shell looks for kscli's completion file, user folders first."""
    env = dict(os.environ) if env is None else env
    home = home or env.get("HOME") or os.path.expanduser("~")
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    config = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    bash_user = env.get("BASH_COMPLETION_USER_DIR") or os.path.join(data, "bash-completion")
    system = [os.path.join(sys.prefix, "share"), "/usr/local/share", "/usr/share"]
    return {
        "bash": [os.path.join(bash_user, "completions", "kscli"),
                 os.path.join(bash_user, "completions", "kscli.bash"),
                 os.path.join(home, ".bash_completion.d", "kscli"),
                 *(os.path.join(s, "bash-completion", "completions", "kscli") for s in system),
                 "/etc/bash_completion.d/kscli"],
        "zsh": [os.path.join(data, "zsh", "site-functions", "_kscli"),
                os.path.join(home, ".zfunc", "_kscli"),
                os.path.join(home, ".zsh", "completions", "_kscli"),
                os.path.join(home, ".zsh", "completion", "_kscli"),
                *(os.path.join(s, "zsh", "site-functions", "_kscli") for s in system),
                "/usr/share/zsh/vendor-completions/_kscli"],
        "fish": [os.path.join(config, "fish", "completions", "kscli.fish"),
                 os.path.join(data, "fish", "vendor_completions.d", "kscli.fish"),
                 *(os.path.join(s, "fish", "vendor_completions.d", "kscli.fish") for s in system)],
    }


_RC_FILES = {"bash": (".bashrc", ".bash_profile", ".profile"), "zsh": (".zshrc",)}


def _in_rc(home: str, shell: str) -> str | None:
    """An rc file that loads the completion with `kscli completion SHELL`."""
    for name in _RC_FILES.get(shell, ()):
        path = os.path.join(home, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(1_000_000)
        except OSError:
            continue
        if f"kscli completion {shell}" in text or "_KSCLI_COMPLETE" in text:
            return path
    return None


def _completion_checks() -> list[dict[str, str]]:
    """Whether shell completion is installed: information, never a failure."""
    try:
        home = os.environ.get("HOME") or os.path.expanduser("~")
        found = []
        for shell, places in completion_places(home).items():
            path = next((p for p in places if os.path.isfile(p)), None) or _in_rc(home, shell)
            if path:
                found.append(f"{shell} ({path})")
        if found:
            return [line("completion", "info", "installed for " + ", ".join(found))]
        return [line("completion", "info", "not installed: `kscli completion bash|zsh|fish` "
                                           "prints the script (the README says where it goes)")]
    except Exception as exc:  # noqa: BLE001 - information only
        return [line("completion", "info", f"could not tell ({type(exc).__name__})")]


def _secrets_checks(app) -> list[dict[str, str]]:
    """Where license keys go: information, never a failure (a headless machine falls
    back to the ledger file by design)."""
    from kscli.secrets import LEDGER, MISSING, keyring_backend

    place, kept, missing = "the ledger", 0, []
    try:
        place = app.store.secrets_place
        with app.store.read() as ledger:
            for lic in ledger.licenses():
                kept += lic.secret_store == LEDGER
                if lic.secret_store == MISSING:
                    missing.append(lic.id)
    except KscliError:
        pass  # the store check above already reports it
    backend, detail = keyring_backend()
    if backend is None:
        results = [line("secrets", "info", f"{detail}: new license keys are kept in "
                                           f"{place}")]
    else:
        results = [line("secrets", "info", f"license keys go to the system keyring ({detail})")]
    if kept:
        results.append(line("secrets", "info",
                            f"{count_of(kept, 'license key')} kept in the ledger, not a keyring"))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        results.append(line("license keys", "FAIL",
                            f"{count_of(len(missing), 'license key')} without the key itself ({shown}): "
                            "they were left out of the export this ledger was imported from; "
                            "restore them with `kscli export --with-keys -o keys.json` on the old "
                            "ledger, then `kscli import --keys keys.json` here"))
    return results


def _signing_checks() -> list[dict[str, str]]:
    """Where the vendor's signing key lives (`kscli signer`): information, never a failure."""
    from kscli.domain.errors import StoreUnreadable
    from kscli.secrets import KEYRING
    from kscli.services.signing import SignerFiles, signer_keys

    files = SignerFiles.default()
    try:
        keys = signer_keys(files)
    except StoreUnreadable as exc:
        return [line("signing key", "FAIL", exc.message)]
    current = next((k for k in keys if k.retired_at is None), None)
    if current is None:
        return [line("signing key", "info", "no signer (`kscli signer init` makes one)")]
    where = ("the system keyring" if current.private_key_in == KEYRING
             else f"{files.private_path} (no usable keyring)")
    retired = len(keys) - 1
    return [line("signing key", "info",
                 f"key {current.id} is in {where}; public keys in {files.public_path}"
                 + (f" ({retired} retired key(s) kept for verification)" if retired else ""))]
