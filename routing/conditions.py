"""Rule conditions on lead fields: validated when a rule is saved, compiled once per
configuration version, evaluated by the engine without touching the database.

A condition is `{"field": <name>, "op": <op>, ...}`:
- `eq`: `"value": "DE"`; `in`: `"value": ["DE", "AT"]`; `prefix`: `"value": ["80", "81"]`
  (one string or a list); `range`: `"min"` and/or `"max"` (inclusive, numbers);
  `empty`: the field has no value. Text comparisons ignore case.
- field: `country`, `region`, `postcode`, `language`, `industry`, `source_kind`, `campaign_id`,
  `deal_size`, or `custom.<key>` for a custom field.
"""

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

LEAD_FIELDS = ("country", "region", "postcode", "language", "industry", "source_kind",
               "campaign_id", "deal_size")
OPS = ("eq", "in", "prefix", "range", "empty")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    # (the field's value as normalized text, its raw value) -> holds? The engine normalizes
    # a lead's fields once per decision, not once per condition of every rule.
    test: Callable[[str, Any], bool]

    def holds(self, facts: dict) -> bool:
        raw = facts.get(self.field)
        return self.test(text_normalize(raw), raw)


def text_normalize(value: Any) -> str:
    """How conditions compare text: trimmed, case-folded, "" for nothing."""
    if value is None:
        return ""
    return str(value).strip().casefold()


_text = text_normalize


def _number(value: Any) -> decimal.Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return None
    return number if number.is_finite() else None


def _values(raw: Any) -> list[str]:
    return [_text(v) for v in (raw if isinstance(raw, list) else [raw])]


def condition_compile(spec: dict) -> Condition:
    """A callable test for one validated condition."""
    field, op = spec["field"], spec["op"]
    if op == "eq":
        wanted = _text(spec["value"])
        return Condition(field, op, lambda text, _raw: text == wanted)
    if op == "in":
        wanted_set = frozenset(_values(spec["value"]))
        return Condition(field, op, lambda text, _raw: text in wanted_set)
    if op == "prefix":
        prefixes = tuple(_values(spec["value"]))
        return Condition(field, op, lambda text, _raw: bool(text) and text.startswith(prefixes))
    if op == "range":
        low, high = _number(spec.get("min")), _number(spec.get("max"))

        def in_range(_normalized: str, raw: Any) -> bool:
            number = _number(raw)
            return number is not None and (low is None or number >= low) and (
                high is None or number <= high)
        return Condition(field, op, in_range)
    if op == "empty":
        return Condition(field, op, lambda text, _raw: text == "")
    raise ValueError(f"unknown op {op!r}")


def conditions_clean(raw: Any, *, custom_keys: set[str]) -> tuple[list[dict], list[str]]:
    """Normalized conditions and a list of errors (each naming the condition's position)."""
    if raw in (None, ""):
        return [], []
    if not isinstance(raw, list):
        return [], [_("Conditions must be a list.")]
    cleaned, errors = [], []
    for index, spec in enumerate(raw, start=1):
        where = _("Condition %(n)d") % {"n": index}
        if not isinstance(spec, dict):
            errors.append(f"{where}: " + _("expected an object with field and op."))
            continue
        field, op = spec.get("field"), spec.get("op")
        if not isinstance(field, str) or not (
            field in LEAD_FIELDS
            or (field.startswith("custom.") and field.removeprefix("custom.") in custom_keys)
        ):
            errors.append(f"{where}: " + _("unknown field “%(field)s”.") % {"field": field})
            continue
        if op not in OPS:
            errors.append(f"{where}: " + _("op must be one of %(ops)s.") % {"ops": ", ".join(OPS)})
            continue
        item: dict[str, Any] = {"field": field, "op": op}
        if op in ("eq", "in", "prefix"):
            value = spec.get("value")
            values = value if isinstance(value, list) else [value]
            if (not values or op == "eq" and isinstance(value, list)
                    or any(not isinstance(v, str | int | float) or isinstance(v, bool)
                           or str(v).strip() == "" for v in values)):
                errors.append(f"{where}: " + _("needs a non-empty value."))
                continue
            item["value"] = value if op == "eq" else [str(v) for v in values]
        elif op == "range":
            low, high = _number(spec.get("min")), _number(spec.get("max"))
            if low is None and high is None:
                errors.append(f"{where}: " + _("a range needs min or max as a number."))
                continue
            if low is not None and high is not None and low > high:
                errors.append(f"{where}: " + _("min is above max."))
                continue
            item.update({k: str(n) for k, n in (("min", low), ("max", high)) if n is not None})
        cleaned.append(item)
    return cleaned, errors
