"""The real statement exports in ../shared/fixtures, found at run time (never copied
into this repository): a test that needs them skips with a note where they are
absent, and fails under CI, where they must be there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the repository (a worktree's ``../shared`` is the
    same folder)."""
    folder = ROOT.parent / "shared" / "fixtures"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing: CI must have the shared fixtures beside the "
                        "repository")
        pytest.skip(f"the real statement exports are not here ({folder} is absent)")
    return folder


@pytest.fixture
def real_statements() -> Path:
    return shared_fixtures()
