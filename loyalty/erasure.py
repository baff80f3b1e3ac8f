"""Loyalty's part in erasure (`members.erasure`): the member's free text and the import's files.

Invariants:
- Amounts, dates, links and keys of the ledger, the tier history and the adjustments never
  change: only free text that quotes a personal value is rewritten (the append-only triggers of
  `Posting` and `TierChange` are ignored for those statements only).
- The import's files the product keeps (uploads waiting for confirmation and error reports, under
  `IMPORT_UPLOAD_DIR`, and every report an import run recorded) lose every identifier of the
  member (email, phone, full name, an email-shaped customer id); a file is replaced whole
  (written beside it, then renamed), so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from loyalty.importing.uploads import uploads_dir
from loyalty.models import AdjustmentRequest, GuestOrder, ImportRun, MemberTier, Posting, TierChange
from members.erasure import ErasedMember, scrub_rows


def loyalty_rows_scrub(*, erasure: ErasedMember) -> int:
    """The member's postings, tier history, tier override and adjustment requests."""
    member = erasure.member
    return (
        scrub_rows(
            erasure,
            Posting.objects.filter(member=member),
            ("reason", "description"),
            append_only_triggers=("loyalty.Posting:posting_append_only",),
        )
        + scrub_rows(
            erasure,
            TierChange.objects.filter(member=member),
            ("note",),
            append_only_triggers=("loyalty.TierChange:tierchange_append_only",),
        )
        + scrub_rows(erasure, MemberTier.objects.filter(member=member), ("override_reason",))
        + scrub_rows(
            erasure,
            AdjustmentRequest.objects.filter(member=member),
            ("reason", "held_because", "decision_note"),
        )
        # A claimed guest order's key may be the hash of the member's email: it names them.
        + GuestOrder.objects.filter(member=member).update(guest_key=f"erased:{member.pk}")
    )


def import_files_scrub(*, erasure: ErasedMember) -> int:
    """Rewrite every kept import file that names the member; return how many were rewritten."""
    files = {path.resolve() for path in uploads_dir().glob("*.csv") if path.is_file()}
    for report in ImportRun.objects.exclude(error_report="").values_list("error_report", flat=True):
        path = Path(report)
        if path.is_file():
            files.add(path.resolve())
    return sum(_file_scrub(path, erasure) for path in sorted(files))


def _file_scrub(path: Path, erasure: ErasedMember) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return False
    scrubbed = erasure.scrub_text(text, identifiers_only=True)
    if scrubbed == text:
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".erasure-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
            out.write(scrubbed)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
