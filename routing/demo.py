"""Demo routing rules for Northwind (part of `manage.py seed_demo`): region, vertical,
language, tier, a named account, an open pool and pre-qualification, then the demo leads
are routed through them so every lead has its offer and trace. Idempotent."""

from escalation.models import BusinessCalendar, SlaAction, SlaCount, SlaPolicy, SlaStep
from leads.models import Lead, LeadStatus
from partners.models import Partner
from routing.models import DeclineReason, Offer, OfferStatus, RuleSet
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_route, offer_accept, offer_decline
from tenancy.actors import Actor
from tenancy.models import Tenant


def _rules(partner_ids: dict[str, int]) -> list[dict]:
    return [
        {"name": "Named account: Fischer Logistik", "strategy": "named_accounts",
         "named_accounts": {"domains": {"fischer-logistik.de": partner_ids["P-RHEINRUHR"]}}},
        {"name": "Large manufacturing deals in DACH go to Gold partners",
         "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT", "CH"]},
                        {"field": "industry", "op": "eq", "value": "manufacturing"},
                        {"field": "deal_size", "op": "range", "min": "40000"}],
         "required_tags": ["vertical:manufacturing-erp"], "min_tier_rank": 1,
         "strategy": "weighted", "share_cap_percent": 60, "share_cap_days": 30},
        {"name": "Bavaria manufacturing", "strategy": "round_robin",
         "conditions": [{"field": "region", "op": "eq", "value": "DE-BY"},
                        {"field": "industry", "op": "eq", "value": "manufacturing"}],
         "required_tags": ["region:de-by", "vertical:manufacturing-erp"]},
        {"name": "Austria manufacturing", "strategy": "round_robin",
         "conditions": [{"field": "country", "op": "eq", "value": "AT"},
                        {"field": "industry", "op": "eq", "value": "manufacturing"}],
         "required_tags": ["region:at"],
         "any_tag_groups": [["vertical:manufacturing-erp", "vertical:wholesale"]],
         "fallback_partners": [partner_ids["P-WIEN"]]},
        {"name": "German wholesale by tier", "strategy": "weighted",
         "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT"]},
                        {"field": "industry", "op": "eq", "value": "wholesale"}],
         "required_tags": ["vertical:wholesale", "language:de"],
         "tier_weights": {"1": 3, "2": 2, "3": 1}},
        {"name": "Swiss German-speaking leads", "strategy": "performance",
         "conditions": [{"field": "country", "op": "eq", "value": "CH"},
                        {"field": "language", "op": "eq", "value": "de"}],
         "required_tags": ["region:ch", "language:de"]},
        {"name": "Food and beverage: open pool", "strategy": "open_pool",
         "conditions": [{"field": "industry", "op": "eq", "value": "food-beverage"}],
         "required_tags": ["vertical:food-beverage"]},
        {"name": "Everything else: pre-qualify, then Gold partners", "strategy": "round_robin",
         "prequalify": True, "min_tier_rank": 1},
    ]


def _sla_policies(tenant: Tenant) -> SlaPolicy:
    """The vendor's default policy in business hours, and a fast one for watching the
    sweeper at work in the demo (returned)."""
    BusinessCalendar.objects.get_or_create(
        tenant=tenant, name="Head office", defaults={
            "is_default": True, "time_zone": tenant.time_zone,
            "holidays": ["2026-12-24", "2026-12-25", "2026-12-26", "2027-01-01"]})
    standard, created = SlaPolicy.objects.get_or_create(
        tenant=tenant, name="Standard", defaults={"is_default": True})
    if created:
        for position, (minutes, action) in enumerate(
                [(4 * 60, SlaAction.REMIND), (8 * 60, SlaAction.NOTIFY),
                 (16 * 60, SlaAction.REASSIGN)]):
            SlaStep.objects.create(tenant=tenant, policy=standard, position=position,
                                   after_minutes=minutes, action=action)
    fast, created = SlaPolicy.objects.get_or_create(
        tenant=tenant, name="Demo: answer within minutes",
        defaults={"count": SlaCount.WALL_CLOCK, "expiry_streak_notify": 3})
    if created:
        for position, (minutes, action) in enumerate(
                [(2, SlaAction.REMIND), (4, SlaAction.REASSIGN)]):
            SlaStep.objects.create(tenant=tenant, policy=fast, position=position,
                                   after_minutes=minutes, action=action)
    return fast


def demo_routing_seed(*, northwind: Tenant) -> int:
    """Create and activate the demo rules once, then route every demo lead still waiting."""
    actor = Actor(label="demo data")
    fast = _sla_policies(northwind)
    if not RuleSet.objects.for_tenant(northwind).exists():
        partner_ids = dict(Partner.objects.for_tenant(northwind)
                           .values_list("external_id", "pk"))
        for data in _rules(partner_ids):
            if data["name"] == "Bavaria manufacturing":
                # Its offers (to Alpine IT, Anna's partner) remind after 2 minutes and move
                # on after 4: watch the console for the emails.
                data = {**data, "sla_policy": fast}
            rule_create(tenant=northwind, data=data, actor=actor)
        ruleset_activate(tenant=northwind, actor=actor, note="Demo rules")
    routed = 0
    for lead in Lead.objects.for_tenant(northwind).filter(
            status=LeadStatus.RECEIVED).order_by("created_at", "id"):
        lead_route(lead=lead, actor=actor)
        routed += 1
    if routed:
        # Partners answered two offers: one accepted, one declined and passed on.
        _answer(northwind, "DEMO-1005", lambda offer: offer_accept(offer=offer, actor=actor))
        _answer(northwind, "DEMO-1002", lambda offer: offer_decline(
            offer=offer, reason=DeclineReason.NO_CAPACITY, actor=actor))
    return routed


def _answer(tenant: Tenant, external_id: str, respond) -> None:
    offer = Offer.objects.filter(lead__tenant=tenant, lead__external_id=external_id,
                                 status=OfferStatus.OPEN).first()
    if offer is not None:
        respond(offer)
