from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned


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


class SlaPolicy(TenantOwned):
    """How long a partner has to answer an offer, and what happens then (the steps come with
    the escalation sweeper). Routing rules name the policy their offers run under."""

    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("tenant default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="sla_policy_name"),
            models.UniqueConstraint(fields=["tenant"], name="sla_policy_one_default",
                                    condition=models.Q(is_default=True)),
        ]

    def __str__(self) -> str:
        return self.name
