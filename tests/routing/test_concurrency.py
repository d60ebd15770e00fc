"""Routing with eight workers at once (PostgreSQL only, real threads, each closing its own
connection): rotations stay fair across workers, capacity is never exceeded, an open pool
and a contested offer each have exactly one outcome."""

from collections import Counter

import pytest

from leads.models import Lead, LeadStatus
from leads.services import Conflict
from routing.models import Decision, Offer, OfferStatus, RotationPosition
from routing.services import lead_intake, offer_accept, offer_decline
from tenancy.actors import SYSTEM
from tests.concurrency import race
from tests.factories import PartnerFactory, TenantFactory, routing_rules_activate

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def _vendor(strategy: str, weights: list[int], *, capacity: int | None = None):
    tenant = TenantFactory()
    partners = [PartnerFactory(tenant=tenant, routing_weight=w, capacity=capacity)
                for w in weights]
    routing_rules_activate(tenant, {"name": "Everything", "strategy": strategy})
    return tenant, partners


def _intake_in_threads(tenant, n: int) -> list[Lead]:
    """n leads created and routed by THREADS workers at once (lead i by worker i % 8)."""
    def worker(index):
        return [lead_intake(tenant=tenant, actor=SYSTEM, fields={
            "contact_email": f"buyer{i}@customer{i}.example", "company_name": f"C{i}"})
            for i in range(index, n, THREADS)]

    results = race(*[lambda i=i: worker(i) for i in range(THREADS)])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    leads = [lead for batch in results for lead in batch]
    assert len(leads) == n
    return leads


def _decision_sequence(tenant) -> list[int]:
    """The chosen partner of each decision, in the order the decisions were made (their
    ids are taken under the rotation's row lock, so id order is rotation order)."""
    return list(Decision.objects.filter(tenant=tenant).order_by("id")
                .values_list("partner_id", flat=True))


def test_round_robin_with_eight_workers_is_within_one_of_n_over_k():
    n, k = 80, 5
    tenant, partners = _vendor("round_robin", [100] * k)

    leads = _intake_in_threads(tenant, n)

    counts = Counter(Offer.objects.filter(tenant=tenant).values_list("partner_id", flat=True))
    assert sum(counts.values()) == n
    for partner in partners:
        assert abs(counts[partner.pk] - n / k) <= 1, counts
    for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]):
        assert lead.status == LeadStatus.OFFERED
        assert lead.offers.filter(status=OfferStatus.OPEN).count() == 1
    # One sequence, not eight: fair after every decision, too.
    running = Counter()
    for m, partner_id in enumerate(_decision_sequence(tenant), start=1):
        running[partner_id] += 1
        assert all(abs(running[p.pk] - m / k) <= 1 for p in partners), (m, running)
    assert RotationPosition.objects.get(tenant=tenant).decisions == n


def test_weighted_with_eight_workers_is_within_one_of_the_entitled_shares():
    n, weights = 80, [400, 300, 200, 100]
    total = sum(weights)
    tenant, partners = _vendor("weighted", weights)

    _intake_in_threads(tenant, n)

    counts = Counter(Offer.objects.filter(tenant=tenant).values_list("partner_id", flat=True))
    for partner, weight in zip(partners, weights, strict=True):
        assert abs(counts[partner.pk] - n * weight / total) <= 1, counts
    running = Counter()
    for m, partner_id in enumerate(_decision_sequence(tenant), start=1):
        running[partner_id] += 1
        for partner, weight in zip(partners, weights, strict=True):
            assert abs(running[partner.pk] * total - m * weight) < total, (m, running)


def test_eight_partners_accepting_one_open_pool_lead_at_once_leave_one_winner():
    tenant, partners = _vendor("open_pool", [100] * THREADS)
    lead = lead_intake(tenant=tenant, actor=SYSTEM, fields={"contact_email": "a@pool.example"})
    offers = list(Offer.objects.filter(lead=lead, status=OfferStatus.OPEN))
    assert len(offers) == THREADS

    results = race(*[lambda o=o: offer_accept(offer=o, actor=SYSTEM) for o in offers])

    winners = [r for r in results if isinstance(r, Offer)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r not in winners), results
    statuses = Counter(Offer.objects.filter(lead=lead).values_list("status", flat=True))
    assert statuses == {"accepted": 1, "withdrawn": THREADS - 1}
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner_id == winners[0].partner_id
    assert lead.events.filter(kind="accepted").count() == 1


@pytest.mark.parametrize("strategy", ["round_robin", "open_pool"])
def test_capacity_holds_when_eight_workers_route_at_once(strategy):
    """Capacity 2 for each of 3 partners, 10 leads. Round robin takes the rotation's row
    lock; an open pool has none, so only the partner row locks keep the count."""
    tenant, partners = _vendor(strategy, [100] * 3, capacity=2)

    leads = _intake_in_threads(tenant, 10)

    open_by_partner = Counter(Offer.objects.filter(tenant=tenant, status=OfferStatus.OPEN)
                              .values_list("partner_id", flat=True))
    assert open_by_partner == {p.pk: 2 for p in partners}, open_by_partner
    statuses = Counter(Lead.objects.filter(pk__in=[lead.pk for lead in leads])
                       .values_list("status", flat=True))
    offered = statuses[LeadStatus.OFFERED]
    assert statuses[LeadStatus.UNASSIGNED] == 10 - offered
    if strategy == "round_robin":
        assert offered == 6
    else:
        assert 2 <= offered <= 6


def test_a_decline_and_an_accept_of_one_offer_at_once_have_exactly_one_outcome():
    outcomes = Counter()
    for attempt in range(4):
        tenant, partners = _vendor("round_robin", [100] * 2)
        lead = lead_intake(tenant=tenant, actor=SYSTEM,
                           fields={"contact_email": f"a{attempt}@both.example"})
        offer = Offer.objects.get(lead=lead)

        results = race(lambda o=offer: offer_accept(offer=o, actor=SYSTEM),
                       lambda o=offer: offer_decline(offer=o, reason="spam", actor=SYSTEM))

        assert sum(isinstance(r, Offer) for r in results) == 1, results
        assert sum(isinstance(r, Conflict) for r in results) == 1, results
        offer.refresh_from_db()
        lead.refresh_from_db()
        outcomes[offer.status] += 1
        if offer.status == OfferStatus.ACCEPTED:
            assert lead.status == LeadStatus.ACCEPTED and lead.partner_id == offer.partner_id
            assert Offer.objects.filter(lead=lead).count() == 1
        else:
            assert offer.status == OfferStatus.DECLINED and lead.status == LeadStatus.OFFERED
            (again,) = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN)
            assert again.partner_id != offer.partner_id
        kinds = list(lead.events.order_by("id").values_list("kind", flat=True))
        assert kinds in (["created", "offered", "accepted"],
                         ["created", "offered", "declined", "offered"]), kinds
    assert sum(outcomes.values()) == 4


def test_two_pool_partners_declining_at_once_route_the_lead_again_once():
    tenant, partners = _vendor("open_pool", [100] * 2)
    lead = lead_intake(tenant=tenant, actor=SYSTEM, fields={"contact_email": "b@pool.example"})
    offers = list(Offer.objects.filter(lead=lead))

    results = race(*[lambda o=o: offer_decline(offer=o, reason="no_capacity", actor=SYSTEM)
                     for o in offers])

    assert all(isinstance(r, Offer) for r in results), results
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNASSIGNED
    # The pool's decision, then exactly one more when the last open offer went.
    assert list(lead.decisions.order_by("id").values_list("kind", flat=True)) == [
        "rule", "unassigned"]
