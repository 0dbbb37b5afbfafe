"""No license key in an error: any text that validates as a key is masked.

A key given to the wrong command (`kscli sub show KEY`) came back in the error that
named it, on a terminal, in a cron mail, in a CI log. Everything kscli writes to stderr
passes through :func:`mask_keys`, and so does the error object under ``--format json``:
a run of key symbols (with the spaces and dashes a person may type) that is a valid key
is shown as ``*****-*****-*****-*****-*FC3W``.
"""

from __future__ import annotations

import io
import re
import sys

from kscli.domain.errors import on_first_use


# runs of key symbols and the separators a key may be typed with
_run = on_first_use(r"[0-9A-Za-z](?:[0-9A-Za-z \t\-\u2010-\u2015\u2212]*[0-9A-Za-z])?")
_symbol = on_first_use(r"[0-9A-Za-z]")


def mask_keys(text: str) -> str:
    if len(_symbol().findall(text)) < 25:
        return text  # too short to hold a key: the common case, decided cheaply
    return _run().sub(_mask_run, text)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(_symbol().findall(run)) < 25:
        return run
    from kscli.domain import keys

    # a key may stand among other words of the run: try each span of whole words
    words = list(re.finditer(r"\S+", run))
    for i in range(len(words)):
        count = 0
        for j in range(i, len(words)):
            count += len(_symbol().findall(words[j].group(0)))
            if count > 25:
                break
            if count == 25:
                start, end = words[i].start(), words[j].end()
                try:
                    symbols = keys.validate(run[start:end])
                except keys.InvalidKey:
                    break
                masked = keys.mask(symbols[-4:])
                return run[:start] + masked + _mask_run_text(run[end:])
    return run


def _mask_run_text(rest: str) -> str:
    return _run().sub(_mask_run, rest) if rest else rest


class _MaskedStderr(io.TextIOBase):
    """sys.stderr with every write passed through mask_keys."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(mask_keys(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors


def install() -> None:
    """Mask keys in everything this process writes to stderr (real processes only)."""
    if not isinstance(sys.stderr, _MaskedStderr):
        sys.stderr = _MaskedStderr(sys.stderr)
