from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """Proof that worker and beat run: beat queues the heartbeat task, a worker stamps a row.

    One row per name (not tenant data); /healthz reports its age.
    """

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField()
    worker_hostname = models.CharField(max_length=200, blank=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
