"""Template validation: a template that does not render or uses an unknown variable is refused
with the line and the reason; a change bumps the version."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from members.actors import Actor
from messaging.models import MessageTemplate
from messaging.rendering import template_problems
from messaging.templates_admin import template_save

pytestmark = pytest.mark.django_db
VARIABLES = {"first_name", "points"}


def test_unknown_variable_names_its_line():
    problems = template_problems("Hello {{ first_name }},\n\nYou owe {{ balance }}.", VARIABLES)

    assert [str(p) for p in problems] == ["Line 3: unknown variable “balance”."]


def test_syntax_error_names_its_line():
    problems = template_problems("Hello\n{% if points %}\nno end", VARIABLES)

    assert [(p.line, p.reason) for p in problems] == [
        (2, "Unclosed tag on line 2: 'if'. Looking for one of: elif, else, endif.")
    ]


def test_other_tags_filters_and_variables_in_conditions_are_refused():
    source = (
        "{% load static %}\n{{ points|safe }}\n{% if secret %}x{% endif %}\n"
        "{% for p in perks %}{{ p }}{% endfor %}"
    )

    assert [str(p) for p in template_problems(source, VARIABLES)] == [
        "Line 1: the tag “load” is not allowed.",
        "Line 2: the filter “safe” is not allowed.",
        "Line 3: unknown variable “secret”.",
        "Line 4: unknown variable “perks”.",
    ]


def test_save_refuses_and_names_the_part(db):
    with pytest.raises(ValidationError) as error:
        template_save(
            actor=Actor.system("tests"),
            kind="points_expiring",
            locale="en",
            subject="{{ points }} points",
            body_text="ok",
            body_html="<p>{{ pointz }}</p>",
        )

    assert error.value.message_dict == {"body_html": ["Line 1: unknown variable “pointz”."]}
    assert MessageTemplate.objects.get(kind="points_expiring", locale="en").version == 1


def test_a_change_bumps_the_version():
    template = template_save(
        actor=Actor.system("tests"),
        kind="points_expiring",
        locale="en",
        subject="{{ points }} points expire {{ expiry_date }}",
        body_text="{{ first_name }}: {{ points }}",
        body_html="",
    )

    assert (template.version, template.subject) == (
        2,
        "{{ points }} points expire {{ expiry_date }}",
    )


def test_shipped_templates_exist_in_both_languages():
    kinds = [
        "birthday",
        "coupon_expiring",
        "membership_renewal",
        "points_expiring",
        "redemption_receipt",
        "tier_at_risk",
        "tier_downgraded",
        "tier_upgraded",
        "welcome",
    ]
    assert sorted(MessageTemplate.objects.values_list("kind", "locale", "version")) == [
        (kind, locale, 1) for kind in kinds for locale in ("en", "zh-hans")
    ]
