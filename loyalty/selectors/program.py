"""The program settings record, read through one function so every rule sees the same values;
and the language a member is written to in (theirs, else the program's)."""

from __future__ import annotations

from loyalty.models import ProgramSettings


def program_settings() -> ProgramSettings:
    """The single settings record, created with the defaults on first use."""
    settings_obj = ProgramSettings.objects.filter(pk=1).first()
    if settings_obj is None:
        settings_obj, _ = ProgramSettings.objects.get_or_create(pk=1)
    return settings_obj


def member_language(member, *, program: ProgramSettings | None = None) -> str:
    """The language of the member's sentences: their own `locale`, else the program's."""
    return member.locale or (program or program_settings()).locale
