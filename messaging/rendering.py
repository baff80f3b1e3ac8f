"""Message templates: checked on save, rendered at send time in the member's language.

Templates use Django's template syntax restricted to what marketing needs: the variables a kind
documents (`messaging.kinds`), the tags `if`/`elif`/`else`, `for`/`empty` and `comment`, and a
few formatting filters. A template that does not compile, uses another tag or filter, or names
a variable the kind does not offer is refused with the line and the reason
(`template_problems`), so a broken template never reaches the send job.

Values arrive already formatted for the locale (dates, points, money: `messaging.context`), so
templates print them as they are. The subject and the text body render without HTML escaping,
the HTML body with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, Parser, TokenType, Variable
from django.utils import translation
from django.utils.translation import gettext as _

ALLOWED_TAGS = frozenset(
    {"if", "elif", "else", "endif", "for", "empty", "endfor", "comment", "endcomment"}
)
ALLOWED_FILTERS = frozenset(
    {
        "default",
        "upper",
        "lower",
        "title",
        "capfirst",
        "join",
        "length",
        "pluralize",
        "linebreaksbr",
    }
)
_IF_OPERATORS = frozenset({"and", "or", "not", "in", "is", "==", "!=", "<", ">", "<=", ">="})

_TEXT = Engine(autoescape=False, debug=True)
_HTML = Engine(autoescape=True, debug=True)


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return _("Line %(line)s: %(reason)s") % {"line": self.line, "reason": self.reason}


def _check_expression(text: str, allowed: set[str], line: int, parser: Parser) -> list[Problem]:
    try:
        expression = FilterExpression(text, parser)
    except TemplateSyntaxError as exc:
        return [Problem(line, str(exc))]
    problems = []
    var = expression.var
    if isinstance(var, Variable) and var.lookups is not None and var.lookups[0] not in allowed:
        problems.append(Problem(line, _("unknown variable “%(name)s”.") % {"name": var.lookups[0]}))
    for func, _args in expression.filters:
        name = getattr(func, "_filter_name", func.__name__)
        if name not in ALLOWED_FILTERS:
            problems.append(
                Problem(line, _("the filter “%(name)s” is not allowed.") % {"name": name})
            )
    return problems


def _check_block(contents: str, allowed: set[str], line: int, parser: Parser) -> list[Problem]:
    bits = contents.split()
    tag = bits[0] if bits else ""
    if tag not in ALLOWED_TAGS:
        return [Problem(line, _("the tag “%(name)s” is not allowed.") % {"name": tag})]
    if tag in ("if", "elif"):
        return [
            problem
            for bit in bits[1:]
            if bit not in _IF_OPERATORS
            for problem in _check_expression(bit, allowed, line, parser)
        ]
    if tag == "for" and "in" in bits:
        at = bits.index("in")
        # The loop's own names become usable (for the rest of the template: a simple rule).
        allowed.update(name.strip(",") for name in bits[1:at] if name.strip(","))
        allowed.add("forloop")
        return _check_expression(bits[at + 1], allowed, line, parser) if len(bits) > at + 1 else []
    return []


def template_problems(source: str, variables: set[str], *, html: bool = False) -> list[Problem]:
    """Every problem of one template text, in line order; [] when it may be saved."""
    engine = _HTML if html else _TEXT
    allowed = set(variables)
    parser = Parser([], builtins=engine.template_builtins)
    problems: list[Problem] = []
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.VAR:
            problems += _check_expression(token.contents, allowed, token.lineno, parser)
        elif token.token_type == TokenType.BLOCK:
            problems += _check_block(token.contents, allowed, token.lineno, parser)
    if problems:
        return problems  # a refused tag (`load`) would also fail to compile: say why once
    try:
        engine.from_string(source)
    except TemplateSyntaxError as exc:
        line = getattr(exc, "template_debug", {}).get("line", 1)
        return [Problem(line, str(exc))]
    return []


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    """A compiled template, kept: a batch renders the same few templates thousands of times."""
    return (_HTML if html else _TEXT).from_string(source)


def render(*, subject: str, text: str, html: str, context: dict, locale: str) -> Rendered:
    """Render a template's three parts for one member, in `locale`."""
    with translation.override(locale):
        subject_out = _compiled(subject, False).render(Context(context, autoescape=False))
        text_out = _compiled(text, False).render(Context(context, autoescape=False))
        html_out = _compiled(html, True).render(Context(context)) if html else ""
    # A header is one line: a line break in a value must not start another header.
    return Rendered(" ".join(subject_out.split()), text_out, html_out)
