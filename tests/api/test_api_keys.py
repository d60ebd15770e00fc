"""API keys: who may call, with which scope, and the command that makes them."""

import io

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiKey
from api.services import api_key_revoke
from leads.models import Lead
from partners.models import Partner
from tenancy.actors import Actor
from tenancy.models import AuditEntry
from tests.api.conftest import assert_problem, counts
from tests.api_client import ApiClient
from tests.factories import LeadFactory, PartnerFactory, api_key_for

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def _assert_401(response):
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer two tokens",
    "Basic dXNlcjpwYXNz",
    "Bearer not-a-key",
    "Bearer ls_",
    "Bearer ls__secret",
    "Bearer ls_deadbeef0000_wrong",
    # NUL and non-hex prefixes never reach the database (PostgreSQL refuses NUL in text).
    "Bearer ls_\x00_x",
    "Bearer ls_ab\x00cd_x",
    "Bearer ls_ü_x",
])
def test_missing_or_malformed_key_is_401_with_www_authenticate(vendor_a, authorization):
    api_key_for(vendor_a)
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    client = ApiClient(**extra)

    _assert_401(client.get(LEADS))
    _assert_401(client.post(LEADS, {"contact_email": "a@acme.example"}))
    assert counts() == (0, 0)


def test_wrong_secret_of_an_existing_prefix_is_401(vendor_a):
    _key, secret = api_key_for(vendor_a)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    _assert_401(ApiClient(forged).get(LEADS))


def test_revoked_key_is_401(vendor_a):
    key, secret = api_key_for(vendor_a)
    client = ApiClient(secret)
    assert client.get(LEADS).status_code == 200

    api_key_revoke(key=key, actor=Actor())

    _assert_401(client.get(LEADS))


def test_key_of_a_deactivated_vendor_is_401(vendor_a):
    _key, secret = api_key_for(vendor_a)
    vendor_a.is_active = False
    vendor_a.save()

    _assert_401(ApiClient(secret).get(LEADS))


def test_read_only_key_reads(vendor_a):
    lead = LeadFactory(tenant=vendor_a)
    partner = PartnerFactory(tenant=vendor_a)
    _key, secret = api_key_for(vendor_a, read_only=True)
    client = ApiClient(secret)

    for path in (LEADS, f"{LEADS}{lead.public_id}/", "/api/v1/partners/",
                 f"/api/v1/partners/{partner.public_id}/", "/api/v1/events/",
                 "/api/v1/custom-fields/", "/api/v1/pipeline-stages/"):
        assert client.get(path).status_code == 200, path


def test_read_only_key_writing_is_403_and_writes_nothing(vendor_a):
    lead = LeadFactory(tenant=vendor_a, country="DE")
    partner = PartnerFactory(tenant=vendor_a)
    _key, secret = api_key_for(vendor_a, read_only=True)
    client = ApiClient(secret)
    before = counts()

    responses = [
        client.post(LEADS, {"contact_email": "a@acme.example"}),
        client.post(f"{LEADS}bulk/", {"leads": [{"contact_email": "a@acme.example"}]}),
        client.patch(f"{LEADS}{lead.public_id}/", {"country": "AT"}),
        client.post(f"{LEADS}{lead.public_id}/activities/", {"kind": "note"}),
        client.post("/api/v1/partners/", {"name": "New"}),
        client.delete(f"/api/v1/partners/{partner.public_id}/"),
    ]

    for response in responses:
        assert assert_problem(response, 403)["detail"] == "This API key is read-only."
    assert counts() == before
    lead.refresh_from_db()
    partner.refresh_from_db()
    assert lead.country == "DE" and partner.is_active
    assert Partner.objects.count() == 1


def test_create_api_key_prints_the_key_alone_on_the_last_line(vendor_a):
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("create_api_key", vendor_a.slug, "Salesforce sync", stdout=stdout,
                 stderr=stderr)

    secret = stdout.getvalue().rstrip("\n").splitlines()[-1]
    assert secret.startswith("ls_") and " " not in secret
    key = ApiKey.objects.get(tenant=vendor_a)
    assert (key.name, key.scope) == ("Salesforce sync", "read_write")
    assert secret not in str(ApiKey.objects.values_list())  # only its hash is stored
    client = ApiClient(secret)
    assert client.post(LEADS, {"contact_email": "a@acme.example"}).status_code == 201
    assert Lead.objects.get().tenant == vendor_a
    entry = AuditEntry.objects.get(action="api_key.create")
    assert entry.tenant == vendor_a and entry.actor_label == "manage.py create_api_key"


def test_create_api_key_read_only(vendor_a):
    stdout = io.StringIO()

    call_command("create_api_key", vendor_a.slug, "BI export", "--read-only", stdout=stdout,
                 stderr=io.StringIO())

    client = ApiClient(stdout.getvalue().splitlines()[-1])
    assert client.get(LEADS).status_code == 200
    assert_problem(client.post(LEADS, {"contact_email": "a@acme.example"}), 403)
    assert ApiKey.objects.get().scope == "read"


@pytest.mark.parametrize("args", [("no-such-vendor", "CRM"), ("vendor-a", "  "),
                                  ("vendor-a", "x" * 101)])
def test_create_api_key_refuses_unknown_vendor_and_bad_names(vendor_a, args):
    with pytest.raises(CommandError):
        call_command("create_api_key", *args, stdout=io.StringIO(), stderr=io.StringIO())

    assert ApiKey.objects.count() == 0


def test_key_sees_only_its_own_vendors_objects(api, vendor_b):
    lead = LeadFactory(tenant=vendor_b, external_id="B-LEAD", country="DE")
    partner = PartnerFactory(tenant=vendor_b, external_id="B-PARTNER")

    assert_problem(api.get(f"{LEADS}{lead.public_id}/"), 404)
    assert_problem(api.get(f"{LEADS}by-external-id/B-LEAD/"), 404)
    assert_problem(api.patch(f"{LEADS}{lead.public_id}/", {"country": "AT"}), 404)
    assert_problem(api.post(f"{LEADS}{lead.public_id}/won/",
                            {"order_value": "1", "closed_on": "2026-11-20"}), 404)
    assert_problem(api.get("/api/v1/partners/by-external-id/B-PARTNER/"), 404)
    assert api.get(LEADS, {"external_id": "B-LEAD"}).json()["results"] == []
    assert api.get(LEADS, {"partner": str(partner.public_id)}).json()["results"] == []
    lead.refresh_from_db()
    assert lead.country == "DE" and lead.events.count() == 0


def test_key_use_is_recorded_at_most_once_a_minute(vendor_a, time_machine):
    key, secret = api_key_for(vendor_a)
    client = ApiClient(secret)
    time_machine.move_to("2026-11-24 09:00:00+00:00", tick=False)

    client.get(LEADS)
    key.refresh_from_db()
    first = key.last_used_at
    time_machine.move_to("2026-11-24 09:00:30+00:00", tick=False)
    client.get(LEADS)
    key.refresh_from_db()
    assert key.last_used_at == first
    time_machine.move_to("2026-11-24 09:01:30+00:00", tick=False)
    client.get(LEADS)
    key.refresh_from_db()

    assert first.isoformat() == "2026-11-24T09:00:00+00:00"
    assert key.last_used_at.isoformat() == "2026-11-24T09:01:30+00:00"
