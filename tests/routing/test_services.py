"""Routing transitions against the database (SQLite and PostgreSQL): declines, open pools,
release, reassign, pre-qualification, capacity, share caps, absences, registration and
account protection, duplicates, no rules, rule versions, the configuration cache, the
sweeper, and decisions in words."""

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from leads.models import Account, Lead, LeadEvent, LeadStatus
from leads.services import Conflict, lead_create
from partners.services import partner_tags_set, partner_update
from routing.models import (
    Decision,
    DecisionKind,
    Offer,
    OfferStatus,
    RoutingRule,
    RuleSet,
    RuleSetStatus,
)
from routing.rules import rule_update, ruleset_activate, ruleset_draft
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
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.models import AuditEntry, Tenant
from tests.factories import OutOfOfficeFactory, PartnerFactory, routing_rules_activate

pytestmark = pytest.mark.django_db

GERMANY = [{"field": "country", "op": "eq", "value": "DE"}]
_n = iter(range(10**9))


def intake(tenant, **fields) -> Lead:
    """A new lead from Germany (a business email of its own company), created and routed."""
    n = next(_n)
    return lead_intake(tenant=tenant, actor=SYSTEM, fields={
        "country": "DE", "contact_email": f"buyer{n}@company{n}.example",
        "company_name": f"Company {n}", **fields})


def open_offers(lead) -> list[Offer]:
    return list(Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).order_by("id"))


def the_open_offer(lead) -> Offer:
    offers = open_offers(lead)
    assert len(offers) == 1, offers
    return offers[0]


def event_kinds(lead) -> list[str]:
    return list(LeadEvent.objects.filter(lead=lead).order_by("id").values_list("kind",
                                                                               flat=True))


def status_of(lead) -> str:
    return Lead.objects.values_list("status", flat=True).get(pk=lead.pk)


@pytest.fixture
def tenant(vendor_a):
    return vendor_a


@pytest.fixture
def four(tenant):
    """Four partners in one round-robin rule for Germany."""
    partners = [PartnerFactory(tenant=tenant, name=f"Reseller {i}") for i in range(4)]
    routing_rules_activate(tenant, {"name": "Germany", "conditions": GERMANY,
                                    "strategy": "round_robin"})
    return partners


@pytest.fixture
def pool(tenant):
    """Three partners in an open pool for Germany."""
    partners = [PartnerFactory(tenant=tenant) for _ in range(3)]
    routing_rules_activate(tenant, {"name": "Pool", "conditions": GERMANY,
                                    "strategy": "open_pool"})
    return partners


# --- declining ----------------------------------------------------------------------------

def test_a_decline_writes_declined_then_offered_and_the_next_offer_exists_on_return(
        tenant, four):
    lead = intake(tenant)
    first = the_open_offer(lead)
    assert event_kinds(lead) == ["created", "offered"]

    returned = offer_decline(offer=first, reason="outside_region", actor=SYSTEM)

    assert returned.status == OfferStatus.DECLINED
    second = the_open_offer(lead)  # already there: no worker, no second call
    assert second.partner_id != first.partner_id
    assert event_kinds(lead) == ["created", "offered", "declined", "offered"]
    declined, offered = LeadEvent.objects.filter(lead=lead).order_by("-id")[:2][::-1]
    assert declined.data["reason"] == "outside_region"
    assert declined.data["partner"]["id"] == str(first.partner.public_id)
    assert [p["id"] for p in offered.data["partners"]] == [str(second.partner.public_id)]
    assert status_of(lead) == LeadStatus.OFFERED
    first.refresh_from_db()
    assert first.decline_reason == "outside_region" and first.responded_at is not None
    assert Decision.objects.filter(lead=lead).count() == 2


def test_declines_never_send_the_lead_back_to_a_partner_that_declined(tenant, four):
    lead = intake(tenant)
    declined = []
    for _ in range(len(four)):
        offer = the_open_offer(lead)
        assert offer.partner_id not in declined
        declined.append(offer.partner_id)
        offer_decline(offer=offer, reason="no_capacity", actor=SYSTEM)
    assert sorted(declined) == sorted(p.pk for p in four)
    assert status_of(lead) == LeadStatus.UNASSIGNED and open_offers(lead) == []
    last = Decision.objects.filter(lead=lead).order_by("-id").first()
    assert last.kind == DecisionKind.UNASSIGNED
    assert sorted(last.trace["skipped"]) == sorted([p, "passed"] for p in declined)
    assert Offer.objects.filter(lead=lead).count() == 4  # one per partner, never two


def test_declining_with_other_needs_a_text(tenant, four):
    offer = the_open_offer(intake(tenant))
    for text in ("", "   ", None):
        with pytest.raises(DomainError) as error:
            offer_decline(offer=offer, reason="other", text=text, actor=SYSTEM)
        assert error.value.code == "reason_text_required"
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN
    offer_decline(offer=offer, reason="other", text="  We only sell to schools. ",
                  actor=SYSTEM)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED and offer.reason_text == "We only sell to schools."


@pytest.mark.parametrize("reason", ["", "too_far", "OTHER", "declined", None])
def test_declining_with_an_unknown_reason_is_refused(tenant, four, reason):
    lead = intake(tenant)
    offer = the_open_offer(lead)
    with pytest.raises(DomainError) as error:
        offer_decline(offer=offer, reason=reason, text="why not", actor=SYSTEM)
    assert error.value.code == "invalid_reason"
    assert the_open_offer(lead) == offer and event_kinds(lead) == ["created", "offered"]


@pytest.mark.parametrize("close", ["declined", "accepted", "reassigned"])
def test_answering_a_closed_offer_is_a_conflict(tenant, four, close):
    lead = intake(tenant)
    offer = the_open_offer(lead)
    if close == "declined":
        offer_decline(offer=offer, reason="spam", actor=SYSTEM)
    elif close == "accepted":
        offer_accept(offer=offer, actor=SYSTEM)
    else:
        other = next(p for p in four if p.pk != offer.partner_id)
        lead_reassign(lead=lead, partner=other, reason="Asked for them", actor=SYSTEM)
    events = event_kinds(lead)
    with pytest.raises(Conflict) as error:
        offer_accept(offer=offer, actor=SYSTEM)
    assert error.value.code == "offer_closed"
    with pytest.raises(Conflict):
        offer_decline(offer=offer, reason="spam", actor=SYSTEM)
    offer.refresh_from_db()
    assert offer.status == close and event_kinds(lead) == events


def test_accepting_gives_the_partner_the_lead_and_the_account(tenant, four):
    lead = intake(tenant)
    offer = the_open_offer(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner_id == offer.partner_id
    assert Account.objects.get(pk=lead.account_id).owner_id == offer.partner_id
    assert event_kinds(lead)[-1] == "accepted"


# --- open pool ----------------------------------------------------------------------------

def test_open_pool_first_acceptance_wins_and_withdraws_the_others_at_once(tenant, pool):
    lead = intake(tenant)
    offers = open_offers(lead)
    assert sorted(o.partner_id for o in offers) == sorted(p.pk for p in pool)
    assert all(o.is_pool for o in offers)
    assert len({o.decision_id for o in offers}) == 1
    assert offers[0].decision.partner_id is None  # no primary partner in a pool

    offer_accept(offer=offers[2], actor=SYSTEM)

    rows = {o.pk: o for o in Offer.objects.filter(lead=lead)}
    assert rows[offers[2].pk].status == OfferStatus.ACCEPTED
    withdrawn = [rows[o.pk] for o in offers[:2]]
    assert [o.status for o in withdrawn] == [OfferStatus.WITHDRAWN] * 2
    # Same transaction: the same moment as the acceptance.
    assert {o.responded_at for o in withdrawn} == {rows[offers[2].pk].responded_at}
    accepted_event = LeadEvent.objects.filter(lead=lead, kind="accepted").get()
    assert accepted_event.data["withdrawn"] == 2
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner_id == offers[2].partner_id

    with pytest.raises(Conflict):
        offer_accept(offer=offers[0], actor=SYSTEM)
    with pytest.raises(Conflict):
        offer_accept(offer=offers[2], actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.partner_id == offers[2].partner_id


def test_open_pool_decline_waits_while_other_offers_are_open(tenant, pool):
    lead = intake(tenant)
    offers = open_offers(lead)
    offer_decline(offer=offers[0], reason="no_capacity", actor=SYSTEM)
    assert open_offers(lead) == offers[1:] and status_of(lead) == LeadStatus.OFFERED
    offer_accept(offer=offers[1], actor=SYSTEM)
    assert Counter(Offer.objects.filter(lead=lead).values_list("status", flat=True)) == {
        "declined": 1, "accepted": 1, "withdrawn": 1}


# --- release, reassign ------------------------------------------------------------------------

def test_release_routes_again_to_another_partner_and_never_back(tenant):
    first, second = PartnerFactory(tenant=tenant), PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"conditions": GERMANY})
    lead = intake(tenant)
    offer = the_open_offer(lead)
    assert offer.partner == first
    offer_accept(offer=offer, actor=SYSTEM)

    lead_release(lead=lead, partner=first, reason="Customer wants a local partner",
                 actor=SYSTEM)

    again = the_open_offer(lead)
    assert again.partner == second
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RELEASED
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED and lead.partner is None
    assert event_kinds(lead)[-2:] == ["released", "offered"]
    # The second partner declines too: nobody is left, not even the first.
    offer_decline(offer=again, reason="no_capacity", actor=SYSTEM)
    assert status_of(lead) == LeadStatus.UNASSIGNED
    assert Offer.objects.filter(lead=lead, partner=first).count() == 1


def test_release_needs_a_reason_and_the_holding_partner(tenant, four):
    lead = intake(tenant)
    offer = the_open_offer(lead)
    offer_accept(offer=offer, actor=SYSTEM)
    with pytest.raises(DomainError):
        lead_release(lead=lead, partner=offer.partner, reason="  ", actor=SYSTEM)
    other = next(p for p in four if p.pk != offer.partner_id)
    with pytest.raises(Conflict):
        lead_release(lead=lead, partner=other, reason="Not mine", actor=SYSTEM)
    assert status_of(lead) == LeadStatus.ACCEPTED


@pytest.mark.parametrize("accepted_first", [False, True])
def test_a_manager_reassigns_by_hand(tenant, four, manager_a, accepted_first):
    lead = intake(tenant)
    offer = the_open_offer(lead)
    if accepted_first:
        offer_accept(offer=offer, actor=SYSTEM)
    target = next(p for p in four if p.pk != offer.partner_id)
    actor = Actor.for_user(manager_a.user)

    lead_reassign(lead=lead, partner=target, reason="The customer asked for them",
                  actor=actor)

    offer.refresh_from_db()
    assert offer.status == OfferStatus.REASSIGNED
    assert offer.reason_text == "The customer asked for them"
    new = the_open_offer(lead)
    assert new.partner == target
    decision = new.decision
    assert decision.kind == DecisionKind.MANUAL and decision.partner == target
    assert decision.trace["manual"] == {"by": manager_a.user.email,
                                        "reason": "The customer asked for them",
                                        "from": [offer.partner_id]}
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED and lead.partner is None
    entry = AuditEntry.objects.get(tenant=tenant, action="lead.reassign")
    assert entry.actor == manager_a.user and entry.actor_label == manager_a.user.email
    assert entry.object_id == str(lead.public_id)
    assert entry.before == {"partners": [offer.partner_id]}
    assert entry.after == {"partner": target.pk, "reason": "The customer asked for them"}
    assert event_kinds(lead)[-1] == "reassigned"
    assert decision_why(decision=decision) == "A channel manager chose you for this lead."
    assert "Reassigned by hand by" in decision_explain(decision=decision)["lines"][0]


def test_reassign_refuses_without_reason_or_to_an_inactive_partner(tenant, four):
    lead = intake(tenant)
    gone = PartnerFactory(tenant=tenant, is_active=False)
    with pytest.raises(DomainError):
        lead_reassign(lead=lead, partner=four[0], reason="", actor=SYSTEM)
    with pytest.raises(DomainError):
        lead_reassign(lead=lead, partner=gone, reason="Because", actor=SYSTEM)
    assert not AuditEntry.objects.filter(action="lead.reassign").exists()


# --- pre-qualification --------------------------------------------------------------------

def test_a_prequalify_rule_holds_leads_for_review_then_routes_or_rejects(tenant, manager_a):
    partner = PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"name": "Check first", "conditions": GERMANY,
                                    "prequalify": True})
    passed, rejected = intake(tenant), intake(tenant)
    for lead in (passed, rejected):
        assert status_of(lead) == LeadStatus.IN_REVIEW and open_offers(lead) == []
        assert lead.decisions.get().kind == DecisionKind.REVIEW
        assert event_kinds(lead) == ["created", "in_review"]
    actor = Actor.for_user(manager_a.user)

    lead_review_release(lead=passed, actor=actor)
    with pytest.raises(DomainError):
        lead_reject(lead=rejected, reason=" ", actor=actor)
    lead_reject(lead=rejected, reason="A student project", actor=actor)

    assert status_of(passed) == LeadStatus.OFFERED
    assert the_open_offer(passed).partner == partner
    assert the_open_offer(passed).decision.kind == DecisionKind.RULE
    assert event_kinds(passed)[-2:] == ["review_passed", "offered"]
    rejected.refresh_from_db()
    assert rejected.status == LeadStatus.REJECTED and rejected.lost_reason == "A student project"
    with pytest.raises(Conflict):
        lead_review_release(lead=rejected, actor=actor)
    with pytest.raises(Conflict):
        lead_reject(lead=passed, reason="Too late", actor=actor)


@pytest.mark.parametrize("how", ["decline", "release"])
def test_a_reviewed_lead_passed_on_by_its_partner_goes_to_the_next_partner(tenant, how):
    """Once a manager let the lead in, a decline or a release routes it to the next
    eligible partner at once (services.py: "the next offer exists when the call returns"),
    not back into the review queue."""
    for _ in range(2):
        PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"name": "Check first", "conditions": GERMANY,
                                    "prequalify": True})
    lead = intake(tenant)
    lead_review_release(lead=lead, actor=SYSTEM)
    offer = the_open_offer(lead)

    if how == "decline":
        offer_decline(offer=offer, reason="outside_region", actor=SYSTEM)
    else:
        offer_accept(offer=offer, actor=SYSTEM)
        lead_release(lead=lead, partner=offer.partner, reason="No time", actor=SYSTEM)

    assert status_of(lead) == LeadStatus.OFFERED, event_kinds(lead)
    assert the_open_offer(lead).partner_id != offer.partner_id


# --- capacity, share cap, absence ---------------------------------------------------------

def test_a_partner_at_capacity_is_skipped(tenant):
    full = PartnerFactory(tenant=tenant, name="Full", capacity=1)
    free = PartnerFactory(tenant=tenant, name="Free")
    routing_rules_activate(tenant, {"conditions": GERMANY, "strategy": "round_robin"})
    first = intake(tenant)
    assert the_open_offer(first).partner == full  # lowest id first; now at capacity

    skipped = []
    for _ in range(3):
        lead = intake(tenant)
        assert the_open_offer(lead).partner == free
        skipped.append(lead.decisions.get().trace.get("skipped"))
    # Round robin records the partners it walks past: `full` whenever its turn came.
    assert skipped == [None, [[full.pk, "capacity"]], [[full.pk, "capacity"]]]

    # An accepted, open lead still counts; a declined offer frees the place.
    offer_accept(offer=the_open_offer(first), actor=SYSTEM)
    assert the_open_offer(intake(tenant)).partner == free
    lead_release(lead=first, partner=full, reason="Too busy", actor=SYSTEM)
    assert the_open_offer(first).partner == free
    assert the_open_offer(intake(tenant)).partner == full


def test_a_partner_with_capacity_1_and_no_open_offer_gets_the_next_lead(tenant):
    capped = PartnerFactory(tenant=tenant, capacity=1)
    other = PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"conditions": GERMANY, "strategy": "open_pool"})
    lead = intake(tenant)
    assert sorted(o.partner_id for o in open_offers(lead)) == sorted([capped.pk, other.pk])
    offer_decline(offer=next(o for o in open_offers(lead) if o.partner_id == capped.pk),
                  reason="no_capacity", actor=SYSTEM)
    assert sorted(o.partner_id for o in open_offers(intake(tenant))) == sorted(
        [capped.pk, other.pk])


def test_a_share_cap_holds_a_partner_to_its_share(tenant):
    a, b = PartnerFactory(tenant=tenant), PartnerFactory(tenant=tenant, paused=True)
    routing_rules_activate(tenant, {"conditions": GERMANY, "strategy": "round_robin",
                                    "share_cap_percent": 50})
    assert the_open_offer(intake(tenant)).partner == a  # the first lead may go anywhere
    # With this one, two decisions: a may hold one (50%); b is paused.
    held_back = intake(tenant)
    assert status_of(held_back) == LeadStatus.UNASSIGNED
    assert held_back.decisions.get().trace["skipped"] == [[a.pk, "share_cap"]]
    partner_update(partner=b, changes={"paused": False}, tags=None, actor=SYSTEM)
    got = [the_open_offer(intake(tenant)).partner for _ in range(6)]
    # Every lead's decision counts; a never holds more than half of them.
    decisions = Counter(Decision.objects.filter(tenant=tenant).values_list("partner_id",
                                                                          flat=True))
    assert decisions[a.pk] <= sum(decisions.values()) / 2 + 0.5
    assert set(got) == {a, b}


def test_a_partner_out_of_office_today_is_skipped(tenant):
    away = PartnerFactory(tenant=tenant, name="Away")
    here = PartnerFactory(tenant=tenant, name="Here")
    routing_rules_activate(tenant, {"conditions": GERMANY})
    today = timezone.localdate()
    OutOfOfficeFactory(partner=away, starts_on=today - datetime.timedelta(days=1),
                       ends_on=today + datetime.timedelta(days=1))
    for _ in range(3):
        lead = intake(tenant)
        assert the_open_offer(lead).partner == here
        assert [away.pk, "away"] in lead.decisions.get().trace["skipped"]
    lines = decision_explain(decision=lead.decisions.get())["lines"]
    assert "Skipped Away: out of office." in lines


def test_an_absence_in_the_past_or_future_does_not_skip(tenant):
    partner = PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"conditions": GERMANY})
    today = timezone.localdate()
    OutOfOfficeFactory(partner=partner, starts_on=today - datetime.timedelta(days=9),
                       ends_on=today - datetime.timedelta(days=2))
    OutOfOfficeFactory(partner=partner, starts_on=today + datetime.timedelta(days=2),
                       ends_on=today + datetime.timedelta(days=9))
    assert the_open_offer(intake(tenant)).partner == partner


# --- registration and protection -----------------------------------------------------------

def test_a_registration_without_conflict_is_held_and_protected(tenant, four):
    Tenant.objects.filter(pk=tenant.pk).update(protection_days=30)
    tenant.refresh_from_db()
    registrant = four[2]

    lead = lead_register(tenant=tenant, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "cio@freshco.example", "company_name": "FreshCo", "country": "DE"})

    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner == registrant
    assert lead.source_kind == "partner"
    account = Account.objects.get(pk=lead.account_id)
    assert account.owner == registrant
    expected = timezone.now() + datetime.timedelta(days=30)
    assert abs((account.protected_until - expected).total_seconds()) < 60
    (offer,) = Offer.objects.filter(lead=lead)
    assert offer.status == OfferStatus.ACCEPTED and offer.partner == registrant
    assert offer.decision.kind == DecisionKind.REGISTERED
    assert decision_why(decision=offer.decision) == "You registered this lead."
    assert event_kinds(lead) == ["created", "registered"]


def test_a_registration_conflicting_with_another_partners_open_lead_waits(tenant, four,
                                                                         manager_a):
    existing = intake(tenant, contact_email="anna@oldco.example")
    holder = the_open_offer(existing).partner
    registrant = next(p for p in four if p != holder)

    lead = lead_register(tenant=tenant, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "anna@oldco.example", "company_name": "OldCo"})

    assert lead.status == LeadStatus.CONFLICT
    decision = lead.decisions.get()
    assert decision.kind == DecisionKind.REGISTERED and decision.partner is None
    assert decision.trace["registered_by"] == registrant.pk
    assert decision.trace["conflicts"] == [existing.pk]
    assert event_kinds(lead) == ["created", "conflict"]
    assert not Offer.objects.filter(lead=lead).exists()

    lead_conflict_resolve(lead=lead, actor=Actor.for_user(manager_a.user))

    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED and lead.partner == registrant
    assert Offer.objects.get(lead=lead).status == OfferStatus.ACCEPTED
    account = Account.objects.get(pk=lead.account_id)
    assert account.owner == registrant and account.protected_until > timezone.now()
    with pytest.raises(Conflict):
        lead_conflict_resolve(lead=lead, actor=SYSTEM)


def test_a_registration_over_a_lead_offered_to_the_registrant_itself_is_no_conflict(
        tenant, four):
    """lead_register's helper looks for open leads "held or offered elsewhere": a lead
    whose only open offer is the registering partner's own is not elsewhere."""
    existing = intake(tenant, contact_email="ben@sameco.example")
    own = the_open_offer(existing).partner

    lead = lead_register(tenant=tenant, partner=own, actor=SYSTEM, fields={
        "contact_email": "ben@sameco.example", "company_name": "SameCo"})

    assert lead.status == LeadStatus.ACCEPTED and lead.partner == own


@pytest.mark.parametrize("channel", ["api", "intake"])
def test_while_protected_a_new_inquiry_of_the_company_goes_to_the_protecting_partner(
        tenant, four, api, channel):
    registrant = four[3]
    lead_register(tenant=tenant, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "cto@guarded.example", "company_name": "Guarded", "country": "DE"})
    fields = {"contact_email": "buyer@guarded.example", "company_name": "Guarded GmbH",
              "country": "DE"}
    if channel == "api":
        response = api.post("/api/v1/leads/", fields)
        assert response.status_code == 201, response.content
        later = Lead.objects.get(tenant=tenant, email_key="buyer@guarded.example")
    else:
        later = lead_intake(tenant=tenant, fields=fields, actor=SYSTEM)

    offer = the_open_offer(later)
    assert offer.partner == registrant
    decision = offer.decision
    assert decision.kind == DecisionKind.ACCOUNT
    assert decision.trace["account"] == [registrant.pk, "protected", "chosen"]
    assert decision_why(decision=decision) == "You protect this customer's account."
    assert decision_explain(decision=decision)["lines"] == [
        f"The customer's account is protected for {registrant.name}.",
        f"Chosen: {registrant.name}."]


def test_after_the_protection_ends_the_rules_decide_again(tenant, four):
    registrant = four[3]
    lead = lead_register(tenant=tenant, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "cto@expired.example", "company_name": "Expired", "country": "DE"})
    Account.objects.filter(pk=lead.account_id).update(
        protected_until=timezone.now() - datetime.timedelta(minutes=1))
    # The owner is still recorded, and the new lead is a duplicate of the account's lead:
    # the account holder keeps it as a duplicate, not as protected.
    later = intake(tenant, contact_email="ceo@expired.example")
    decision = the_open_offer(later).decision
    assert decision.kind == DecisionKind.ACCOUNT
    assert decision.trace["account"] == [registrant.pk, "duplicate", "chosen"]


def test_a_paused_protecting_partner_is_skipped_and_the_rules_decide(tenant, four):
    registrant = four[3]
    lead_register(tenant=tenant, partner=registrant, actor=SYSTEM, fields={
        "contact_email": "cto@paused.example", "company_name": "PausedCo", "country": "DE"})
    partner_update(partner=registrant, changes={"paused": True}, tags=None, actor=SYSTEM)
    later = intake(tenant, contact_email="ceo@paused.example")
    offer = the_open_offer(later)
    assert offer.partner != registrant and offer.decision.kind == DecisionKind.RULE
    assert offer.decision.trace["account"] == [registrant.pk, "protected", "paused"]


# --- duplicates ---------------------------------------------------------------------------

def test_a_duplicate_of_an_accepted_lead_goes_to_its_partner(tenant, four):
    first = intake(tenant, contact_email="maria@dupco.example")
    offer = the_open_offer(first)
    offer_accept(offer=offer, actor=SYSTEM)

    again = intake(tenant, contact_email="Maria@DupCo.example")

    assert again.duplicate_of_id == first.pk
    dup_offer = the_open_offer(again)
    assert dup_offer.partner_id == offer.partner_id
    assert dup_offer.decision.kind == DecisionKind.ACCOUNT
    assert dup_offer.decision.trace["account"] == [offer.partner_id, "duplicate", "chosen"]
    assert decision_why(decision=dup_offer.decision) == "You already work with this customer."


def test_a_duplicate_by_a_free_mail_address_goes_to_the_partner_of_the_original(tenant,
                                                                                four):
    """Same person, same email, but a free-mail address: there is no customer account, only
    the duplicate link (README: "a duplicate of a lead whose account a partner holds")."""
    first = intake(tenant, contact_email="maria.huber@gmail.com")
    assert first.account_id is None
    offer = the_open_offer(first)
    offer_accept(offer=offer, actor=SYSTEM)

    again = intake(tenant, contact_email="maria.huber@gmail.com")

    assert again.duplicate_of_id == first.pk
    dup_offer = the_open_offer(again)
    assert dup_offer.partner_id == offer.partner_id, dup_offer.decision.trace
    assert dup_offer.decision.kind == DecisionKind.ACCOUNT


# --- nobody ---------------------------------------------------------------------------------

def test_without_rules_a_lead_is_unassigned_with_a_decision(tenant):
    PartnerFactory(tenant=tenant)
    lead = intake(tenant)
    assert status_of(lead) == LeadStatus.UNASSIGNED and open_offers(lead) == []
    decision = lead.decisions.get()
    assert decision.kind == DecisionKind.UNASSIGNED and decision.partner is None
    assert decision.rule is None and decision.rule_lineage is None
    assert decision.trace["rules"] == [] and decision.trace["chosen"] == []
    assert event_kinds(lead) == ["created", "unassigned"]
    assert decision_explain(decision=decision)["lines"] == [
        "No eligible partner: the lead waits in the unassigned queue."]


def test_a_lead_no_rule_matches_is_unassigned_and_the_trace_names_the_field(tenant, four):
    lead = intake(tenant, country="FR")
    decision = lead.decisions.get()
    assert decision.kind == DecisionKind.UNASSIGNED
    rule = RoutingRule.objects.get(rule_set__status=RuleSetStatus.ACTIVE, tenant=tenant)
    assert decision.trace["rules"] == [[rule.pk, "country"]]
    assert decision_explain(decision=decision)["lines"][0] == (
        "Rule “Germany” did not match (country).")


# --- versions -------------------------------------------------------------------------------

def test_editing_a_live_rule_makes_a_draft_and_activation_retires_the_old_version(tenant,
                                                                                 four):
    live = RuleSet.objects.get(tenant=tenant, status=RuleSetStatus.ACTIVE)
    live_rule = live.rules.get()
    routed_before = intake(tenant)
    old_decision = routed_before.decisions.get()

    edited = rule_update(rule=live_rule, data={
        "name": "Austria", "conditions": [{"field": "country", "op": "eq", "value": "AT"}]},
        actor=SYSTEM)

    draft = RuleSet.objects.get(tenant=tenant, status=RuleSetStatus.DRAFT)
    assert draft.version == live.version + 1 and edited.rule_set == draft
    assert edited.pk != live_rule.pk and edited.lineage == live_rule.lineage
    live.refresh_from_db()
    live_rule.refresh_from_db()
    assert live.status == RuleSetStatus.ACTIVE
    assert live_rule.name == "Germany" and live_rule.conditions == GERMANY
    # Traffic still runs on the live version.
    assert status_of(intake(tenant)) == LeadStatus.OFFERED
    assert status_of(intake(tenant, country="AT")) == LeadStatus.UNASSIGNED

    ruleset_activate(tenant=tenant, actor=SYSTEM, note="Austria only")

    live.refresh_from_db()
    draft.refresh_from_db()
    assert live.status == RuleSetStatus.RETIRED and draft.status == RuleSetStatus.ACTIVE
    assert status_of(intake(tenant)) == LeadStatus.UNASSIGNED
    assert status_of(intake(tenant, country="AT")) == LeadStatus.OFFERED
    # The old version stays readable, and so do the decisions made under it.
    assert list(live.rules.values_list("name", "conditions")) == [("Germany", GERMANY)]
    old_decision.refresh_from_db()
    assert old_decision.rule_id == live_rule.pk and old_decision.trace["v"] == live.version
    assert decision_explain(decision=old_decision)["lines"][0] == "Rule “Germany” matched."
    assert ruleset_draft(tenant=tenant, actor=SYSTEM).version == draft.version + 1


def test_a_rules_rotation_continues_across_versions(tenant, four):
    got = [the_open_offer(intake(tenant)).partner for _ in range(2)]
    assert got == four[:2]
    rule_update(rule=RoutingRule.objects.get(rule_set__status=RuleSetStatus.ACTIVE,
                                             tenant=tenant),
                data={"name": "Germany (renamed)"}, actor=SYSTEM)
    ruleset_activate(tenant=tenant, actor=SYSTEM)
    got = [the_open_offer(intake(tenant)).partner for _ in range(3)]
    assert got == [four[2], four[3], four[0]]


# --- the configuration cache ----------------------------------------------------------------

def test_pausing_a_partner_bumps_the_config_version_and_the_next_lead_skips_it(tenant, four):
    assert the_open_offer(intake(tenant)).partner == four[0]  # inputs now cached
    version = Tenant.objects.get(pk=tenant.pk).config_version

    partner_update(partner=four[1], changes={"paused": True, "paused_reason": "Trade fair"},
                   tags=None, actor=SYSTEM)

    assert Tenant.objects.get(pk=tenant.pk).config_version > version
    lead = intake(tenant)
    assert the_open_offer(lead).partner == four[2]
    assert lead.decisions.get().trace["static"] == {"paused": 1}
    got = {the_open_offer(intake(tenant)).partner for _ in range(6)}
    assert four[1] not in got

    partner_update(partner=four[1], changes={"paused": False}, tags=None, actor=SYSTEM)
    got = [the_open_offer(intake(tenant)).partner for _ in range(4)]
    assert four[1] in got


def test_a_new_absence_takes_effect_for_the_next_lead(tenant, four):
    intake(tenant)  # inputs now cached
    today = timezone.localdate()
    for partner in four[1:]:
        OutOfOfficeFactory(partner=partner, starts_on=today, ends_on=today)
    assert {the_open_offer(intake(tenant)).partner for _ in range(3)} == {four[0]}


# --- the sweeper ----------------------------------------------------------------------------

def test_the_sweeper_routes_leads_waiting_past_the_grace_period_once(tenant, four, settings):
    settings.ROUTE_ON_CREATE = False
    old, fresh = intake(tenant), intake(tenant)
    assert status_of(old) == status_of(fresh) == LeadStatus.RECEIVED
    Lead.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=2))

    assert leads_route_pending() == 1
    assert status_of(old) == LeadStatus.OFFERED and len(open_offers(old)) == 1
    assert status_of(fresh) == LeadStatus.RECEIVED  # still within the grace period

    assert leads_route_pending() == 0  # idempotent
    assert Decision.objects.filter(lead=old).count() == 1
    assert leads_route_pending(grace=datetime.timedelta(0)) == 1
    assert leads_route_pending(grace=datetime.timedelta(0)) == 0
    assert status_of(fresh) == LeadStatus.OFFERED
    assert Offer.objects.filter(lead__in=[old, fresh]).count() == 2


def test_the_sweeper_leaves_leads_in_other_states_alone(tenant, four, settings):
    routed = intake(tenant)
    held = lead_create(tenant=tenant, actor=SYSTEM, fields={"contact_email": "h@h.example"})
    Lead.objects.filter(pk=held.pk).update(status=LeadStatus.HELD)
    Lead.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    assert leads_route_pending() == 0
    assert Decision.objects.filter(lead=routed).count() == 1


# --- decisions in words -----------------------------------------------------------------------

def test_decision_explain_and_why_name_the_rule(tenant):
    full = PartnerFactory(tenant=tenant, name="Full Partner", capacity=0)
    chosen = PartnerFactory(tenant=tenant, name="Chosen Partner")
    PartnerFactory(tenant=tenant, name="Untagged")
    partner_tags_set(partner=full, labels=["vertical:erp"], actor=SYSTEM)
    partner_tags_set(partner=chosen, labels=["vertical:ERP"], actor=SYSTEM)
    routing_rules_activate(
        tenant,
        {"name": "Austria", "conditions": [{"field": "country", "op": "eq", "value": "AT"}]},
        {"name": "German ERP", "conditions": GERMANY, "required_tags": ["vertical:erp"]})
    lead = intake(tenant)
    decision = the_open_offer(lead).decision

    explained = decision_explain(decision=decision)
    assert explained["kind"] == "rule"
    assert explained["lines"] == [
        "Rule “Austria” did not match (country).",
        "Rule “German ERP” matched.",
        "Ruled out by the rule's requirements: required tags: 1.",
        "Skipped Full Partner: at capacity.",
        "Chosen: Chosen Partner.",
    ]
    assert decision_why(decision=decision) == (
        "It matches “German ERP”, and it was your turn in the rotation of 2 partners that "
        "qualify.")


def test_decision_why_for_a_weighted_rule_and_an_open_pool(tenant):
    partners = [PartnerFactory(tenant=tenant) for _ in range(3)]
    routing_rules_activate(
        tenant,
        {"name": "Weighted DE", "conditions": GERMANY, "strategy": "weighted"},
        {"name": "Pool AT", "conditions": [{"field": "country", "op": "eq", "value": "AT"}],
         "strategy": "open_pool"})
    weighted = the_open_offer(intake(tenant)).decision
    assert decision_why(decision=weighted) == (
        "It matches “Weighted DE”, and it was your weighted turn among 3 eligible partners.")
    pooled = open_offers(intake(tenant, country="AT"))
    assert len(pooled) == len(partners)
    assert decision_why(decision=pooled[0].decision) == (
        "Offered to 3 partners at once: the first to accept gets it.")


def test_decision_explain_for_review(tenant):
    PartnerFactory(tenant=tenant)
    routing_rules_activate(tenant, {"name": "Check", "conditions": GERMANY,
                                    "prequalify": True})
    lines = decision_explain(decision=intake(tenant).decisions.get())["lines"]
    assert lines == ["Rule “Check” matched.", "Waiting for pre-qualification by a manager."]
