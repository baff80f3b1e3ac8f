"""The zh-Hans catalog: every string the sources mark has a translation, and the check can fail.

`config.translations.check()` extracts the marked strings of the real sources (as `make messages`
does) and compares them with the committed `.po`; the fabricated sources below prove it reports a
string that is missing, empty, fuzzy or has other placeholders, in Python and in templates.
"""

from __future__ import annotations

import gettext
import json
import re
import shutil

import pytest

from config import translations

UNTRANSLATED_PY = """
from django.utils.translation import gettext_lazy as _, pgettext

LABEL = _("A sentence nobody has translated")
HOME = pgettext("menu", "Home")
"""
UNTRANSLATED_HTML = """{% load i18n %}
<p>{% translate "Home" %}</p>
<p>{% blocktranslate with name=member.name %}Welcome back, {{ name }}{% endblocktranslate %}</p>
"""


def test_every_marked_string_has_a_zh_hans_translation():
    problems = translations.check()

    assert problems == [], (
        "Strings without a zh-Hans translation: run `make messages`, then write their msgstr in "
        "locale/zh_Hans/LC_MESSAGES/django.po (glossary: docs/i18n.md):\n" + "\n".join(problems)
    )


def test_make_messages_leaves_the_committed_catalog_as_it_is(tmp_path):
    # given: a copy of the committed catalog
    po = tmp_path / "django.po"
    shutil.copy(translations.PO_PATH, po)

    # when: `make messages` runs on the real sources
    added, dropped = translations.update(po_path=po)

    # then: the committed file is already what it writes (no string missing, none stale)
    assert (added, dropped) == (0, 0)
    assert po.read_bytes() == translations.PO_PATH.read_bytes()


@pytest.fixture
def fabricated(tmp_path):
    """A source tree with one Python module and one template, and a catalog with "Home" only."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "strings.py").write_text(UNTRANSLATED_PY)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(UNTRANSLATED_HTML)
    po = tmp_path / "django.po"
    catalog = translations.read_catalog(po)
    catalog.add("Home", "首页", locations=[("templates/page.html", 2)])
    translations.write_catalog(catalog, po)
    return {"root": tmp_path, "po_path": po, "dirs": ("app", "templates")}


def test_the_check_fails_on_strings_missing_from_the_catalog(fabricated):
    problems = translations.check(**fabricated)

    # "Home" without a context is translated already; with the "menu" context it is another string
    assert problems == [
        "not in the catalog (run `make messages`): 'A sentence nobody has translated' "
        "in app/strings.py",
        "not in the catalog (run `make messages`): 'Home' (context 'menu') in app/strings.py",
        "not in the catalog (run `make messages`): 'Welcome back, %(name)s' in templates/page.html",
    ]


def test_the_check_fails_on_empty_fuzzy_and_mismatched_translations(fabricated):
    # given: `make messages` added the fabricated strings, empty
    assert translations.update(**fabricated) == (3, 0)
    assert len(translations.check(**fabricated)) == 3

    # when: one is translated, one is a fuzzy guess, one drops its placeholder
    catalog = translations.read_catalog(fabricated["po_path"])
    catalog.get("Home", context="menu").string = "首页"
    fuzzy = catalog.get("A sentence nobody has translated")
    fuzzy.string = "一句没人翻译的话"
    fuzzy.flags.add("fuzzy")
    catalog.get("Welcome back, %(name)s").string = "欢迎回来，%(nom)s"
    translations.write_catalog(catalog, fabricated["po_path"])
    problems = translations.check(**fabricated)

    # then
    assert problems == [
        "fuzzy: 'A sentence nobody has translated' in app/strings.py",
        "unknown named placeholder 'nom': 'Welcome back, %(name)s' in templates/page.html",
    ]

    # when: both are fixed
    catalog = translations.read_catalog(fabricated["po_path"])
    catalog.get("A sentence nobody has translated").flags.discard("fuzzy")
    catalog.get("Welcome back, %(name)s").string = "欢迎回来，%(name)s"
    translations.write_catalog(catalog, fabricated["po_path"])

    # then
    assert translations.check(**fabricated) == []


def test_strings_gone_from_the_sources_leave_the_catalog(fabricated):
    translations.update(**fabricated)
    (fabricated["root"] / "app" / "strings.py").write_text("")

    added, dropped = translations.update(**fabricated)

    assert (added, dropped) == (0, 2)
    catalog = translations.read_catalog(fabricated["po_path"])
    assert catalog.get("A sentence nobody has translated") is None
    assert catalog.get("Welcome back, %(name)s") is not None


def test_the_compiled_catalog_is_what_django_reads(tmp_path):
    mo = translations.compile_catalog(mo_path=tmp_path / "django.mo")

    with mo.open("rb") as fileobj:
        compiled = gettext.GNUTranslations(fileobj)

    assert compiled.gettext("Loyalty Back Office") == "会员积分管理后台"
    assert compiled.gettext("last %(days)s days") == "近 %(days)s 天"
    assert compiled.gettext("Not a string of ours") == "Not a string of ours"


def test_templates_are_read_whatever_their_indentation(tmp_path):
    # Python's tokenizer refuses a dedent to no outer level; a template does that freely.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "odd.html").write_text(
        '{% load i18n %}\n<div>\n        {% if x %}\n    {% translate "Oddly indented" %}\n'
        "  {% endif %}\n</div>\n"
    )

    catalog = translations.extract_catalog(root=tmp_path, dirs=("templates",))

    assert [(m.id, m.locations) for m in catalog if m.id] == [
        ("Oddly indented", [("templates/odd.html", 4)])
    ]


def test_the_admin_s_javascript_strings_django_lacks_come_from_our_catalog(admin_client):
    # given: the JavaScript catalog compiled (as `make install` and the test session do)
    translations.compile_if_stale()

    # when: the admin's many-to-many selector asks for its strings in Chinese
    admin_client.cookies["django_language"] = "zh-hans"
    script = admin_client.get("/admin/jsi18n/").content.decode()
    strings = json.loads(re.search(r"const newcatalog = (\{.*?\});\n", script, re.S).group(1))

    # then: ours, where Django's zh-Hans has none; Django's own where it has them
    assert strings["Choose all %s"] == "全选%s"
    assert strings["Remove all %s"] == "删除全部%s"
    assert strings["Choose all"] == "全选"
    catalog = translations.read_catalog(translations.JS_PO_PATH)
    assert [m.id for m in catalog if m.id and not m.string] == []
