"""The SLA sweeper under concurrency (PostgreSQL, threads): two sweepers over the same due
offers apply each step once; a partner accepting while the sweeper reassigns ends in exactly
one outcome, with the event log matching the state."""

import datetime

import pytest
from django.utils import timezone

from escalation.models import SlaPolicy, SlaStep
from escalation.sla import offers_escalate
from leads.models import LeadEvent, LeadStatus
from leads.services import Conflict, lead_create_bulk
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake, leads_route_pending, offer_accept
from tenancy.actors import SYSTEM
from tests.concurrency import race
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DUE = 2000  # offers due at once for two sweepers
RACES = 500  # accept-versus-reassign rounds


def _vendor(action, partners=2):
    tenant = TenantFactory()
    for _ in range(partners):
        PartnerFactory(tenant=tenant)
    policy = SlaPolicy.objects.create(tenant=tenant, name="Fast", is_default=True,
                                      count="wall_clock")
    SlaStep.objects.create(tenant=tenant, policy=policy, after_minutes=60, action=action)
    rule_create(tenant=tenant, data={"name": "All", "strategy": "round_robin"}, actor=SYSTEM)
    ruleset_activate(tenant=tenant, actor=SYSTEM)
    return tenant


def _lead(tenant, n):
    return lead_intake(tenant=tenant, actor=SYSTEM,
                       fields={"contact_email": f"b{n}@c{n}.example"})


def test_two_sweepers_over_the_same_due_offers_apply_each_step_once():
    tenant = _vendor("remind")
    leads = lead_create_bulk(tenant=tenant, actor=SYSTEM, items=[
        {"contact_email": f"b{n}@c{n}.example"} for n in range(DUE)])
    assert leads_route_pending(lead_ids=[r.lead.pk for r in leads], limit=DUE) == DUE
    Offer.objects.filter(tenant=tenant).update(due_at=timezone.now() - datetime.timedelta(1))

    results = race(lambda: offers_escalate(limit=DUE), lambda: offers_escalate(limit=DUE))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == DUE
    assert LeadEvent.objects.filter(tenant=tenant, kind="sla_reminded").count() == DUE
    assert set(Offer.objects.filter(tenant=tenant).values_list("sla_step", flat=True)) == {1}
    assert offers_escalate(limit=DUE) == 0


def test_accepting_while_the_sweeper_reassigns_ends_in_one_outcome():
    tenant = _vendor("reassign")
    outcomes = {"accepted": 0, "expired": 0}
    for n in range(RACES):
        lead = _lead(tenant, n)
        offer = Offer.objects.get(lead=lead, status=OfferStatus.OPEN)
        Offer.objects.filter(pk=offer.pk).update(due_at=timezone.now())

        results = race(lambda o=offer: offer_accept(offer=o, actor=SYSTEM),
                       lambda: offers_escalate(limit=10))

        offer.refresh_from_db()
        lead.refresh_from_db()
        kinds = list(lead.events.order_by("id").values_list("kind", flat=True))
        open_offers = lead.offers.filter(status=OfferStatus.OPEN).count()
        if offer.status == OfferStatus.ACCEPTED:
            assert isinstance(results[0], Offer) and results[1] == 0
            assert lead.status == LeadStatus.ACCEPTED and open_offers == 0
            assert kinds[-1] == "accepted" and "expired" not in kinds
        else:
            assert offer.status == OfferStatus.EXPIRED
            assert isinstance(results[0], Conflict) and results[1] == 1
            assert lead.status == LeadStatus.OFFERED and open_offers == 1
            assert kinds[-2:] == ["expired", "offered"]
        assert lead.offers.filter(status=OfferStatus.ACCEPTED).count() <= 1
        outcomes[offer.status] += 1
        # Every closed offer has exactly one outcome and its time.
        for closed in lead.offers.exclude(status=OfferStatus.OPEN):
            assert closed.responded_at is not None and closed.due_at is None
    assert sum(outcomes.values()) == RACES
