"""SLA clocks for offers: which policy an offer runs under, when each of its steps is due
(wall-clock or the partner's business hours), and the sweeper that applies due steps.

The vendor's policies, calendars and partners' calendars are compiled per process and
configuration version, like the routing engine's inputs (escalation/signals.py bumps it).
"""

import datetime
import logging
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from escalation.calendars import WorkingTime, business_add
from escalation.models import BusinessCalendar, SlaCount, SlaPolicy, SlaStep
from partners.models import OutOfOffice, Partner
from tenancy.models import Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepFacts:
    after: datetime.timedelta
    action: str


@dataclass(frozen=True)
class PolicyFacts:
    id: int
    name: str
    business_hours: bool
    pause_when_away: bool
    stall_gap_days: int
    stall_release: bool
    steps: tuple[StepFacts, ...]
    expiry_streak_notify: int | None
    expiry_streak_pause: bool


@dataclass(frozen=True)
class SlaConfig:
    default_policy_id: int | None
    policies: dict[int, PolicyFacts]
    # Per partner: its working time (calendar and zone resolved) and its absences.
    hours: dict[int, WorkingTime]
    away: dict[int, frozenset[datetime.date]]
    tenant_hours: WorkingTime


_cache: dict[tuple[int, int], SlaConfig] = {}
_cache_lock = threading.Lock()


def sla_config(*, tenant: Tenant) -> SlaConfig:
    key = (tenant.pk, tenant.config_version)
    config = _cache.get(key)
    if config is None:
        config = _sla_config_build(tenant)
        with _cache_lock:
            if len(_cache) > 500:
                _cache.clear()
            _cache[key] = config
    return config


def _working_time(calendar: BusinessCalendar | None, zone_name: str) -> WorkingTime:
    zone = ZoneInfo(zone_name or "UTC")
    if calendar is None:
        return WorkingTime(zone=zone)
    return WorkingTime(
        zone=zone, days=frozenset(calendar.working_days), start=calendar.opens_at,
        end=calendar.closes_at,
        holidays=frozenset(datetime.date.fromisoformat(d) for d in calendar.holidays or ()))


def _sla_config_build(tenant: Tenant) -> SlaConfig:
    steps: dict[int, list[StepFacts]] = {}
    for step in SlaStep.objects.for_tenant(tenant).order_by("after_minutes", "position"):
        steps.setdefault(step.policy_id, []).append(
            StepFacts(datetime.timedelta(minutes=step.after_minutes), step.action))
    policies, default_id = {}, None
    for policy in SlaPolicy.objects.for_tenant(tenant):
        policies[policy.pk] = PolicyFacts(
            id=policy.pk, name=policy.name,
            business_hours=policy.count == SlaCount.BUSINESS_HOURS,
            pause_when_away=policy.pause_when_away, steps=tuple(steps.get(policy.pk, ())),
            stall_gap_days=policy.stall_gap_days, stall_release=policy.stall_release,
            expiry_streak_notify=policy.expiry_streak_notify,
            expiry_streak_pause=policy.expiry_streak_pause)
        if policy.is_default:
            default_id = policy.pk
    calendars = {c.pk: c for c in BusinessCalendar.objects.for_tenant(tenant)}
    default_calendar = next((c for c in calendars.values() if c.is_default), None)
    tenant_zone = (default_calendar.time_zone if default_calendar and default_calendar.time_zone
                   else tenant.time_zone)
    hours = {}
    for partner_id, calendar_id, zone in Partner.objects.for_tenant(tenant).values_list(
            "pk", "calendar_id", "time_zone"):
        calendar = calendars.get(calendar_id) or default_calendar
        hours[partner_id] = _working_time(
            calendar, zone or (calendar.time_zone if calendar else "") or tenant.time_zone)
    away: dict[int, set] = {}
    today = timezone.localdate()
    for partner_id, starts, ends in OutOfOffice.objects.for_tenant(tenant).filter(
            ends_on__gte=today - datetime.timedelta(days=1)).values_list(
            "partner_id", "starts_on", "ends_on"):
        days = away.setdefault(partner_id, set())
        day = starts
        while day <= ends and len(days) < 400:
            days.add(day)
            day += datetime.timedelta(days=1)
    return SlaConfig(default_policy_id=default_id, policies=policies, hours=hours,
                     away={p: frozenset(d) for p, d in away.items()},
                     tenant_hours=_working_time(default_calendar, tenant_zone))


def step_due_at(*, config: SlaConfig, policy: PolicyFacts, step: int, partner_id: int,
                offered_at: datetime.datetime) -> datetime.datetime | None:
    """When step number `step` of the policy falls due for an offer made at `offered_at`
    (None past the last step). Business hours are the partner's; with pause_when_away its
    out-of-office days do not count either."""
    if step >= len(policy.steps):
        return None
    after = policy.steps[step].after
    if not policy.business_hours:
        return offered_at + after
    hours = config.hours.get(partner_id, config.tenant_hours)
    if policy.pause_when_away and config.away.get(partner_id):
        hours = WorkingTime(zone=hours.zone, days=hours.days, start=hours.start,
                            end=hours.end, holidays=hours.holidays | config.away[partner_id])
    return business_add(offered_at, after, hours)


def offer_sla_start(*, tenant: Tenant, policy_id: int | None, partner_id: int,
                    offered_at: datetime.datetime) -> dict:
    """The SLA fields of a new offer: its policy (the rule's, else the vendor's default), the
    first step and its due time. An offer without a policy has no timer."""
    config = sla_config(tenant=tenant)
    policy = config.policies.get(policy_id or config.default_policy_id)
    if policy is None:
        return {"sla_policy_id": None, "sla_step": 0, "due_at": None}
    return {"sla_policy_id": policy.id, "sla_step": 0,
            "due_at": step_due_at(config=config, policy=policy, step=0, partner_id=partner_id,
                                  offered_at=offered_at)}


# --- stall follow-up ---------------------------------------------------------------------------

FOLLOWUP_FIELDS = ("followup_due_at", "followup_step", "followup_gap_days", "followup_release")


def followup_start(*, lead, policy_id: int | None, now: datetime.datetime) -> None:
    """An accepted lead's stall clock: the gap and release setting of its offer's policy (else
    the vendor's default; 14 days and no release without one), first step after one gap.
    Sets the fields; the caller saves them (FOLLOWUP_FIELDS)."""
    stall = stall_settings(tenant=lead.tenant, policy_id=policy_id)
    lead.followup_gap_days, lead.followup_release = stall
    lead.followup_step = 0
    lead.followup_due_at = now + datetime.timedelta(days=lead.followup_gap_days)


def stall_settings(*, tenant: Tenant, policy_id: int | None) -> tuple[int, bool]:
    config = sla_config(tenant=tenant)
    policy = config.policies.get(policy_id or config.default_policy_id)
    return (policy.stall_gap_days, policy.stall_release) if policy else (14, False)


def leads_follow_up(*, limit: int = 200, now: datetime.datetime | None = None) -> int:
    """One sweep of stalled accepted leads: remind the partner after one gap without
    activity, tell the managers after a second, release the lead after a third if the policy
    says so. Same steps and guarantees as `offers_escalate` (lead locked with SKIP LOCKED,
    step checked under the lock, failures pushed forward)."""
    from escalation.services import lead_followup_step_apply
    from leads.models import Lead, LeadStatus

    now = now or timezone.now()
    due = list(Lead.objects.filter(status=LeadStatus.ACCEPTED, followup_due_at__lte=now)
               .order_by("followup_due_at").values_list("pk", "followup_step")[:limit])
    applied = 0
    for lead_id, step in due:
        try:
            if lead_followup_step_apply(lead_id=lead_id, step=step, now=now):
                applied += 1
        except Exception:
            logger.exception("Follow-up step %s of lead %s failed; retrying later", step,
                             lead_id)
            Lead.objects.filter(pk=lead_id, followup_step=step).update(
                followup_due_at=now + RETRY_BACKOFF)
    return applied


# --- the sweeper ------------------------------------------------------------------------------

# A step that raised is tried again after this long times its attempt count.
RETRY_BACKOFF = datetime.timedelta(seconds=30)
MAX_ATTEMPTS = 10


def offers_escalate(*, limit: int = 200, now: datetime.datetime | None = None) -> int:
    """One sweep: apply every SLA step that is due, up to `limit` offers; returns how many.

    Steps:
    1. Read the due offers, oldest due first (partial index `offer_sla_due`).
    2. In one transaction for the batch (one commit, not one per offer), each offer in a
       savepoint: lock the lead with SKIP LOCKED (a lead that a partner is accepting, or
       another sweeper is handling, is left for the next sweep), check the offer is still
       open and still at the step read, apply the step and set the next due time
       (escalation/services.py `offer_sla_step_apply`). The check under the lock is the
       guarantee: two sweepers, or a crash and a rerun, apply a step once; a crash rolls the
       whole batch back, and its offers are simply due again.
    3. A step that raises is rolled back to its savepoint, logged, and after the batch
       pushed forward with an attempt count.
    """
    from escalation.services import offer_sla_step_apply
    from routing.models import Offer, OfferStatus

    now = now or timezone.now()
    due = list(Offer.objects.filter(status=OfferStatus.OPEN, due_at__lte=now)
               .order_by("due_at").values_list("pk", "sla_step")[:limit])
    applied, failed = 0, []
    with transaction.atomic():
        for offer_id, step in due:
            try:
                if offer_sla_step_apply(offer_id=offer_id, step=step, now=now):
                    applied += 1
            except Exception:
                logger.exception("SLA step %s of offer %s failed; retrying later", step,
                                 offer_id)
                failed.append((offer_id, step))
    for offer_id, step in failed:
        _push_forward(offer_id, step, now)
    return applied


def _push_forward(offer_id: int, step: int, now: datetime.datetime) -> None:
    from routing.models import Offer, OfferStatus

    with transaction.atomic():
        offer = Offer.objects.filter(pk=offer_id, status=OfferStatus.OPEN, sla_step=step).first()
        if offer is None:
            return
        attempts = offer.sla_attempts + 1
        Offer.objects.filter(pk=offer_id, sla_step=step).update(
            sla_attempts=F("sla_attempts") + 1,
            due_at=None if attempts >= MAX_ATTEMPTS else now + RETRY_BACKOFF * attempts)
        if attempts >= MAX_ATTEMPTS:
            logger.error("SLA step %s of offer %s gave up after %s attempts", step, offer_id,
                         attempts)
