import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned, validate_time_zone


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


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessCalendar(TenantOwned):
    """Working days and hours and holidays, for SLA windows counted in business hours. A
    partner uses its own calendar, else the vendor's default; the hours are read in the
    partner's time zone, else the calendar's, else the vendor's."""

    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 validators=[validate_time_zone])
    working_days = models.JSONField(_("working days"), default=_weekdays,
                                    help_text=_("Weekday numbers, Monday = 0."))
    opens_at = models.TimeField(_("opens at"), default=datetime.time(9))
    closes_at = models.TimeField(_("closes at"), default=datetime.time(17))
    holidays = models.JSONField(_("holidays"), default=list, blank=True,
                                help_text=_("Dates as YYYY-MM-DD."))
    is_default = models.BooleanField(_("vendor default"), default=False)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="calendar_name"),
            models.UniqueConstraint(fields=["tenant"], name="calendar_one_default",
                                    condition=models.Q(is_default=True)),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        days = self.working_days
        if not isinstance(days, list) or not days or not all(
                isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValidationError({"working_days": _("Name at least one weekday, 0 to 6.")})
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("Closing time must be after opening time.")})
        try:
            [datetime.date.fromisoformat(d) for d in self.holidays or []]
        except (TypeError, ValueError):
            raise ValidationError({"holidays": _("Holidays are dates as YYYY-MM-DD.")}) from None


class SlaCount(models.TextChoices):
    WALL_CLOCK = "wall_clock", _("Wall-clock time")
    BUSINESS_HOURS = "business_hours", _("Business hours")


class SlaPolicy(TenantOwned):
    """How long a partner has to answer an offer, and what happens then: its steps. Routing
    rules name the policy their offers run under; the vendor's default covers the rest."""

    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("tenant default"), default=False)
    count = models.CharField(_("durations count"), max_length=20, choices=SlaCount.choices,
                             default=SlaCount.BUSINESS_HOURS)
    pause_when_away = models.BooleanField(
        _("pause while out of office"), default=True,
        help_text=_("Days the partner is out of office do not count."))
    expiry_streak_notify = models.PositiveSmallIntegerField(
        _("notify after expiries in a row"), null=True, blank=True,
        help_text=_("Tell the channel managers when a partner lets this many offers in a row "
                    "expire."))
    expiry_streak_pause = models.BooleanField(
        _("pause the partner then"), default=False)
    stall_gap_days = models.PositiveSmallIntegerField(
        _("follow up after (days without activity)"), default=14,
        help_text=_("An accepted lead without activity this long reminds its partner; after "
                    "a second gap the managers hear of it."))
    stall_release = models.BooleanField(
        _("release after a third gap"), default=False,
        help_text=_("Take the lead back and route it again."))
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


class SlaAction(models.TextChoices):
    REMIND = "remind", _("Remind the partner")
    REASSIGN = "reassign", _("Reassign to the next partner")
    NOTIFY = "notify", _("Notify the channel managers")


class SlaStep(TenantOwned):
    """"After <duration> since the offer: <action>"."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    after_minutes = models.PositiveIntegerField(_("after (minutes)"))
    action = models.CharField(_("action"), max_length=10, choices=SlaAction.choices)

    class Meta:
        verbose_name = _("SLA step")
        verbose_name_plural = _("SLA steps")
        ordering = ["policy", "after_minutes", "position"]

    def __str__(self) -> str:
        return f"{self.after_minutes} min: {self.get_action_display()}"
