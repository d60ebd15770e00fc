"""A lead create costs the same number of SQL statements however big the vendor is, and a bulk
create the same however many leads the batch holds. Counts, never times."""

import json
import sqlite3

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leads.models import Account, Lead
from partners.models import Partner
from tests.factories import TenantFactory, api_key_for


def _vendor(size: int) -> Client:
    """A vendor with `size` partners, accounts (`old<n>.example`) and leads (`p<n>@...`),
    written with bulk_create, and a warm API client (custom field cache, key last-used)."""
    tenant = TenantFactory()
    Partner.objects.bulk_create([Partner(tenant=tenant, name=f"P{n}", external_id=f"P{n}")
                                 for n in range(size)], batch_size=2000)
    Account.objects.bulk_create([Account(tenant=tenant, domain=f"old{n}.example")
                                 for n in range(size)], batch_size=2000)
    accounts = list(Account.objects.for_tenant(tenant).order_by("id")
                    .values_list("id", flat=True))
    Lead.objects.bulk_create([
        Lead(tenant=tenant, external_id=f"L{n}", contact_email=f"p{n}@old{n}.example",
             email_key=f"p{n}@old{n}.example", company_domain=f"old{n}.example",
             account_id=accounts[n])
        for n in range(size)
    ], batch_size=2000)
    _key, secret = api_key_for(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.post("/api/v1/leads/", json.dumps({"contact_email": "warm@warm.example"}),
                content_type="application/json")
    return client


def _post(client: Client, path: str, body: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code in (201, 207), response.content
    return len(queries), response.json()


# case: (body, is_duplicate, has_account) — the last two prove the case took its path.
CASES = {
    "new account": ({"contact_email": "new@brand-new.example", "company_name": "New"},
                    False, True),
    "existing account (a duplicate)": ({"contact_email": "other@old3.example"}, True, True),
    "same person again (a duplicate)": ({"contact_email": "P5@old5.example"}, True, True),
    "free mail (no account)": ({"contact_email": "someone@gmail.com"}, False, False),
}


@pytest.mark.django_db
def test_single_create_queries_do_not_grow_with_the_vendor():
    small, large = _vendor(10), _vendor(10_000)
    counts = {}
    for name, (body, is_duplicate, has_account) in CASES.items():
        for size, client in (("10", small), ("10,000", large)):
            count, lead = _post(client, "/api/v1/leads/", body)
            assert lead["is_duplicate"] is is_duplicate, (name, size)
            assert (lead["account"] is not None) is has_account, (name, size)
            counts[name, size] = count
    for name in CASES:
        assert counts[name, "10"] == counts[name, "10,000"], (name, counts)


@pytest.fixture
def sqlite_without_insert_chunks(monkeypatch):
    """Django splits SQLite statements at 999 parameters (the limit of old SQLite builds); the
    SQLite in use takes 32,766 since 3.32, so one batch is one INSERT there as on PostgreSQL."""
    if connection.vendor == "sqlite":
        if sqlite3.sqlite_version_info < (3, 32):
            pytest.skip("SQLite before 3.32 limits statements to 999 parameters")
        monkeypatch.setattr(connection.features, "max_query_params", 32_766)


@pytest.mark.django_db
@pytest.mark.usefixtures("sqlite_without_insert_chunks")
def test_bulk_create_queries_do_not_grow_with_the_batch():
    client = _vendor(10)

    def batch(size: int, tag: str) -> dict:
        # New customers (several leads each: duplicates within the batch), known customers
        # (duplicates of existing leads), free mail, external ids.
        leads = []
        for n in range(size):
            domain = (f"{tag}{n % 2}.example", f"old{n % 10}.example", "gmail.com")[n % 3]
            leads.append({"contact_email": f"b{n}-{tag}@{domain}", "external_id": f"{tag}-{n}"})
        return {"leads": leads}

    ten, ten_body = _post(client, "/api/v1/leads/bulk/", batch(10, "ten"))
    hundred, hundred_body = _post(client, "/api/v1/leads/bulk/", batch(100, "hundred"))
    assert (ten_body["created"], hundred_body["created"]) == (10, 100)
    for tag in ("ten", "hundred"):  # both batches take every path: duplicates of both kinds
        duplicates = Lead.objects.filter(external_id__startswith=f"{tag}-",
                                         duplicate_of__isnull=False)
        assert duplicates.filter(duplicate_of__external_id__startswith=f"{tag}-").exists()
        assert duplicates.filter(duplicate_of__external_id__startswith="L").exists()
    assert ten == hundred
