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


def program_settings_if_saved() -> ProgramSettings | None:
    """The settings record, or None while nobody has saved one (the defaults apply then)."""
    return ProgramSettings.objects.filter(pk=1).first()


def member_language(member, *, program: ProgramSettings | None = None) -> str:
    """The language of the member's sentences: their own `locale`, else the program's (the
    default language while no settings were ever saved). Reads nothing when `program` is given."""
    if member.locale:
        return member.locale
    if program is None:
        program = program_settings_if_saved()
    return program.locale if program is not None else ProgramSettings().locale
