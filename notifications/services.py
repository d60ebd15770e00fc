"""The outbox drain and notifications: every write of the notifications app except webhooks
(notifications/webhooks.py).

The outbox is the LeadEvent table itself: every change writes its event in the change's own
transaction, with `dispatched_at` empty. `events_dispatch` turns undispatched events into
notifications and webhook deliveries, exactly once per (event, recipient) and (event,
endpoint) thanks to unique dedupe keys, and marks them dispatched. `transaction.on_commit`
publishing only shortens the wait; the periodic drain is the guarantee.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leads.models import Lead, LeadEvent, LeadEventKind
from notifications.models import (
    EmailStatus,
    Notification,
    NotificationKind,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenancy.models import Membership, Tenant, User
from tenancy.roles import Role

logger = logging.getLogger(__name__)

MANAGER_ROLES = (Role.OWNER, Role.CHANNEL_MANAGER)
EMAIL_MAX_ATTEMPTS = 8


# --- publishing -------------------------------------------------------------------------------

_last_publish = 0.0
# Under load one drain takes the events of many requests: a process publishes at most this
# often (a publish costs about a millisecond). An event committed just after a skipped
# publish waits at most for the next publish or the periodic drain.
PUBLISH_MIN_INTERVAL_S = 0.1


def task_send_now(task_name: str, failure_message: str) -> None:
    """Queue one of notifications/tasks.py's tasks. Publishing is only a latency hint: if the
    broker is down the error is logged (the task's periodic run covers it) and never raised,
    so a request never fails because of it."""
    from notifications import tasks

    try:
        getattr(tasks, task_name).apply_async(retry=False)
    except Exception:  # noqa: BLE001 - any broker failure: the periodic run covers it
        logger.warning(failure_message, exc_info=True)


def outbox_publish() -> None:
    """Ask a worker to drain the outbox once the current transaction commits."""

    def publish():
        global _last_publish
        now = time.monotonic()
        if now - _last_publish < PUBLISH_MIN_INTERVAL_S:
            return
        _last_publish = now
        task_send_now("events_dispatch_task",
                      "outbox publish failed; the periodic drain will deliver")

    transaction.on_commit(publish)


# --- dispatch ---------------------------------------------------------------------------------

def _claim_events(limit: int) -> list[LeadEvent]:
    """Undispatched events, locked so that parallel drains take disjoint batches."""
    queryset = LeadEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
    if connection.vendor == "postgresql":
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return list(queryset.select_related("lead", "tenant")[:limit])


def events_dispatch(*, limit: int = 500) -> int:
    """One batch of the outbox drain; returns how many events it dispatched.

    Steps: claim undispatched events (SKIP LOCKED on PostgreSQL); create the notifications
    and webhook deliveries they call for (unique dedupe keys make a repeat a no-op); mark the
    events dispatched — all in one transaction, so a crash loses nothing and repeats nothing.
    """
    from notifications.webhooks import delivery_for_event

    # On SQLite the IMMEDIATE transaction holds the database's write lock from its start, so
    # two drains cannot read the same undispatched rows either.
    with transaction.atomic():
        events = _claim_events(limit)
        if not events:
            return 0
        endpoints_by_tenant: dict[int, list[WebhookEndpoint]] = {}
        for tenant_id in {e.tenant_id for e in events}:
            endpoints_by_tenant[tenant_id] = list(
                WebhookEndpoint.objects.filter(tenant_id=tenant_id, is_active=True)
            )
        deliveries = []
        notifications = []
        payloads: dict[int, dict] = {}
        for event in events:
            for endpoint in endpoints_by_tenant[event.tenant_id]:
                delivery = delivery_for_event(endpoint=endpoint, event=event, payloads=payloads)
                if delivery is not None:
                    deliveries.append(delivery)
            notifications += _notifications_for_event(event)
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
        LeadEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            dispatched_at=timezone.now()
        )
    if deliveries:
        from notifications.webhooks import deliveries_publish

        deliveries_publish()
    if notifications:
        emails_publish()
    return len(events)


def tenant_managers(tenant_id: int) -> list[User]:
    """The vendor's active owners and channel managers: who hears about its operations."""
    return [m.user for m in Membership.objects.filter(
        tenant_id=tenant_id, role__in=MANAGER_ROLES, user__is_active=True
    ).select_related("user")]


def _lead_link(lead: Lead) -> str:
    return f"/{lead.tenant.slug}/leads/{lead.public_id}/"


def partner_users(tenant_id: int, partner_ids) -> list[User]:
    """The active people working for these partners at this vendor (admins and reps)."""
    return [m.user for m in Membership.objects.filter(
        tenant_id=tenant_id, partner_id__in=list(partner_ids), user__is_active=True
    ).select_related("user")]


# Lead events managers hear about, and the notification kind each becomes.
MANAGER_EVENT_KINDS = {
    LeadEventKind.WON: NotificationKind.LEAD_WON,
    LeadEventKind.LOST: NotificationKind.LEAD_LOST,
    LeadEventKind.UNASSIGNED: NotificationKind.LEAD_UNASSIGNED,
    LeadEventKind.IN_REVIEW: NotificationKind.LEAD_IN_REVIEW,
    LeadEventKind.CONFLICT: NotificationKind.LEAD_CONFLICT,
    LeadEventKind.SLA_ESCALATED: NotificationKind.SLA_ESCALATED,
    LeadEventKind.FOLLOWUP_ESCALATED: NotificationKind.LEAD_STALLED,
}
# Lead events the partner's people hear about (the partner named in the event).
PARTNER_EVENT_KINDS = {
    LeadEventKind.OFFERED: NotificationKind.LEAD_OFFERED,
    LeadEventKind.REASSIGNED: NotificationKind.LEAD_OFFERED,
    LeadEventKind.SLA_REMINDED: NotificationKind.LEAD_REMINDER,
    LeadEventKind.FOLLOWUP_REMINDED: NotificationKind.LEAD_FOLLOWUP,
}


def _notifications_for_event(event: LeadEvent) -> list[Notification]:
    lead = event.lead
    if event.kind in PARTNER_EVENT_KINDS:
        # The partners the lead is offered to (or who are reminded); the event names them.
        from partners.models import Partner

        data = event.data or {}
        named = data.get("partners") or ([data["partner"]] if data.get("partner") else [])
        partner_ids = Partner.objects.filter(
            tenant_id=event.tenant_id, public_id__in=[p["id"] for p in named]
        ).values_list("pk", flat=True)
        return [
            notification_build(tenant=event.tenant, recipient=user,
                               kind=PARTNER_EVENT_KINDS[event.kind], lead=lead,
                               link=_lead_link(lead), dedupe_key=f"event:{event.pk}")
            for user in partner_users(event.tenant_id, partner_ids)
        ]
    kind = MANAGER_EVENT_KINDS.get(event.kind)
    if event.kind == LeadEventKind.CREATED and event.to_status == "held":
        kind = NotificationKind.LEAD_HELD
    if kind is None:
        return []
    partner = (event.data or {}).get("partner") or {}
    return [
        notification_build(tenant=event.tenant, recipient=user, kind=kind, lead=lead,
                           link=_lead_link(lead), dedupe_key=f"event:{event.pk}",
                           extra={"partner": partner.get("name", "")})
        for user in tenant_managers(event.tenant_id)
    ]


def _text(kind: str, lead: Lead | None, extra: dict) -> str:
    name = str(lead) if lead else ""
    if kind == NotificationKind.LEAD_HELD:
        return _("Lead “%(lead)s” is held: no recorded consent.") % {"lead": name}
    if kind == NotificationKind.LEAD_WON:
        return _("Lead “%(lead)s” was won.") % {"lead": name}
    if kind == NotificationKind.LEAD_LOST:
        return _("Lead “%(lead)s” was lost.") % {"lead": name}
    if kind == NotificationKind.LEAD_OFFERED:
        return _("New lead for you: “%(lead)s”. Accept or decline it.") % {
            "lead": lead.company_name or _("a prospect") if lead else ""}
    if kind == NotificationKind.LEAD_UNASSIGNED:
        return _("Lead “%(lead)s” found no eligible partner and waits in the unassigned "
                 "queue.") % {"lead": name}
    if kind == NotificationKind.LEAD_IN_REVIEW:
        return _("Lead “%(lead)s” waits for your pre-qualification.") % {"lead": name}
    if kind == NotificationKind.LEAD_CONFLICT:
        return _("A partner registered “%(lead)s”, which conflicts with an existing lead or "
                 "protection.") % {"lead": name}
    if kind == NotificationKind.LEAD_REMINDER:
        return _("Reminder: “%(lead)s” still waits for your answer.") % {
            "lead": lead.company_name or _("a prospect") if lead else ""}
    if kind == NotificationKind.SLA_ESCALATED:
        return _("The offer of “%(lead)s” to %(partner)s is still unanswered.") % {
            "lead": name, "partner": extra.get("partner", "")}
    if kind == NotificationKind.LEAD_FOLLOWUP:
        return _("“%(lead)s” has had no activity for a while: log what happened or update "
                 "its stage.") % {"lead": name}
    if kind == NotificationKind.LEAD_STALLED:
        return _("“%(lead)s” at %(partner)s has stalled: no activity through two follow-up "
                 "periods.") % {"lead": name, "partner": extra.get("partner", "")}
    if kind == NotificationKind.EXPIRY_STREAK:
        return (_("%(partner)s let %(n)d offers in a row expire and was paused.")
                if extra.get("paused") else
                _("%(partner)s let %(n)d offers in a row expire.")) % {
            "partner": extra.get("partner", ""), "n": extra.get("streak", 0)}
    if kind == NotificationKind.WEBHOOK_DISABLED:
        return _("Webhook endpoint %(url)s was disabled after failing for 24 hours.") % {
            "url": extra.get("url", "")}
    return str(NotificationKind(kind).label)


def notification_build(
    *, tenant: Tenant, recipient: User, kind: str, lead: Lead | None, link: str,
    dedupe_key: str, extra: dict | None = None,
) -> Notification:
    """An unsaved notification, its text in the recipient's language."""
    language = recipient.language or tenant.default_language or settings.LANGUAGE_CODE
    with translation.override(language):
        text = _text(kind, lead, extra or {})
    return Notification(
        tenant=tenant, recipient=recipient, kind=kind, lead=lead, text=text[:500], link=link,
        dedupe_key=dedupe_key, email_next_attempt_at=timezone.now(),
    )


def notification_create(
    *, tenant: Tenant, recipient: User, kind: str, lead: Lead | None = None, link: str = "",
    dedupe_key: str, extra: dict | None = None,
) -> Notification | None:
    """Create one notification unless one with this dedupe key exists; None if it did."""
    notification = notification_build(tenant=tenant, recipient=recipient, kind=kind, lead=lead,
                                      link=link, dedupe_key=dedupe_key, extra=extra)
    created = Notification.objects.bulk_create([notification], ignore_conflicts=True)
    exists = Notification.objects.filter(tenant=tenant, recipient=recipient,
                                         dedupe_key=dedupe_key).first()
    if exists is not None and created and exists.public_id == notification.public_id:
        emails_publish()
        return exists
    return None


def notification_mark_read(*, notification: Notification) -> Notification:
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    notification.refresh_from_db(fields=["read_at"])
    return notification


def notification_mark_all_read(*, tenant: Tenant, recipient: User) -> int:
    return Notification.objects.filter(tenant=tenant, recipient=recipient,
                                       read_at__isnull=True).update(read_at=timezone.now())


def notification_preference_set(*, user: User, kind: str, email: bool) -> NotificationPreference:
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user, kind=kind, defaults={"email": email}
    )
    return preference


# --- email ------------------------------------------------------------------------------------

def emails_publish() -> None:
    transaction.on_commit(lambda: task_send_now(
        "notification_emails_send_task", "email publish failed; the periodic sweep will send"))


def _email_wanted(notification: Notification) -> bool:
    preference = NotificationPreference.objects.filter(
        user_id=notification.recipient_id, kind=notification.kind
    ).first()
    return (preference is None or preference.email) and bool(notification.recipient.email)


def notification_emails_send(*, limit: int = 50, now=None) -> int:
    """Send due notification emails; returns how many were sent.

    Steps: pick due rows; claim each with a conditional update that pushes its due time a
    lease ahead (a second sweeper skips it; a crash lets it come due again); send outside
    any transaction; record sent, or count the attempt and back off. Never twice: the claim
    is per attempt and `email_status` leaves `pending` only once.
    """
    from notifications.emails import notification_email_render

    now = now or timezone.now()
    due = list(Notification.objects.filter(
        email_status=EmailStatus.PENDING, email_next_attempt_at__lte=now
    ).order_by("email_next_attempt_at").values_list("pk", "email_next_attempt_at")[:limit])
    sent = 0
    for pk, due_at in due:
        lease = now + timedelta(minutes=5)
        if not Notification.objects.filter(pk=pk, email_status=EmailStatus.PENDING,
                                           email_next_attempt_at=due_at).update(
                                               email_next_attempt_at=lease):
            continue  # another sweeper has it
        notification = Notification.objects.select_related("recipient", "tenant",
                                                           "lead").get(pk=pk)
        if not _email_wanted(notification):
            Notification.objects.filter(pk=pk).update(email_status=EmailStatus.SKIPPED,
                                                      email_next_attempt_at=None)
            continue
        try:
            subject, text, html = notification_email_render(notification)
            message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL,
                                             [notification.recipient.email])
            message.attach_alternative(html, "text/html")
            message.send()
        except Exception:  # noqa: BLE001 - a mail server error is retried later
            attempts = notification.email_attempts + 1
            logger.warning("notification email %s failed (attempt %d)", pk, attempts,
                           exc_info=True)
            if attempts >= EMAIL_MAX_ATTEMPTS:
                Notification.objects.filter(pk=pk).update(
                    email_status=EmailStatus.FAILED, email_attempts=attempts,
                    email_next_attempt_at=None)
            else:
                Notification.objects.filter(pk=pk).update(
                    email_attempts=attempts,
                    email_next_attempt_at=now + timedelta(minutes=2 ** attempts))
            continue
        Notification.objects.filter(pk=pk).update(
            email_status=EmailStatus.SENT, emailed_at=timezone.now(),
            email_attempts=notification.email_attempts + 1, email_next_attempt_at=None)
        sent += 1
    return sent


def expiry_streak_notify(*, partner, streak: int, paused: bool, dedupe_key: str) -> None:
    """Tell the vendor's managers that a partner let `streak` offers in a row expire."""
    for manager in tenant_managers(partner.tenant_id):
        notification_create(
            tenant=partner.tenant, recipient=manager, kind=NotificationKind.EXPIRY_STREAK,
            link=f"/{partner.tenant.slug}/partners/{partner.public_id}/",
            dedupe_key=dedupe_key,
            extra={"partner": partner.name, "streak": streak, "paused": paused})
