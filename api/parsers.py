"""A JSON parser that turns every malformed body into a 4xx before any view code runs.

Refused: bodies over API_MAX_BODY_BYTES (413), invalid UTF-8, invalid JSON, NaN/Infinity,
NUL characters and lone surrogates (PostgreSQL cannot store either in text columns, so they
would otherwise surface as a 500 half-way through a write).
"""

import json
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from api.errors import PayloadTooLarge, pointer_token

# Only these escapes can smuggle a NUL or a surrogate into a parsed string; raw control
# characters and raw surrogates are already refused by strict JSON and UTF-8 decoding.
_SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class BodyParseError(ParseError):
    """A body that is no acceptable JSON; `pointer` names the offending value ("" = all)."""

    def __init__(self, detail, *, pointer: str = ""):
        super().__init__(detail)
        self.pointer = pointer


def _refuse_constant(name):
    raise BodyParseError(_("%(name)s is not a JSON number.") % {"name": name})


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return _("Text may not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("Text may not contain unpaired surrogate characters.")
    return None


def _check_texts(data) -> None:
    """Refuse the first string or object key holding a NUL or a lone surrogate.

    Iterative, not recursive: a body nested as deep as the JSON decoder allows must not
    exhaust the interpreter's stack here (a RecursionError would be a 500). A bad key is
    reported at the object that holds it, since the key cannot be echoed back.
    """
    stack = [("", data)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise BodyParseError(problem, pointer=pointer)
            continue
        if not isinstance(value, dict | list):
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and (problem := _text_problem(key)):
                raise BodyParseError(problem, pointer=pointer)
            if isinstance(item, str | dict | list):
                stack.append((f"{pointer}/{pointer_token(key)}", item))


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(
                _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyParseError(_("The request body is not valid UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise BodyParseError(_("Malformed JSON: %(error)s") % {"error": error}) from None
        except RecursionError:
            raise BodyParseError(_("The JSON document is nested too deeply.")) from None
        if _SUSPICIOUS_ESCAPE.search(raw):
            _check_texts(data)
        return data
