"""The API's JSON parser: DRF's, hardened so that no body, however odd, becomes a 500.

DRF's parser turns syntax errors into `400 malformed_json` but lets three kinds of bad input
through: nesting deep enough to exhaust the recursion limit (`RecursionError`), escaped lone
surrogates (`"\\ud800"`, valid JSON but not encodable as UTF-8, which the database refuses), and
numbers beyond a float's range (`1e999`, read as infinity). All three are malformed JSON here.
"""

from __future__ import annotations

import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
            # Lone surrogates survive json.loads; UTF-8 refuses them (so would the database).
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        except (ValueError, UnicodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
