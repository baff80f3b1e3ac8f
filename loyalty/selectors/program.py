"""The program settings record, read through one function so every rule sees the same values."""

from __future__ import annotations

from loyalty.models import ProgramSettings


def program_settings() -> ProgramSettings:
    """The single settings record, created with the defaults on first use."""
    settings_obj = ProgramSettings.objects.filter(pk=1).first()
    if settings_obj is None:
        settings_obj, _ = ProgramSettings.objects.get_or_create(pk=1)
    return settings_obj
