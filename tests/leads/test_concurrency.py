"""Leads of the same person or customer arriving at the same moment (PostgreSQL, threads):
exactly one is the original, every other one is flagged as its duplicate."""


import pytest

from leads.models import Account, Lead
from leads.services import lead_create, lead_create_bulk
from tenancy.actors import Actor
from tests.concurrency import race
from tests.factories import TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_same_new_customer_from_four_requests_at_once_has_one_original():
    tenant = TenantFactory()
    for attempt in range(3):
        domain = f"race{attempt}.example"
        results = race(*[
            lambda n=n, domain=domain: lead_create(tenant=tenant, actor=Actor(), fields={
                "contact_email": f"buyer{n}@{domain}", "company_name": "Race AG"})
            for n in range(4)
        ])
        assert all(isinstance(r, Lead) for r in results), results
        leads = Lead.objects.for_tenant(tenant).filter(company_domain=domain)
        assert leads.count() == 4
        assert leads.filter(duplicate_of__isnull=True).count() == 1
        assert Account.objects.for_tenant(tenant).filter(domain=domain).count() == 1


def test_same_email_in_single_and_bulk_requests_at_once_has_one_original():
    tenant = TenantFactory()
    email = "Same.Person@gmail.com"  # free mail: only the email links them
    results = race(
        lambda: lead_create(tenant=tenant, actor=Actor(), fields={"contact_email": email}),
        lambda: lead_create_bulk(tenant=tenant, actor=Actor(), items=[
            {"contact_email": email.lower()}, {"contact_email": "other@gmail.com"}]),
        lambda: lead_create_bulk(tenant=tenant, actor=Actor(), items=[
            {"contact_email": "other@gmail.com"}, {"contact_email": email.upper()}]),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    same = Lead.objects.for_tenant(tenant).filter(email_key=email.casefold())
    assert same.count() == 3
    assert same.filter(duplicate_of__isnull=True).count() == 1
    other = Lead.objects.for_tenant(tenant).filter(email_key="other@gmail.com")
    assert other.filter(duplicate_of__isnull=True).count() == 1
    assert Account.objects.for_tenant(tenant).count() == 0
