"""Where the admin's uploads and error reports are kept: `IMPORT_UPLOAD_DIR`, by default
var/imports/ next to the code.

The admin stores an upload there and the background import job (`loyalty.tasks.import_upload`)
reads it back by its key, so when workers run on other machines than the web processes this
directory must be shared between them (a network file system), or the `imports` queue served by
a worker on the web machine (docs/jobs.md).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def uploads_dir() -> Path:
    folder = Path(settings.IMPORT_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(key: str) -> Path:
    return uploads_dir() / f"{key}.csv"


def import_errors_path(key: str) -> Path:
    return uploads_dir() / f"{key}.import-errors.csv"
