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

from api.errors import PayloadTooLarge

# Only these escapes can smuggle a NUL or a surrogate into a parsed string; raw control
# characters and raw surrogates are already refused by strict JSON and UTF-8 decoding.
_SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _refuse_constant(name):
    raise ParseError(_("%(name)s is not a JSON number.") % {"name": name})


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise ParseError(_("Text may not contain NUL characters."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(_("Text may not contain unpaired surrogate characters.")) from None


def _walk(value) -> None:
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


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
            raise ParseError(_("The request body is not valid UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise ParseError(_("Malformed JSON: %(error)s") % {"error": error}) from None
        except RecursionError:
            raise ParseError(_("The JSON document is nested too deeply.")) from None
        if _SUSPICIOUS_ESCAPE.search(raw):
            _walk(data)
        return data
