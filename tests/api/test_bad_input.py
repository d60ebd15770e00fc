"""Whatever a client sends, a bad body is a 4xx problem+json that points at the offending
value, never a 5xx, and nothing is written."""

import io
import json

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api.errors import PayloadTooLarge
from api.parsers import StrictJSONParser
from tests.api.conftest import PROBLEM_JSON, assert_problem, counts
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
BULK = "/api/v1/leads/bulk/"
DEEP = 100_000


def _post(api, body, path=LEADS):
    """Post raw text as JSON: the client must not re-encode what we want to send broken."""
    return api.post(path, body if isinstance(body, bytes | str) else json.dumps(body))


def _assert_refused(response, status, *pointers):
    body = assert_problem(response, status, *pointers)
    assert all({"pointer", "code", "detail"} <= set(e) for e in body["errors"])
    assert counts() == (0, 0)
    return body


@pytest.mark.parametrize("raw,pointer", [
    pytest.param('{"contact_email": "a@acme.example"', "", id="unclosed"),
    pytest.param('{"contact_email": "a@acme.example",}', "", id="trailing-comma"),
    pytest.param("{'contact_email': 'a@acme.example'}", "", id="single-quotes"),
    pytest.param(b"\xff\xfe{}", "", id="not-utf8"),
    pytest.param('{"contact_phone": "1", "deal_size": NaN}', "", id="nan"),
    pytest.param('{"contact_phone": "1", "deal_size": Infinity}', "", id="infinity"),
    pytest.param('{"contact_phone": "1", "deal_size": -Infinity}', "", id="-infinity"),
    # NUL and lone surrogates, as values and as keys, at any depth.
    pytest.param('{"contact_phone": "1", "contact_name": "Ann\\u0000a"}', "/contact_name",
                 id="nul-in-value"),
    pytest.param('{"contact_phone": "1", "contact_name": "\\ud800"}', "/contact_name",
                 id="high-surrogate-in-value"),
    pytest.param('{"contact_phone": "1", "message": "x\\uDFFFy"}', "/message",
                 id="low-surrogate-in-value"),
    pytest.param('{"contact_phone": "1", "custom_fields": {"k": ["ok", "\\u0000"]}}',
                 "/custom_fields/k/1", id="nul-nested"),
    pytest.param('{"contact_phone": "1", "con\\u0000tact": "x"}', "", id="nul-in-key"),
    pytest.param('{"contact_phone": "1", "custom_fields": {"\\ud83d": 1}}', "/custom_fields",
                 id="surrogate-in-nested-key"),
    pytest.param('{"leads": [{"contact_phone": "1"}, {"contact_name": "\\u0000"}]}',
                 "/leads/1/contact_name", id="nul-in-bulk-item"),
    # Nested deeper than the decoder allows, or deep enough to exhaust a recursive check.
    pytest.param("[" * DEEP + "]" * DEEP, "", id="deep-lists"),
    pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, "", id="deep-objects"),
    pytest.param("[" * 900 + '"\\u0000"' + "]" * 900, "/0" * 900, id="nul-900-deep"),
    pytest.param('{"a":' * 900 + '"\\ud800"' + "}" * 900, "/a" * 900,
                 id="surrogate-900-deep"),
])
def test_unparseable_bodies_are_400_with_a_pointer(api, raw, pointer):
    body = _assert_refused(_post(api, raw), 400, pointer)

    assert body["code"] == "parse_error"


def test_a_valid_surrogate_pair_is_fine(api):
    response = _post(api, '{"contact_phone": "1", "contact_name": "\\ud83d\\ude00"}')

    assert response.status_code == 201
    assert response.json()["contact_name"] == "\U0001f600"


@pytest.mark.parametrize("body,pointer", [
    ([{"contact_email": "a@acme.example"}], ""),
    ("a@acme.example", ""),
    (42, ""),
    (None, ""),
    ({"contact_email": 5}, "/contact_email"),
    ({"contact_email": ["a@acme.example"]}, "/contact_email"),
    ({"contact_phone": "1", "deal_size": "lots"}, "/deal_size"),
    ({"contact_phone": "1", "deal_size": True}, "/deal_size"),
    ('{"contact_phone": "1", "deal_size": 1e400}', "/deal_size"),
    ('{"contact_phone": "1", "custom_fields": {"x": 1e400}}', "/custom_fields/x"),
    ("", "/contact_email"),
    ({"contact_phone": "1", "deal_size": "1" * 20}, "/deal_size"),
    ({"contact_phone": "1", "country": "Germany"}, "/country"),
    ({"contact_phone": "1", "country": 49}, "/country"),
    ({"contact_phone": "1", "source_kind": "fax"}, "/source_kind"),
    ({"contact_phone": "1", "consent_captured_at": "yesterday"}, "/consent_captured_at"),
    ({"contact_phone": "1", "custom_fields": ["a"]}, "/custom_fields"),
    ({"contact_phone": "1", "external_id": {"id": 1}}, "/external_id"),
    ({"contact_phone": "1", "message": "x" * 5001}, "/message"),
    ({"contact_phone": "1", "external_id": "x" * 101}, "/external_id"),
])
def test_wrong_types_and_shapes_are_400_naming_the_field(api, body, pointer):
    _assert_refused(_post(api, body), 400, pointer)


@pytest.mark.parametrize("field", ["contact_emial", "status", "id", "partner", "account",
                                   "created_at", "is_duplicate", "a/b~c"])
def test_unknown_and_read_only_fields_are_400_naming_the_field(api, field):
    body = _assert_refused(_post(api, {"contact_phone": "1", field: "x"}), 400)

    escaped = field.replace("~", "~0").replace("/", "~1")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        (f"/{escaped}", "unknown_field")]


def test_bulk_non_object_items_are_refused_one_by_one(api):
    body = {"leads": [{"contact_email": "a@acme.example"}, "b@acme.example", None, 7, []]}

    response = _post(api, body, BULK)

    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 400]
    for result in results[1:]:
        # Item pointers are relative to the item: "" is the item itself.
        assert [e["pointer"] for e in result["errors"]] == [""]
    assert counts() == (1, 1)


@pytest.mark.parametrize("body", [[{"contact_phone": "1"}], "leads", {"lead": []}])
def test_bulk_with_a_non_object_body_is_refused(api, body):
    assert 400 <= _post(api, body, BULK).status_code < 500
    assert counts() == (0, 0)


def test_oversized_body_is_413(api):
    body = json.dumps({"contact_phone": "1", "message": "x" * 3000})

    # The two limits are one setting in production (DATA_UPLOAD_MAX_MEMORY_SIZE follows
    # API_MAX_BODY_BYTES); override both, as Django reads the body under its own limit too.
    with override_settings(API_MAX_BODY_BYTES=2048, DATA_UPLOAD_MAX_MEMORY_SIZE=2048):
        response = _post(api, body)
        with_key = api.post(LEADS, body, HTTP_IDEMPOTENCY_KEY="big-1")
        for refused in (response, with_key):
            assert _assert_refused(refused, 413, "")["code"] == "too_large"
        small = _post(api, {"contact_phone": "1"})

    assert small.status_code == 201


def test_parser_cuts_a_body_at_the_limit_whatever_its_declared_length():
    """Django reads a body without Content-Length as empty; the parser's own bound is the
    guard for any stream that is longer than the view's Content-Length check allowed."""
    body = json.dumps({"contact_phone": "1", "message": "x" * 3000}).encode()

    with override_settings(API_MAX_BODY_BYTES=2048):
        with pytest.raises(PayloadTooLarge):
            StrictJSONParser().parse(io.BytesIO(body))
        assert StrictJSONParser().parse(io.BytesIO(body[:2000] + b'"}')) is not None


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x"])
def test_other_media_types_are_415(api, content_type):
    response = api.generic("POST", LEADS, "contact_phone=1", content_type=content_type)

    assert_problem(response, 415)
    assert counts() == (0, 0)


def test_bad_bodies_on_updates_change_nothing(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, contact_name="Anna")
    url = f"{LEADS}{lead.public_id}/"

    for raw in ('{"contact_name": "\\u0000"}', "[]", '{"contact_name": NaN}', "{",
                '{"status": "won"}'):
        assert_problem(api.patch(url, raw), 400)

    lead.refresh_from_db()
    assert lead.contact_name == "Anna" and lead.events.count() == 0


# --- any JSON at all ------------------------------------------------------------------------

LEAD_FIELDS = ["external_id", "contact_email", "contact_phone", "contact_name", "country",
               "deal_size", "currency", "custom_fields", "consent_basis",
               "consent_captured_at", "source_kind", "region", "language"]

# Hypothesis leaves out surrogates by default; mix them and NUL in (json.dumps writes both
# as \\u escapes, as a client's encoder would). Floats include NaN and infinities.
texts = st.text(st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff"]), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
# Objects with the lead's own field names, so validation runs deep, not just the parser ...
lead_like = st.dictionaries(st.sampled_from(LEAD_FIELDS) | texts, json_values, max_size=6)
# ... and leads that are valid but for what Hypothesis puts in the optional fields.
nearly_valid = st.fixed_dictionaries(
    {"contact_phone": st.from_regex(r"\+[0-9]{2,15}", fullmatch=True)},
    optional={
        "contact_name": texts, "external_id": texts | st.none(), "custom_fields": json_values,
        "country": st.sampled_from(["DE", "AT", ""]) | json_values,
        "deal_size": st.decimals(min_value=0, max_value=10**12, places=2).map(str)
        | json_values,
        "contact_email": st.emails() | json_values,
        "consent_basis": st.sampled_from(["consent", "contract", ""]) | json_values,
    },
)


# Examples per run come from the Hypothesis profile (tests/conftest.py). The client's
# database rows persist across examples; the property compares counts per example.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=nearly_valid | lead_like | json_values)
def test_any_json_body_gets_a_2xx_or_a_4xx_problem_never_a_5xx(api, payload):
    api.raise_request_exception = False
    before = counts()

    response = _post(api, json.dumps(payload))

    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, response.content
    if response.status_code == 201:
        assert counts() == (before[0] + 1, before[1] + 1)
    else:
        assert 400 <= response.status_code < 500
        assert response["Content-Type"] == PROBLEM_JSON
        assert response.json()["status"] == response.status_code
        assert counts() == before
