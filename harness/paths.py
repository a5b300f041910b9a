"""Where the harness keeps state that must outlive one process."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """``$DRILL_STATE_DIR`` or ``./.drill``; created on first use."""
    path = Path(os.environ.get("DRILL_STATE_DIR", ".drill")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The checkout the harness runs from (fixtures/ and scenarios/ live here)."""
    return Path(__file__).resolve().parent.parent


def fixtures_dir() -> Path:
    return repo_root() / "fixtures"
