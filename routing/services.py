"""Routing transitions: the only place offers change and a lead moves through routing.

Each public function runs in one transaction: it locks the lead's row (leads/services.py
`lead_lock`), checks the state, writes the change and its LeadEvent (the outbox row). Lock
order, everywhere: lead, then the rule's rotation position, then partner rows. A decline or
release routes the lead again inside the same transaction, so the next offer exists when the
call returns.
"""

import dataclasses
import datetime
import logging
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.sla import FOLLOWUP_FIELDS, followup_start, offer_sla_start
from leads.models import CLOSED_STATUSES, Account, Lead, LeadEventKind, LeadStatus, SourceKind
from leads.services import Conflict, event_write, lead_create, lead_lock
from partners.models import Partner
from routing import engine
from routing.inputs import engine_config, lead_facts, live_counts, partner_load
from routing.models import (
    PASSED_STATUSES,
    Decision,
    DecisionKind,
    DeclineReason,
    Offer,
    OfferStatus,
    RotationPosition,
)
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.models import Tenant
from tenancy.services import audit_record

logger = logging.getLogger(__name__)

# Statuses a lead is routed from: new, back from review, or retried after no partner fit.
ROUTABLE_STATUSES = frozenset({LeadStatus.RECEIVED, LeadStatus.UNASSIGNED})
# Statuses a manager may reassign from.
REASSIGNABLE_STATUSES = frozenset({LeadStatus.OFFERED, LeadStatus.UNASSIGNED,
                                   LeadStatus.ACCEPTED, LeadStatus.IN_REVIEW})
# A partner whose capacity filled up between loading counts and locking its row is skipped
# and the decision made again; more rounds than this means something is badly off.
MAX_DECISION_ROUNDS = 5


def _partner_from_facts(facts: engine.PartnerFacts, tenant_id: int) -> Partner:
    """The partner as offers and their readers need it, from the cached facts (no query)."""
    return Partner(id=facts.id, tenant_id=tenant_id, public_id=uuid.UUID(facts.public_id),
                   name=facts.name, external_id=facts.external_id)


def _facts_ref(partner: engine.PartnerFacts) -> dict:
    return {"id": partner.public_id, "name": partner.name, "external_id": partner.external_id}


def partner_ref(partner: Partner) -> dict:
    return {"id": str(partner.public_id), "name": partner.name,
            "external_id": partner.external_id}


# --- routing ----------------------------------------------------------------------------------

def lead_route(*, lead: Lead, actor: Actor = SYSTEM, reviewed: bool = False) -> Lead:
    """Route a received (or unassigned) lead: an offer to one partner (or to every eligible
    partner of an open pool), the pre-qualification queue, or the unassigned queue."""
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status not in ROUTABLE_STATUSES:
            raise Conflict(
                _("Only a received or unassigned lead can be routed; this one is %(status)s.")
                % {"status": current.get_status_display()}, code="lead_not_routable")
        return _route_locked(current, actor, reviewed=reviewed)


def _passed_partners(lead: Lead) -> frozenset[int]:
    return frozenset(Offer.objects.filter(lead=lead, status__in=PASSED_STATUSES)
                     .values_list("partner_id", flat=True))


def _rotation_lock(tenant_id: int, lineage: str) -> RotationPosition:
    rows = RotationPosition.objects.select_for_update().filter(tenant_id=tenant_id,
                                                               lineage=lineage)
    row = rows.first()
    if row is None:
        # A rule's first lead: insert-if-missing, then lock, so two workers meeting a new
        # rule at once both end up on the one row.
        RotationPosition.objects.bulk_create(
            [RotationPosition(tenant_id=tenant_id, lineage=lineage)], ignore_conflicts=True)
        row = rows.get()
    return row


def _capacity_confirm(tenant: Tenant, config, chosen: list[int]) -> dict[int, int]:
    """Lock the chosen partners that have a capacity and count their load again under the
    lock. Returns the partners now at capacity, with their load (empty: all fine)."""
    capped = sorted(p for p in chosen if config.partners[p].capacity is not None)
    if not capped:
        return {}
    list(Partner.objects.select_for_update().filter(pk__in=capped).order_by("pk")
         .values_list("pk", flat=True))
    load = partner_load(tenant=tenant, partner_ids=capped)
    return {p: load.get(p, 0) for p in capped
            if load.get(p, 0) >= config.partners[p].capacity}


def _route_locked(lead: Lead, actor: Actor, *, reviewed: bool = False,
                  fresh: bool = False, tenant_row_fresh: bool = True) -> Lead:
    """Decide and record, with the lead's row locked by the caller. `fresh`: no partner
    has passed on the lead yet; `tenant_row_fresh`: lead.tenant was loaded in this
    transaction (by lead_lock), so its config_version is current."""
    tenant = lead.tenant
    config = engine_config(tenant=tenant, version_is_fresh=tenant_row_fresh)
    now = timezone.now()
    facts = lead_facts(lead=lead, now=now)
    excluded = frozenset() if fresh else _passed_partners(lead)
    if not fresh and not reviewed:
        # A lead a manager let through pre-qualification is not reviewed again when a partner
        # declines, lets expire or releases it.
        reviewed = Decision.objects.filter(lead=lead, kind=DecisionKind.REVIEW).exists()
    matched = engine.rule_match(facts, config.rules)
    rule = matched[0]
    rotation_row = None
    if rule is not None and (rule.fallback or rule.strategy in (
            "round_robin", "weighted", "performance")):
        rotation_row = _rotation_lock(tenant.pk, rule.lineage)
    candidates = set(rule.candidates + rule.fallback) if rule else set()
    candidates.update(p for p in (facts.account_owner_id,) if p)
    if rule is not None and rule.strategy == "named_accounts":
        candidates.update(rule.named_domains.values())
        candidates.update(rule.named_crm_ids.values())
    live = live_counts(tenant=tenant, config=config, rule=rule, candidate_ids=candidates,
                       now=now)
    today = timezone.localdate(now, timezone=_zone(tenant))
    for _round in range(MAX_DECISION_ROUNDS):
        outcome = engine.decide(facts, config.rules, config.partners, live, excluded=excluded,
                                rotation=rotation_row.state if rotation_row else None,
                                today=today, reviewed=reviewed, matched=matched)
        full = _capacity_confirm(tenant, config, outcome.chosen)
        if not full:
            break
        live = dataclasses.replace(live, load={**live.load, **full})
    else:
        raise DomainError(_("Routing could not settle on a partner; try again."),
                          code="routing_unsettled")
    outcome.trace["v"] = config.rule_set_version
    if rotation_row is not None and outcome.rotation is not None:
        keep = {str(p) for p in outcome.rule.candidates} if outcome.rule else set()
        state = dict(outcome.rotation)
        if "wf2q" in state:  # partners that left the rule drop out of the rotation
            wf2q = state["wf2q"]
            state["wf2q"] = {**wf2q, "p": {k: v for k, v in wf2q["p"].items() if k in keep}}
        rotation_row.state = state
        rotation_row.decisions += 1
        rotation_row.updated_at = now
        rotation_row.save(update_fields=["state", "decisions", "updated_at"])
    return _decision_record(lead, outcome, actor, now)


def _zone(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.time_zone or "UTC")


def _decision_record(lead: Lead, outcome: engine.Outcome, actor: Actor,
                     now: datetime.datetime) -> Lead:
    rule = outcome.rule
    decision = Decision.objects.create(
        tenant_id=lead.tenant_id, lead=lead, kind=outcome.kind,
        rule_id=rule.id if rule else None, rule_lineage=rule.lineage if rule else None,
        partner_id=outcome.chosen[0] if len(outcome.chosen) == 1 else None,
        trace=outcome.trace, created_at=now,
    )
    previous = lead.status
    lead.updated_at = now
    lead.current_offers = []
    if outcome.kind == DecisionKind.REVIEW:
        lead.status = LeadStatus.IN_REVIEW
        lead.save(update_fields=["status", "updated_at"])
        event_write(lead, LeadEventKind.IN_REVIEW, actor, from_status=previous,
                    to_status=lead.status,
                    data={"decision": decision.pk, "rule": rule.name if rule else None})
        return lead
    if not outcome.chosen:
        lead.status = LeadStatus.UNASSIGNED
        lead.save(update_fields=["status", "updated_at"])
        event_write(lead, LeadEventKind.UNASSIGNED, actor, from_status=previous,
                    to_status=lead.status,
                    data={"decision": decision.pk, "rule": rule.name if rule else None})
        return lead
    is_pool = rule is not None and rule.strategy == "open_pool" and outcome.kind == "rule"
    partners = engine_config(tenant=lead.tenant, version_is_fresh=True).partners
    offers = Offer.objects.bulk_create([
        Offer(tenant_id=lead.tenant_id, lead=lead, decision=decision,
              partner=_partner_from_facts(partners[partner_id], lead.tenant_id),
              rule_id=rule.id if rule else None, is_pool=is_pool, offered_at=now,
              **offer_sla_start(tenant=lead.tenant, partner_id=partner_id, offered_at=now,
                                policy_id=rule.sla_policy_id if rule else None))
        for partner_id in outcome.chosen
    ])
    lead.current_offers = offers  # as routing.selectors.current_offers() would prefetch
    lead.status = LeadStatus.OFFERED
    lead.save(update_fields=["status", "updated_at"])
    event_write(lead, LeadEventKind.OFFERED, actor, from_status=previous, to_status=lead.status,
                data={"decision": decision.pk, "kind": outcome.kind,
                      "rule": rule.name if rule else None, "pool": is_pool,
                      "partners": [_facts_ref(partners[p]) for p in outcome.chosen]})
    return lead


def lead_intake(*, tenant: Tenant, fields: dict, actor: Actor) -> Lead:
    """Create one lead and route it in the same request, so the answer holds its offer.

    One transaction: the lead is new, so nobody else can see or lock it yet, and one commit
    is saved. Routing runs in a savepoint: if it fails, the lead is kept in `received` and
    the routing sweeper (`leads_route_pending`) picks it up.
    """
    with transaction.atomic():
        lead = lead_create(tenant=tenant, fields=fields, actor=actor)
        if lead.status != LeadStatus.RECEIVED or not settings.ROUTE_ON_CREATE:
            lead.current_offers = []  # not routed (yet): no offers to read back
            return lead
        try:
            with transaction.atomic():
                # Created a moment ago: no partner can have passed on it yet.
                return _route_locked(lead, actor, fresh=True, tenant_row_fresh=False)
        except Exception:
            logger.exception("Routing lead %s failed; the sweeper will retry", lead.pk)
            lead.current_offers = []
            return lead


def leads_route_soon(*, lead_ids: list[int]) -> None:
    """After the current transaction commits, ask a worker to route these leads (a bulk
    create answers at once). A broker error is logged; the sweeper routes them then."""
    from routing.tasks import leads_route_task

    def publish():
        try:
            leads_route_task.apply_async(args=[lead_ids], retry=False)
        except Exception:  # noqa: BLE001 - any broker failure: the sweeper covers it
            logger.warning("routing publish failed; the sweeper will route", exc_info=True)

    if lead_ids:
        transaction.on_commit(publish)


# Leads in `received` for longer than this are routed by the sweeper (a bulk create's
# after-commit task, or a single create whose routing failed, normally gets there first).
PENDING_GRACE = datetime.timedelta(seconds=20)


def leads_route_pending(*, limit: int = 200, lead_ids: list[int] | None = None,
                        grace: datetime.timedelta = PENDING_GRACE) -> int:
    """Route received leads: the given ones, or those waiting longer than the grace period.

    Steps: pick candidates (oldest first); route each in its own transaction, where
    lead_route's row lock and state check make a lead routed by someone else meanwhile a
    no-op; a lead whose routing raises is logged and left for the next sweep.
    """
    pending = Lead.objects.filter(status=LeadStatus.RECEIVED)
    if lead_ids is not None:
        pending = pending.filter(pk__in=lead_ids)
    else:
        pending = pending.filter(created_at__lte=timezone.now() - grace)
    routed = 0
    for lead in pending.select_related("tenant").order_by("created_at", "id")[:limit]:
        try:
            lead_route(lead=lead)
            routed += 1
        except Conflict:
            continue  # routed meanwhile
        except Exception:
            logger.exception("Routing lead %s failed; the next sweep retries", lead.pk)
    return routed


# --- partner responses ------------------------------------------------------------------------

def _offer_lock(offer: Offer) -> Offer:
    return Offer.objects.select_for_update().select_related("partner").get(pk=offer.pk)


def _require_open(offer: Offer) -> None:
    if offer.status != OfferStatus.OPEN:
        raise Conflict(
            _("This offer is no longer open: it was %(status)s.")
            % {"status": offer.get_status_display().lower()}, code="offer_closed")


def offer_accept(*, offer: Offer, actor: Actor) -> Offer:
    """The partner takes the lead. In an open pool the first acceptance wins and the other
    offers are withdrawn in the same transaction (the lead's row lock serializes them)."""
    with transaction.atomic():
        lead = lead_lock(offer.lead)
        offer = _offer_lock(offer)
        _require_open(offer)
        now = timezone.now()
        _offer_answered(offer, OfferStatus.ACCEPTED, actor, now)
        withdrawn = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).update(
            status=OfferStatus.WITHDRAWN, responded_at=now, due_at=None)
        previous = lead.status
        lead.status = LeadStatus.ACCEPTED
        lead.partner = offer.partner
        lead.accepted_at = now
        lead.updated_at = now
        followup_start(lead=lead, policy_id=offer.sla_policy_id, now=now)
        lead.save(update_fields=["status", "partner", "accepted_at", "updated_at",
                                 *FOLLOWUP_FIELDS])
        _account_hold(lead, offer.partner, now)
        event_write(lead, LeadEventKind.ACCEPTED, actor, from_status=previous,
                    to_status=lead.status,
                    data={"offer": str(offer.public_id), "partner": partner_ref(offer.partner),
                          "withdrawn": withdrawn})
    return offer


def _offer_answered(offer: Offer, status: str, actor: Actor, now: datetime.datetime,
                    **answer) -> None:
    """Record the partner's answer on its (locked, open) offer: it stops the SLA clock and
    ends the partner's run of expired offers."""
    for field, value in {"status": status, "responded_at": now, "responded_by": actor.user,
                         "responded_by_label": actor.label[:254], "due_at": None,
                         **answer}.items():
        setattr(offer, field, value)
    offer.save(update_fields=["status", "responded_at", "responded_by", "responded_by_label",
                              "due_at", *answer])
    # An update, not a save: a partner's save changes the routing configuration version.
    Partner.objects.filter(pk=offer.partner_id, expiry_streak__gt=0).update(expiry_streak=0)


def _account_hold(lead: Lead, partner: Partner, now: datetime.datetime,
                  protect_until: datetime.datetime | None = None) -> None:
    """The accepting partner holds the customer's account (later inquiries of the customer
    go to it), unless another partner's protection is still running."""
    if not lead.account_id:
        return
    account = Account.objects.select_for_update().get(pk=lead.account_id)
    protected = account.protected_until and account.protected_until > now
    if account.owner_id not in (None, partner.pk) and protected:
        return
    account.owner = partner
    if protect_until is not None:
        account.protected_until = protect_until
    account.save(update_fields=["owner", "protected_until"])


def offer_decline(*, offer: Offer, reason: str, text: str = "", actor: Actor) -> Offer:
    """The partner says no, with a structured reason. The lead goes to the next eligible
    partner at once (an open pool waits while other offers are still open)."""
    if reason not in DeclineReason.values:
        raise DomainError(_("Choose a reason for declining."), code="invalid_reason")
    text = (text or "").strip()
    if reason == DeclineReason.OTHER and not text:
        raise DomainError(_("Say why you decline this lead."), code="reason_text_required")
    with transaction.atomic():
        lead = lead_lock(offer.lead)
        offer = _offer_lock(offer)
        _require_open(offer)
        now = timezone.now()
        _offer_answered(offer, OfferStatus.DECLINED, actor, now, decline_reason=reason,
                        reason_text=text[:500])
        still_open = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).exists()
        lead.updated_at = now
        if not still_open:
            lead.status = LeadStatus.ROUTING
        lead.save(update_fields=["status", "updated_at"])
        event_write(lead, LeadEventKind.DECLINED, actor, from_status=LeadStatus.OFFERED,
                    to_status=lead.status,
                    data={"offer": str(offer.public_id), "partner": partner_ref(offer.partner),
                          "reason": reason, "text": offer.reason_text})
        if not still_open:
            _route_locked(lead, SYSTEM)
    return offer


def offer_expire(*, lead: Lead, offer: Offer, data: dict, now: datetime.datetime,
                 notify_streak: int | None = None, pause_on_streak: bool = False) -> Offer:
    """The partner let the offer run out (an SLA `reassign` step): it expires and the lead
    goes to the next eligible partner (never back to this one) in the same transaction.
    The caller (the SLA sweeper) holds the lead's and the offer's locks and checked the
    offer is open. A partner that lets `notify_streak` offers in a row expire is reported to
    the managers, and paused if the policy says so."""
    now = timezone.now()  # the sweep's clock decided it was due; the event gets the time
    offer.status = OfferStatus.EXPIRED
    offer.responded_at = now
    offer.due_at = None
    offer.save(update_fields=["status", "responded_at", "due_at"])
    Partner.objects.filter(pk=offer.partner_id).update(expiry_streak=F("expiry_streak") + 1)
    streak = Partner.objects.filter(pk=offer.partner_id).values_list(
        "expiry_streak", flat=True).get()
    still_open = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).exists()
    lead.updated_at = now
    if not still_open:
        lead.status = LeadStatus.ROUTING
    lead.save(update_fields=["status", "updated_at"])
    event_write(lead, LeadEventKind.EXPIRED, SYSTEM, from_status=LeadStatus.OFFERED,
                to_status=lead.status, data={**data, "expiry_streak": streak})
    if notify_streak and streak == notify_streak:
        _expiry_streak_report(offer.partner, streak, pause=pause_on_streak, offer=offer)
    if not still_open:
        _route_locked(lead, SYSTEM)
    return offer


def _expiry_streak_report(partner: Partner, streak: int, *, pause: bool, offer: Offer) -> None:
    from notifications.services import expiry_streak_notify

    if pause:
        current = Partner.objects.select_for_update().get(pk=partner.pk)
        current.paused = True
        current.paused_reason = _("Let %(n)d offers in a row expire.") % {"n": streak}
        current.save(update_fields=["paused", "paused_reason", "updated_at"])
        audit_record(tenant=current.tenant, actor=None, actor_label="SLA",
                     action="partner.pause", target=current, after={"paused": True,
                                                                     "expiry_streak": streak})
    expiry_streak_notify(partner=partner, streak=streak, paused=pause,
                         dedupe_key=f"expiry-streak:{offer.pk}")


def lead_release(*, lead: Lead, partner: Partner, reason: str, actor: Actor) -> Lead:
    """The partner gives an accepted lead back, with a reason; it is routed again at once
    (never back to this partner)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why you release this lead."), code="reason_required")
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status != LeadStatus.ACCEPTED or current.partner_id != partner.pk:
            raise Conflict(_("Only the partner holding an accepted lead can release it."),
                           code="lead_not_held")
        now = timezone.now()
        Offer.objects.filter(lead=current, status=OfferStatus.ACCEPTED).update(
            status=OfferStatus.RELEASED, reason_text=reason[:500], responded_at=now,
            due_at=None)
        _account_release(current, partner, now)
        current.status = LeadStatus.ROUTING
        current.partner = None
        current.stage = None
        current.updated_at = now
        current.followup_due_at = None
        current.save(update_fields=["status", "partner", "stage", "updated_at",
                                    "followup_due_at"])
        event_write(current, LeadEventKind.RELEASED, actor, from_status=LeadStatus.ACCEPTED,
                    to_status=current.status,
                    data={"partner": partner_ref(partner), "reason": reason[:500]})
        return _route_locked(current, SYSTEM)


def _account_release(lead: Lead, partner: Partner, now: datetime.datetime) -> None:
    if not lead.account_id:
        return
    Account.objects.filter(pk=lead.account_id, owner=partner).filter(
        Q(protected_until__isnull=True) | Q(protected_until__lte=now)
    ).update(owner=None)


# --- manager actions --------------------------------------------------------------------------

def lead_reassign(*, lead: Lead, partner: Partner, reason: str, actor: Actor) -> Lead:
    """A manager hands the lead to a partner of their choice, overriding the rules. Open
    and accepted offers close as `reassigned`; the trace and the audit log say who and why."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why you reassign this lead."), code="reason_required")
    if partner.tenant_id != lead.tenant_id:
        raise DomainError(_("This partner belongs to another vendor."), code="invalid")
    if not partner.is_active:
        raise DomainError(_("This partner is inactive."), code="partner_inactive")
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status not in REASSIGNABLE_STATUSES:
            raise Conflict(_("A %(status)s lead cannot be reassigned.")
                           % {"status": current.get_status_display().lower()},
                           code="lead_not_reassignable")
        now = timezone.now()
        before = list(Offer.objects.filter(
            lead=current, status__in=[OfferStatus.OPEN, OfferStatus.ACCEPTED])
            .values_list("partner_id", flat=True))
        Offer.objects.filter(lead=current, status__in=[OfferStatus.OPEN, OfferStatus.ACCEPTED]
                             ).update(status=OfferStatus.REASSIGNED, responded_at=now,
                                      reason_text=reason[:500], due_at=None)
        decision = Decision.objects.create(
            tenant_id=current.tenant_id, lead=current, kind=DecisionKind.MANUAL,
            partner=partner, created_at=now,
            trace={"manual": {"by": actor.label, "reason": reason[:500], "from": before},
                   "chosen": [partner.pk]},
        )
        Offer.objects.create(tenant_id=current.tenant_id, lead=current, partner=partner,
                             decision=decision, offered_at=now,
                             **offer_sla_start(tenant=current.tenant, partner_id=partner.pk,
                                               offered_at=now, policy_id=None))
        previous = current.status
        current.status = LeadStatus.OFFERED
        current.partner = None
        current.stage = None
        current.updated_at = now
        current.followup_due_at = None
        current.save(update_fields=["status", "partner", "stage", "updated_at",
                                    "followup_due_at"])
        event_write(current, LeadEventKind.REASSIGNED, actor, from_status=previous,
                    to_status=current.status,
                    data={"decision": decision.pk, "reason": reason[:500],
                          "partners": [partner_ref(partner)]})
        audit_record(tenant=current.tenant, actor=actor.user, actor_label=actor.label,
                     action="lead.reassign", target=current,
                     before={"partners": before}, after={"partner": partner.pk,
                                                         "reason": reason[:500]})
    return current


def lead_review_release(*, lead: Lead, actor: Actor) -> Lead:
    """A manager lets a pre-qualified lead into routing."""
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status != LeadStatus.IN_REVIEW:
            raise Conflict(_("This lead is not waiting for review."), code="lead_not_in_review")
        current.status = LeadStatus.ROUTING
        current.updated_at = timezone.now()
        current.save(update_fields=["status", "updated_at"])
        event_write(current, LeadEventKind.REVIEW_PASSED, actor,
                    from_status=LeadStatus.IN_REVIEW, to_status=current.status)
        return _route_locked(current, actor, reviewed=True)


def lead_reject(*, lead: Lead, reason: str, actor: Actor) -> Lead:
    """A manager rejects a lead waiting for review or in a registration conflict."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why you reject this lead."), code="reason_required")
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status not in (LeadStatus.IN_REVIEW, LeadStatus.CONFLICT):
            raise Conflict(_("Only a lead in review or in a registration conflict can be "
                             "rejected."), code="lead_not_rejectable")
        previous = current.status
        current.status = LeadStatus.REJECTED
        current.lost_reason = reason[:300]
        current.updated_at = timezone.now()
        current.save(update_fields=["status", "lost_reason", "updated_at"])
        event_write(current, LeadEventKind.REJECTED, actor, from_status=previous,
                    to_status=current.status, data={"reason": reason[:300]})
    return current


# --- partner-registered leads -----------------------------------------------------------------

def _registration_conflicts(lead: Lead, partner: Partner, now: datetime.datetime) -> list[Lead]:
    """Open leads of the same customer (email or account) held or offered elsewhere, and the
    account's protecting partner if it is another one."""
    same = Q(email_key=lead.email_key) if lead.email_key else Q(pk__in=[])
    if lead.account_id:
        same |= Q(account_id=lead.account_id)
    offered_elsewhere = Exists(Offer.objects.filter(
        lead=OuterRef("pk"), status=OfferStatus.OPEN).exclude(partner=partner))
    held_elsewhere = Q(partner__isnull=False) & ~Q(partner=partner)
    return list(Lead.objects.for_tenant(lead.tenant).filter(same).exclude(pk=lead.pk)
                .exclude(status__in=CLOSED_STATUSES)
                .filter(held_elsewhere | Q(offered_elsewhere))
                .order_by("created_at")[:10])


def lead_register(*, tenant: Tenant, partner: Partner, fields: dict, actor: Actor) -> Lead:
    """A partner registers a lead it found. Without a conflict the partner holds it at once
    and the customer's account is protected for the vendor's protection period; with one
    (another partner's open lead or protection), it waits in `conflict` for a manager."""
    if partner.tenant_id != tenant.pk:
        raise DomainError(_("This partner belongs to another vendor."), code="invalid")
    with transaction.atomic():
        lead = lead_create(tenant=tenant, fields={**fields, "source_kind": SourceKind.PARTNER},
                           actor=actor)
        lead = lead_lock(lead)
        if lead.status != LeadStatus.RECEIVED:
            return lead  # held for consent: registered once consent is recorded
        now = timezone.now()
        conflicts = _registration_conflicts(lead, partner, now)
        account = lead.account
        protected_by_other = bool(
            account and account.owner_id not in (None, partner.pk)
            and account.protected_until and account.protected_until > now)
        if conflicts or protected_by_other:
            decision = Decision.objects.create(
                tenant_id=tenant.pk, lead=lead, kind=DecisionKind.REGISTERED, created_at=now,
                trace={"registered_by": partner.pk, "conflicts": [c.pk for c in conflicts],
                       "protected_by": account.owner_id if protected_by_other else None,
                       "chosen": []})
            lead.status = LeadStatus.CONFLICT
            lead.updated_at = now
            lead.save(update_fields=["status", "updated_at"])
            event_write(lead, LeadEventKind.CONFLICT, actor, from_status=LeadStatus.RECEIVED,
                        to_status=lead.status,
                        data={"decision": decision.pk, "partner": partner_ref(partner),
                              "conflicts": [str(c.public_id) for c in conflicts]})
            return lead
        return _registration_accept(lead, partner, actor, now, from_status=LeadStatus.RECEIVED)


def _registration_accept(lead: Lead, partner: Partner, actor: Actor, now: datetime.datetime,
                         *, from_status: str) -> Lead:
    decision = Decision.objects.create(
        tenant_id=lead.tenant_id, lead=lead, kind=DecisionKind.REGISTERED, partner=partner,
        created_at=now, trace={"registered_by": partner.pk, "chosen": [partner.pk]})
    Offer.objects.create(tenant_id=lead.tenant_id, lead=lead, partner=partner,
                         decision=decision, offered_at=now, status=OfferStatus.ACCEPTED,
                         responded_at=now)
    protect_until = now + datetime.timedelta(days=lead.tenant.protection_days)
    _account_hold(lead, partner, now, protect_until=protect_until)
    lead.status = LeadStatus.ACCEPTED
    lead.partner = partner
    lead.accepted_at = now
    lead.updated_at = now
    followup_start(lead=lead, policy_id=None, now=now)
    lead.save(update_fields=["status", "partner", "accepted_at", "updated_at",
                             *FOLLOWUP_FIELDS])
    event_write(lead, LeadEventKind.REGISTERED, actor, from_status=from_status,
                to_status=lead.status,
                data={"decision": decision.pk, "partner": partner_ref(partner),
                      "protected_until": protect_until.isoformat()
                      if lead.account_id else None})
    return lead


def lead_conflict_resolve(*, lead: Lead, actor: Actor) -> Lead:
    """A manager decides a registration conflict for the registering partner: it holds the
    lead and the account's protection. (To decide against it, reject the lead.)"""
    with transaction.atomic():
        current = lead_lock(lead)
        if current.status != LeadStatus.CONFLICT:
            raise Conflict(_("This lead is not in a registration conflict."),
                           code="lead_not_in_conflict")
        decision = current.decisions.filter(kind=DecisionKind.REGISTERED).order_by("-id").first()
        partner = Partner.objects.get(pk=decision.trace["registered_by"])
        now = timezone.now()
        if current.account_id:  # the manager's decision overrides the earlier protection
            Account.objects.filter(pk=current.account_id).update(protected_until=None)
        return _registration_accept(current, partner, actor, now, from_status=LeadStatus.CONFLICT)
