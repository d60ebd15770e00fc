"""The periodic schedule, in one place.

django-celery-beat's DatabaseScheduler copies these entries into its tables at start-up
(`python manage.py sync_schedule` does the same on demand). Each entry expires after about
1.5x its interval, so a stalled worker does not come back to a pile of identical runs.
"""

import os

HEARTBEAT_INTERVAL_S = 30
IDEMPOTENCY_PURGE_INTERVAL_S = 3600
# The outbox drain and the senders. on_commit publishing makes them immediate in the common
# case; these periodic runs are the guarantee after a broker outage or a crash.
OUTBOX_DRAIN_INTERVAL_S = 5
WEBHOOK_SEND_INTERVAL_S = 5
EMAIL_SEND_INTERVAL_S = 10
# The SLA sweeper: due-time columns, swept every few seconds. The environment variable is
# validated with the other settings (config/settings.py); this module loads before them.
try:
    SLA_SWEEP_INTERVAL_S = max(1, int(os.environ.get("SLA_SWEEP_INTERVAL_S") or 10))
except ValueError:  # config/settings.py refuses to start and names the variable
    SLA_SWEEP_INTERVAL_S = 10
# Leads still in `received` (a bulk create whose routing task was lost, a routing error).
ROUTE_PENDING_INTERVAL_S = 15

BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "escalation.tasks.heartbeat",
        "schedule": float(HEARTBEAT_INTERVAL_S),
        # django-celery-beat stores this as PeriodicTask.expire_seconds.
        "options": {"expire_seconds": int(HEARTBEAT_INTERVAL_S * 1.5)},
    },
    # Idempotency records are kept at least 24 h (IDEMPOTENCY_TTL); older ones go hourly.
    "idempotency-purge": {
        "task": "api.idempotency_purge",
        "schedule": float(IDEMPOTENCY_PURGE_INTERVAL_S),
        "options": {"expire_seconds": int(IDEMPOTENCY_PURGE_INTERVAL_S * 1.5)},
    },
    "outbox-drain": {
        "task": "notifications.events_dispatch",
        "schedule": float(OUTBOX_DRAIN_INTERVAL_S),
        "options": {"expire_seconds": int(OUTBOX_DRAIN_INTERVAL_S * 1.5)},
    },
    "webhooks-send": {
        "task": "notifications.webhooks_send",
        "schedule": float(WEBHOOK_SEND_INTERVAL_S),
        "options": {"expire_seconds": int(WEBHOOK_SEND_INTERVAL_S * 1.5)},
    },
    "emails-send": {
        "task": "notifications.emails_send",
        "schedule": float(EMAIL_SEND_INTERVAL_S),
        "options": {"expire_seconds": int(EMAIL_SEND_INTERVAL_S * 1.5)},
    },
    "route-pending": {
        "task": "routing.leads_route_pending",
        "schedule": float(ROUTE_PENDING_INTERVAL_S),
        "options": {"expire_seconds": int(ROUTE_PENDING_INTERVAL_S * 1.5)},
    },
    "sla-sweep": {
        "task": "escalation.offers_escalate",
        "schedule": float(SLA_SWEEP_INTERVAL_S),
        "options": {"expire_seconds": max(1, int(SLA_SWEEP_INTERVAL_S * 1.5))},
    },
}
