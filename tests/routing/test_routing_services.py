"""Routing transitions against the database: decline to the next partner in the same call,
open pools, release, reassign, pre-qualification, registration and protection, capacity,
share caps, absences, duplicates, versions, the sweeper, and the trace in words."""

import datetime

import pytest
from django.utils import timezone

from leads.models import Account, Lead, LeadEvent, LeadStatus
from leads.services import Conflict, lead_create
from partners.models import OutOfOffice
from partners.services import partner_tags_set
from routing.models import Decision, DecisionKind, Offer, OfferStatus, RuleSet, RuleSetStatus
from routing.rules import RuleInvalid, rule_create, rule_update, ruleset_activate, ruleset_draft
from routing.selectors import decision_explain, decision_why
from routing.services import (
    lead_conflict_resolve,
    lead_intake,
    lead_reassign,
    lead_register,
    lead_reject,
    lead_release,
    lead_review_release,
    leads_route_pending,
    offer_accept,
    offer_decline,
)
from routing.simulation import rule_simulate
from tenancy.actors import SYSTEM
from tenancy.errors import DomainError
from tenancy.models import AuditEntry
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

GERMANY = [{"field": "country", "op": "eq", "value": "DE"}]
_seq = iter(range(10**6))


def rules(tenant, *specs):
    for spec in specs:
        rule_create(tenant=tenant, data={"name": f"Rule {next(_seq)}", **spec}, actor=SYSTEM)
    return ruleset_activate(tenant=tenant, actor=SYSTEM)


def new_lead(tenant, **fields):
    n = next(_seq)
    return lead_intake(tenant=tenant, actor=SYSTEM, fields={
        "country": "DE", "contact_email": f"buyer{n}@customer{n}.example",
        "company_name": f"Customer {n}", **fields})


def open_offers(lead):
    return list(Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).order_by("id"))


@pytest.fixture
def three(vendor_a):
    """Three partners in one round-robin rule for Germany."""
    partners = [PartnerFactory(tenant=vendor_a) for _ in range(3)]
    rules(vendor_a, {"conditions": GERMANY, "strategy": "round_robin"})
    return partners


# --- routing and declining -------------------------------------------------------------------

def test_a_new_lead_is_offered_to_one_partner_with_its_decision(vendor_a, three):
    lead = new_lead(vendor_a)
    assert lead.status == LeadStatus.OFFERED
    (offer,) = open_offers(lead)
    decision = offer.decision
    assert decision.kind == DecisionKind.RULE and decision.partner == offer.partner
    assert decision.trace["chosen"] == [offer.partner_id] and decision.trace["qualifying"] == 3
    assert [e.kind for e in lead.events.order_by("id")] == ["created", "offered"]


def test_a_decline_offers_the_lead_to_the_next_partner_before_it_returns(vendor_a, three):
    lead = new_lead(vendor_a)
    (first,) = open_offers(lead)

    offer_decline(offer=first, reason="outside_region", actor=SYSTEM)

    (second,) = open_offers(lead)
    assert second.partner_id != first.partner_id
    first.refresh_from_db()
    assert first.status == OfferStatus.DECLINED and first.decline_reason == "outside_region"
    kinds = [e.kind for e in lead.events.order_by("id")]
    assert kinds == ["created", "offered", "declined", "offered"]
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.OFFERED


def test_a_partner_that_declined_never_gets_the_lead_again(vendor_a, three):
    lead = new_lead(vendor_a)
    seen = []
    for _ in range(3):
        (offer,) = open_offers(lead)
        seen.append(offer.partner_id)
        offer_decline(offer=offer, reason="no_capacity", actor=SYSTEM)
    assert sorted(seen) == sorted(p.pk for p in three)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNASSIGNED and open_offers(lead) == []
    last = lead.decisions.order_by("-id").first()
    assert sorted(r for _p, r in last.trace["skipped"]) == ["passed"] * 3


def test_declining_needs_a_known_reason_and_text_for_other(vendor_a, three):
    (offer,) = open_offers(new_lead(vendor_a))
    with pytest.raises(DomainError):
        offer_decline(offer=offer, reason="too_lazy", actor=SYSTEM)
    with pytest.raises(DomainError):
        offer_decline(offer=offer, reason="other", text="  ", actor=SYSTEM)
    offer_decline(offer=offer, reason="other", text="We only do cloud.", actor=SYSTEM)
    offer.refresh_from_db()
    assert offer.reason_text == "We only do cloud."


def test_answering_a_closed_offer_is_a_conflict(vendor_a, three):
    (offer,) = open_offers(new_lead(vendor_a))
    offer_decline(offer=offer, reason="spam", actor=SYSTEM)
    with pytest.raises(Conflict):
        offer_accept(offer=offer, actor=SYSTEM)
    with pytest.raises(Conflict):
        offer_decline(offer=offer, reason="spam", actor=SYSTEM)


def test_accepting_makes_the_partner_hold_the_lead_and_the_account(vendor_a, three):
    lead = new_lead(vendor_a)
    (offer,) = open_offers(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner_id == offer.partner_id
    assert lead.accepted_at is not None
    assert lead.account.owner_id == offer.partner_id


# --- open pools ------------------------------------------------------------------------------

def test_in_an_open_pool_the_first_acceptance_wins_and_withdraws_the_others(vendor_a):
    [PartnerFactory(tenant=vendor_a) for _ in range(3)]
    rules(vendor_a, {"conditions": GERMANY, "strategy": "open_pool"})
    lead = new_lead(vendor_a)
    offers = open_offers(lead)
    assert len(offers) == 3 and all(o.is_pool for o in offers)

    offer_accept(offer=offers[1], actor=SYSTEM)

    statuses = {o.pk: o.status for o in Offer.objects.filter(lead=lead)}
    assert statuses == {offers[0].pk: "withdrawn", offers[1].pk: "accepted",
                        offers[2].pk: "withdrawn"}
    with pytest.raises(Conflict):
        offer_accept(offer=offers[2], actor=SYSTEM)


def test_a_pool_waits_while_other_offers_are_open_and_reroutes_when_all_declined(vendor_a):
    [PartnerFactory(tenant=vendor_a) for _ in range(2)]
    rules(vendor_a, {"conditions": GERMANY, "strategy": "open_pool"})
    lead = new_lead(vendor_a)
    first, second = open_offers(lead)
    offer_decline(offer=first, reason="no_capacity", actor=SYSTEM)
    assert open_offers(lead) == [second]
    offer_decline(offer=second, reason="no_capacity", actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNASSIGNED


# --- release, reassign, review ---------------------------------------------------------------

def test_release_routes_the_lead_again_and_never_back(vendor_a, three):
    lead = new_lead(vendor_a)
    (offer,) = open_offers(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    with pytest.raises(DomainError):
        lead_release(lead=lead, partner=offer.partner, reason="", actor=SYSTEM)

    lead_release(lead=lead, partner=offer.partner, reason="Customer went silent",
                 actor=SYSTEM)

    lead.refresh_from_db()
    (again,) = open_offers(lead)
    assert lead.status == LeadStatus.OFFERED and lead.partner is None
    assert again.partner_id != offer.partner_id
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RELEASED


def test_only_the_holding_partner_may_release(vendor_a, three):
    lead = new_lead(vendor_a)
    (offer,) = open_offers(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    other = next(p for p in three if p.pk != offer.partner_id)
    with pytest.raises(Conflict):
        lead_release(lead=lead, partner=other, reason="mine now", actor=SYSTEM)


def test_a_manager_reassigns_by_hand_with_a_reason_and_an_audit_entry(vendor_a, three):
    lead = new_lead(vendor_a)
    (offer,) = open_offers(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    target = next(p for p in three if p.pk != offer.partner_id)

    lead_reassign(lead=lead, partner=target, reason="Customer asked for them", actor=SYSTEM)

    (new,) = open_offers(lead)
    offer.refresh_from_db()
    assert new.partner == target and offer.status == OfferStatus.REASSIGNED
    assert new.decision.kind == DecisionKind.MANUAL
    assert new.decision.trace["manual"]["reason"] == "Customer asked for them"
    assert AuditEntry.objects.filter(action="lead.reassign", object_id=str(lead.public_id)
                                     ).exists()
    assert decision_why(decision=new.decision) == "A channel manager chose you for this lead."


def test_prequalified_leads_wait_for_review_then_route_or_are_rejected(vendor_a):
    PartnerFactory(tenant=vendor_a)
    rules(vendor_a, {"conditions": GERMANY, "prequalify": True})
    waiting, other = new_lead(vendor_a), new_lead(vendor_a)
    assert waiting.status == other.status == LeadStatus.IN_REVIEW

    lead_review_release(lead=waiting, actor=SYSTEM)
    lead_reject(lead=other, reason="Student project", actor=SYSTEM)

    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.status == LeadStatus.OFFERED and len(open_offers(waiting)) == 1
    assert other.status == LeadStatus.REJECTED and other.lost_reason == "Student project"
    with pytest.raises(Conflict):
        lead_review_release(lead=other, actor=SYSTEM)


# --- eligibility -------------------------------------------------------------------------------

def test_a_partner_at_capacity_is_skipped(vendor_a):
    full = PartnerFactory(tenant=vendor_a, capacity=1)
    free = PartnerFactory(tenant=vendor_a)
    rules(vendor_a, {"conditions": GERMANY, "strategy": "open_pool"})
    new_lead(vendor_a)  # both get an offer: `full` is now at capacity
    lead = new_lead(vendor_a)
    assert [o.partner for o in open_offers(lead)] == [free]
    assert [full.pk, "capacity"] in lead.decisions.get().trace["skipped"]


def test_a_partner_out_of_office_today_is_skipped(vendor_a):
    away, here = PartnerFactory(tenant=vendor_a), PartnerFactory(tenant=vendor_a)
    rules(vendor_a, {"conditions": GERMANY})
    today = timezone.localdate()
    OutOfOffice.objects.create(tenant=vendor_a, partner=away, starts_on=today,
                               ends_on=today + datetime.timedelta(days=2))
    for _ in range(3):
        assert open_offers(new_lead(vendor_a))[0].partner == here


def test_pausing_a_partner_takes_effect_for_the_next_lead(vendor_a, three):
    new_lead(vendor_a)  # the engine's inputs are now cached
    for partner in three[:2]:
        partner.paused = True
        partner.save()
    for _ in range(3):
        assert open_offers(new_lead(vendor_a))[0].partner == three[2]


def test_partners_without_the_required_tags_never_get_the_lead(vendor_a):
    erp, other = PartnerFactory(tenant=vendor_a), PartnerFactory(tenant=vendor_a)
    partner_tags_set(partner=erp, labels=["vertical:erp"], actor=SYSTEM)
    rules(vendor_a, {"conditions": GERMANY, "required_tags": ["vertical:erp"]})
    lead = new_lead(vendor_a)
    assert open_offers(lead)[0].partner == erp
    assert lead.decisions.get().trace["static"] == {"tags": 1}
    partner_tags_set(partner=other, labels=["vertical:erp"], actor=SYSTEM)
    assert open_offers(new_lead(vendor_a))[0].partner == other  # its turn now


def test_a_share_cap_spreads_the_rules_leads(vendor_a):
    big, small = PartnerFactory(tenant=vendor_a, routing_weight=1000), PartnerFactory(
        tenant=vendor_a, routing_weight=1)
    rules(vendor_a, {"conditions": GERMANY, "strategy": "weighted", "share_cap_percent": 50})
    partners = [open_offers(new_lead(vendor_a))[0].partner for _ in range(10)]
    # By weight `big` would take nearly all; the cap holds it to half (rounded up).
    assert partners.count(big) == 5 and partners.count(small) == 5


# --- accounts, duplicates, registration --------------------------------------------------------

def test_a_duplicate_goes_to_the_partner_holding_the_account(vendor_a, three):
    first = new_lead(vendor_a, contact_email="anna@berger.example")
    (offer,) = open_offers(first)
    offer_accept(offer=offer, actor=SYSTEM)

    again = new_lead(vendor_a, contact_email="paul@berger.example")

    (dup_offer,) = open_offers(again)
    assert again.duplicate_of_id == first.pk and dup_offer.partner_id == offer.partner_id
    decision = dup_offer.decision
    assert decision.kind == DecisionKind.ACCOUNT
    assert decision_why(decision=decision) == "You already work with this customer."


def test_a_registration_without_conflict_is_held_and_protected(vendor_a, three):
    partner = three[0]
    lead = lead_register(tenant=vendor_a, partner=partner, actor=SYSTEM, fields={
        "contact_email": "cto@newco.example", "company_name": "NewCo", "country": "DE"})
    assert lead.status == LeadStatus.ACCEPTED and lead.partner == partner
    account = Account.objects.get(pk=lead.account_id)
    assert account.owner == partner
    expected = timezone.now() + datetime.timedelta(days=vendor_a.protection_days)
    assert abs((account.protected_until - expected).total_seconds()) < 60
    # While protected, a new inquiry of the customer goes to the registering partner.
    later = new_lead(vendor_a, contact_email="ceo@newco.example")
    (offer,) = open_offers(later)
    assert offer.partner == partner and offer.decision.kind == DecisionKind.ACCOUNT
    assert decision_why(decision=offer.decision) == "You protect this customer's account."


def test_a_conflicting_registration_waits_for_a_manager(vendor_a, three):
    existing = new_lead(vendor_a, contact_email="anna@oldco.example")
    holder = open_offers(existing)[0].partner
    registrant = next(p for p in three if p != holder)

    lead = lead_register(tenant=vendor_a, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "bob@oldco.example", "company_name": "OldCo"})

    assert lead.status == LeadStatus.CONFLICT
    assert LeadEvent.objects.filter(lead=lead, kind="conflict").exists()
    lead_conflict_resolve(lead=lead, actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner == registrant


# --- versions, sweeper, simulation, words --------------------------------------------------------

def test_editing_makes_a_draft_and_the_live_version_stays_until_activated(vendor_a, three):
    live = RuleSet.objects.get(tenant=vendor_a, status=RuleSetStatus.ACTIVE)
    live_rule = live.rules.get()
    draft = ruleset_draft(tenant=vendor_a, actor=SYSTEM)
    assert draft.version == live.version + 1 and draft.rules.count() == 1

    rule_update(rule=live_rule, data={"conditions": [
        {"field": "country", "op": "eq", "value": "AT"}]}, actor=SYSTEM)

    assert new_lead(vendor_a).status == LeadStatus.OFFERED  # still the live rules
    ruleset_activate(tenant=vendor_a, actor=SYSTEM, note="Austria only")
    assert new_lead(vendor_a).status == LeadStatus.UNASSIGNED
    live.refresh_from_db()
    assert live.status == RuleSetStatus.RETIRED and live.rules.get().conditions == GERMANY


def test_bad_rule_input_is_refused_with_field_errors(vendor_a):
    with pytest.raises(RuleInvalid) as error:
        rule_create(tenant=vendor_a, actor=SYSTEM, data={
            "name": " ", "strategy": "coin_flip", "required_tags": ["no-colon"],
            "conditions": [{"field": "country", "op": "eq"}], "fallback_partners": [999999]})
    assert set(error.value.errors) == {"name", "strategy", "required_tags", "conditions",
                                       "fallback_partners"}
    assert not RuleSet.objects.filter(tenant=vendor_a).exclude(rules=None).exists()


def test_the_sweeper_routes_waiting_leads_once(vendor_a, three):
    lead = lead_create(tenant=vendor_a, actor=SYSTEM, fields={"country": "DE",
                                                               "contact_email": "a@x.example"})
    assert leads_route_pending(grace=datetime.timedelta(0)) == 1
    assert leads_route_pending(grace=datetime.timedelta(0)) == 0
    assert len(open_offers(lead)) == 1 and Decision.objects.filter(lead=lead).count() == 1


def test_the_trace_reads_in_words(vendor_a, three):
    lead = new_lead(vendor_a)
    (offer,) = open_offers(lead)
    lines = decision_explain(decision=offer.decision)["lines"]
    rule_name = offer.decision.rule.name
    assert lines[0] == f"Rule “{rule_name}” matched."
    assert lines[-1] == f"Chosen: {offer.partner.name}."
    assert decision_why(decision=offer.decision) == (
        f"It matches “{rule_name}”, and it was your turn in the rotation of 3 partners that "
        "qualify.")


def test_simulating_a_draft_shows_who_would_get_what_and_writes_nothing(vendor_a, three):
    for _ in range(6):
        new_lead(vendor_a)
    draft = ruleset_draft(tenant=vendor_a, actor=SYSTEM)
    rule_update(rule=draft.rules.get(), data={"strategy": "open_pool"}, actor=SYSTEM)
    before = (Offer.objects.count(), Decision.objects.count())

    result = rule_simulate(tenant=vendor_a, draft=draft, last_n=6)

    assert result.leads == 6 and sum(result.live.per_partner.values()) == 6
    assert result.draft.pool == 6 and len(result.moved) == 6
    assert (Offer.objects.count(), Decision.objects.count()) == before


def test_with_route_on_create_off_the_sweeper_routes_the_lead(vendor_a, three, settings):
    settings.ROUTE_ON_CREATE = False
    lead = new_lead(vendor_a)
    assert lead.status == LeadStatus.RECEIVED and open_offers(lead) == []
    assert leads_route_pending(grace=datetime.timedelta(0)) == 1
    assert len(open_offers(lead)) == 1
