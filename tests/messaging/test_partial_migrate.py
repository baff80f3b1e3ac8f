"""`migrate <app> <earlier migration>` stops before the messaging tables exist: the shipped
templates' post_migrate handler must then leave them alone instead of querying missing tables."""

from __future__ import annotations

from django.db.migrations.state import ProjectState

from messaging.apps import _install_default_templates
from messaging.models import MessageTemplate


def test_a_migrated_state_without_messaging_installs_nothing(db):
    MessageTemplate.objects.all().delete()

    _install_default_templates(sender=None, apps=ProjectState().apps)

    assert MessageTemplate.objects.count() == 0


def test_a_migrated_state_with_messaging_installs_the_shipped_templates(db):
    from django.apps import apps

    MessageTemplate.objects.all().delete()

    _install_default_templates(sender=None, apps=apps)

    from messaging.kinds import KINDS

    shipped = sum(len(kind.defaults) for kind in KINDS.values())
    assert MessageTemplate.objects.count() == shipped
    assert set(MessageTemplate.objects.values_list("locale", flat=True)) == {"en", "zh-hans"}
