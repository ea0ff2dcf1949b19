"""The evidence bundle download: a thin seam to the archive's export.

The bundle itself (snapshots' files, manifests, SHA256SUMS, report.html) is made by
`vaern.storage.export.export_bundle(config, session, hit_id, out_path)`, the same function
`vaern export` uses, so the download and the command give the same zip.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from vaern.config import Config


def _export_bundle() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("vaern.storage.export")
    except ImportError:
        return None
    return getattr(module, "export_bundle", None)


def available() -> bool:
    return _export_bundle() is not None


def export(config: Config, db: Session, hit_id: int, out: Path) -> None:
    bundle = _export_bundle()
    if bundle is None:
        raise RuntimeError("vaern.storage.export.export_bundle is not installed")
    bundle(config, db, hit_id, out)


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
