import datetime

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Heartbeat, SlaAction


def heartbeat_record(*, name: str = "worker", hostname: str = "") -> Heartbeat:
    """Stamp the named heartbeat; the count grows by one per beat, atomically."""
    with transaction.atomic():
        heartbeat, created = Heartbeat.objects.select_for_update().get_or_create(
            name=name, defaults={"beat_at": timezone.now(), "worker_hostname": hostname, "count": 1}
        )
        if not created:
            Heartbeat.objects.filter(pk=heartbeat.pk).update(
                beat_at=timezone.now(), worker_hostname=hostname, count=models.F("count") + 1
            )
            heartbeat.refresh_from_db()
    return heartbeat


def heartbeat_age_seconds(*, name: str = "worker") -> float | None:
    beat_at = Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    if beat_at is None:
        return None
    return (timezone.now() - beat_at).total_seconds()


# --- SLA steps --------------------------------------------------------------------------------

def offer_sla_step_apply(*, offer_id: int, step: int, now: datetime.datetime) -> bool:
    """Apply step `step` of an offer's SLA policy if it is still due; True if applied.

    One transaction. The lead is locked first (the order every lead transition uses), with
    SKIP LOCKED: a lead busy elsewhere (a partner accepting it, another sweeper) is skipped
    and its offer stays due for the next sweep. Under the lock the offer must still be open
    and at this step, so a step is applied at most once.
    """
    from escalation.sla import sla_config, step_due_at
    from leads.models import Lead, LeadEventKind
    from leads.services import event_write
    from routing.models import Offer, OfferStatus
    from routing.services import offer_expire, partner_ref
    from tenancy.actors import SYSTEM

    with transaction.atomic():
        lead_id = Offer.objects.filter(pk=offer_id).values_list("lead_id", flat=True).first()
        if lead_id is None:
            return False
        lead = (Lead.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("tenant", "account").filter(pk=lead_id).first())
        if lead is None:
            return False
        offer = Offer.objects.select_for_update(of=("self",)).select_related("partner").get(
            pk=offer_id)
        if (offer.status != OfferStatus.OPEN or offer.sla_step != step or offer.due_at is None
                or offer.due_at > now):
            return False
        config = sla_config(tenant=lead.tenant)
        policy = config.policies.get(offer.sla_policy_id)
        if policy is None or step >= len(policy.steps):
            Offer.objects.filter(pk=offer.pk).update(due_at=None)
            return False
        action = policy.steps[step].action
        data = {"offer": str(offer.public_id), "partner": partner_ref(offer.partner),
                "policy": policy.name, "step": step + 1, "action": action,
                "due_at": offer.due_at.isoformat()}
        if action == SlaAction.REASSIGN:
            offer_expire(lead=lead, offer=offer, data=data, now=now,
                         notify_streak=policy.expiry_streak_notify,
                         pause_on_streak=policy.expiry_streak_pause)
            return True
        kind = (LeadEventKind.SLA_REMINDED if action == SlaAction.REMIND
                else LeadEventKind.SLA_ESCALATED)
        # The event is the lead's news (its time, and `updated_since` for CRM syncs).
        lead.updated_at = timezone.now()
        lead.save(update_fields=["updated_at"])
        event_write(lead, kind, SYSTEM, from_status=lead.status, to_status=lead.status,
                    data=data)
        offer.sla_step = step + 1
        offer.due_at = step_due_at(config=config, policy=policy, step=step + 1,
                                   partner_id=offer.partner_id, offered_at=offer.offered_at)
        offer.save(update_fields=["sla_step", "due_at"])
        return True


def lead_followup_step_apply(*, lead_id: int, step: int, now: datetime.datetime) -> bool:
    """Apply stall step `step` to an accepted lead if still due; True if applied. The lead is
    locked with SKIP LOCKED and must still be accepted, at this step and due."""
    from leads.models import Lead, LeadEventKind, LeadStatus
    from leads.services import event_write
    from routing.services import lead_release, partner_ref
    from tenancy.actors import SYSTEM

    with transaction.atomic():
        lead = (Lead.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("tenant", "account", "partner").filter(pk=lead_id).first())
        if (lead is None or lead.status != LeadStatus.ACCEPTED or lead.followup_step != step
                or lead.followup_due_at is None or lead.followup_due_at > now):
            return False
        gap = datetime.timedelta(days=lead.followup_gap_days)
        data = {"partner": partner_ref(lead.partner), "step": step + 1,
                "days_without_activity": lead.followup_gap_days * (step + 1)}
        if step >= 2:
            if lead.followup_release:
                lead_release(lead=lead, partner=lead.partner, actor=SYSTEM, reason=_(
                    "No activity for %(days)d days.") % {"days": data["days_without_activity"]})
                return True
            Lead.objects.filter(pk=lead.pk).update(followup_due_at=None)
            return False
        kind = (LeadEventKind.FOLLOWUP_REMINDED if step == 0
                else LeadEventKind.FOLLOWUP_ESCALATED)
        lead.updated_at = timezone.now()
        Lead.objects.filter(pk=lead.pk).update(updated_at=lead.updated_at)
        event_write(lead, kind, SYSTEM, from_status=lead.status, to_status=lead.status,
                    data=data)
        last = step == 1 and not lead.followup_release
        Lead.objects.filter(pk=lead.pk).update(
            followup_step=step + 1, followup_due_at=None if last else lead.followup_due_at + gap)
        return True
