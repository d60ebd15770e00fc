"""Routing under concurrency (PostgreSQL, real threads): fair rotations across workers,
one winner in an open pool, capacity never exceeded, one outcome per offer."""

from collections import Counter

import pytest

from leads.models import Lead, LeadStatus
from leads.services import Conflict
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake, offer_accept, offer_decline
from tenancy.actors import SYSTEM
from tests.concurrency import race
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _setup(strategy, weights, capacity=None):
    tenant = TenantFactory()
    partners = [PartnerFactory(tenant=tenant, routing_weight=w, capacity=capacity)
                for w in weights]
    rule_create(tenant=tenant, actor=SYSTEM, data={"name": "All", "strategy": strategy})
    ruleset_activate(tenant=tenant, actor=SYSTEM)
    return tenant, partners


def _create_many(tenant, n):
    """n leads created and routed by WORKERS threads at once, each thread a share."""
    def worker(index):
        return [lead_intake(tenant=tenant, actor=SYSTEM, fields={
            "contact_email": f"w{index}-{i}@c{index}-{i}.example"})
            for i in range(index, n, WORKERS)]
    results = race(*[lambda i=i: worker(i) for i in range(WORKERS)])
    assert not [r for r in results if isinstance(r, Exception)], results


def _primary_counts(tenant):
    return Counter(Offer.objects.filter(tenant=tenant).values_list("partner_id", flat=True))


def test_round_robin_by_eight_workers_stays_within_one_of_n_over_k():
    tenant, partners = _setup("round_robin", [100] * 5)
    _create_many(tenant, 80)
    counts = _primary_counts(tenant)
    assert sum(counts.values()) == 80
    for partner in partners:
        assert abs(counts[partner.pk] - 80 / 5) <= 1, counts
    for lead in Lead.objects.filter(tenant=tenant):
        assert lead.status == LeadStatus.OFFERED
        assert lead.offers.filter(status=OfferStatus.OPEN).count() == 1


def test_weighted_by_eight_workers_stays_within_one_of_the_shares():
    weights = [300, 200, 100]
    tenant, partners = _setup("weighted", weights)
    _create_many(tenant, 60)
    counts = _primary_counts(tenant)
    for partner, weight in zip(partners, weights, strict=True):
        assert abs(counts[partner.pk] - 60 * weight / sum(weights)) <= 1, counts


def test_eight_partners_accepting_one_pool_lead_at_once_leave_one_winner():
    tenant, _partners = _setup("open_pool", [100] * WORKERS)
    lead = lead_intake(tenant=tenant, actor=SYSTEM, fields={"contact_email": "a@pool.example"})
    offers = list(Offer.objects.filter(lead=lead))
    assert len(offers) == WORKERS

    results = race(*[lambda o=o: offer_accept(offer=o, actor=SYSTEM) for o in offers])

    assert sum(isinstance(r, Offer) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Offer))
    statuses = Counter(Offer.objects.filter(lead=lead).values_list("status", flat=True))
    assert statuses == {"accepted": 1, "withdrawn": WORKERS - 1}
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_capacity_holds_when_eight_workers_route_at_once():
    tenant, partners = _setup("round_robin", [100] * 3, capacity=2)
    _create_many(tenant, 10)
    open_by_partner = Counter(Offer.objects.filter(tenant=tenant, status=OfferStatus.OPEN)
                              .values_list("partner_id", flat=True))
    assert all(count <= 2 for count in open_by_partner.values()), open_by_partner
    assert sum(open_by_partner.values()) == 6
    assert Lead.objects.filter(tenant=tenant, status=LeadStatus.UNASSIGNED).count() == 4


def test_a_decline_and_an_accept_of_one_offer_at_once_have_one_outcome():
    for _attempt in range(3):
        tenant, _partners = _setup("round_robin", [100] * 2)
        lead = lead_intake(tenant=tenant, actor=SYSTEM,
                           fields={"contact_email": "a@both.example"})
        offer = Offer.objects.get(lead=lead)
        results = race(lambda o=offer: offer_accept(offer=o, actor=SYSTEM),
                       lambda o=offer: offer_decline(offer=o, reason="spam", actor=SYSTEM))
        assert sum(isinstance(r, Conflict) for r in results) == 1, results
        offer.refresh_from_db()
        lead.refresh_from_db()
        if offer.status == OfferStatus.ACCEPTED:
            assert lead.status == LeadStatus.ACCEPTED
        else:
            assert offer.status == OfferStatus.DECLINED and lead.status == LeadStatus.OFFERED
            assert lead.offers.filter(status=OfferStatus.OPEN).count() == 1
