from django.db import models, transaction
from django.utils import timezone

from escalation.models import Heartbeat


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
