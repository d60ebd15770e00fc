"""The periodic schedule, in one place.

django-celery-beat's DatabaseScheduler copies these entries into its tables at start-up
(`python manage.py sync_schedule` does the same on demand). Each entry expires after about
1.5x its interval, so a stalled worker does not come back to a pile of identical runs.
"""

HEARTBEAT_INTERVAL_S = 30
IDEMPOTENCY_PURGE_INTERVAL_S = 3600

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
}
