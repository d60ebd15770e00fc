"""A lead create costs the same number of queries however big the vendor is."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leads.models import Account, Lead
from partners.models import Partner
from tests.factories import TenantFactory, api_key_for


def _vendor(size: int):
    tenant = TenantFactory()
    Partner.objects.bulk_create([Partner(tenant=tenant, name=f"P{n}", external_id=f"P{n}")
                                 for n in range(size)])
    Account.objects.bulk_create([Account(tenant=tenant, domain=f"old{n}.example")
                                 for n in range(size)])
    accounts = list(Account.objects.for_tenant(tenant).values_list("id", flat=True))
    Lead.objects.bulk_create([
        Lead(tenant=tenant, external_id=f"L{n}", contact_email=f"p{n}@old{n}.example",
             email_key=f"p{n}@old{n}.example", company_domain=f"old{n}.example",
             account_id=accounts[n])
        for n in range(size)
    ])
    _key, secret = api_key_for(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    # Warm the per-process caches (custom fields) and the key's last-used stamp.
    client.post("/api/v1/leads/", json.dumps({"contact_email": "warm@warm.example"}),
                content_type="application/json")
    return client


def _queries(client, path, body) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code in (201, 207), response.content
    return len(queries)


CASES = {
    "new customer": {"contact_email": "new@brand-new.example", "company_name": "New"},
    "known customer (a duplicate)": {"contact_email": "other@old3.example"},
    "same person again": {"contact_email": "P5@old5.example"},
    "free mail": {"contact_email": "someone@gmail.com"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_single_create_queries_do_not_grow_with_the_vendor(case):
    small, large = _vendor(10), _vendor(10_000)
    assert _queries(small, "/api/v1/leads/", CASES[case]) == _queries(
        large, "/api/v1/leads/", CASES[case])


# PostgreSQL only: Django splits SQLite INSERTs into chunks of 999 parameters.
@pytest.mark.postgres
@pytest.mark.django_db
def test_bulk_create_queries_do_not_grow_with_the_batch():
    client = _vendor(10)

    def batch(size, tag):
        return {"leads": [{"contact_email": f"b{n}@{tag}{n % 7}.example"} for n in range(size)]}

    assert _queries(client, "/api/v1/leads/bulk/", batch(10, "ten")) == _queries(
        client, "/api/v1/leads/bulk/", batch(100, "hundred"))
