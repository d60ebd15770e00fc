import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned, validate_time_zone

tag_part = RegexValidator(
    r"^[a-z0-9][a-z0-9._-]*$",
    _("Use lower-case letters, digits, dots, hyphens and underscores."),
)


class Tier(TenantOwned):
    """A partner level defined by the vendor (Gold, Silver, Bronze). Rank 1 is the highest."""

    name = models.CharField(_("name"), max_length=50)
    rank = models.PositiveSmallIntegerField(
        _("rank"), validators=[MinValueValidator(1)], help_text=_("1 is the highest tier.")
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tier_name_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "rank"], name="tier_rank_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(TenantOwned):
    """A `key:value` label routing rules match on, e.g. `vertical:manufacturing-erp`."""

    key = models.CharField(_("key"), max_length=50, validators=[tag_part])
    value = models.CharField(_("value"), max_length=100, validators=[tag_part])

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["key", "value"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key", "value"], name="tag_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.key}:{self.value}"

    @staticmethod
    def parse(label: str) -> tuple[str, str]:
        key, sep, value = label.strip().lower().partition(":")
        if not sep or not key or not value:
            raise ValidationError(_("A tag is written key:value, e.g. region:de-by."))
        return key, value


class Partner(TenantOwned):
    """A reseller or integrator that receives leads from one vendor."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    # NULL, not "": many partners have no CRM id, and the per-tenant unique constraint must
    # only apply to those that do.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=100, null=True, blank=True,
        help_text=_("The partner's id in the vendor's CRM; unique per vendor."),
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="partners",
        verbose_name=_("tier"),
    )
    tags = models.ManyToManyField(
        Tag, through="PartnerTag", related_name="partners", blank=True, verbose_name=_("tags")
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True,
        help_text=_("Most open leads at once; empty means no limit."),
    )
    routing_weight = models.PositiveSmallIntegerField(
        _("routing weight"), default=100,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text=_("Relative share for weighted routing; 100 is normal."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    paused = models.BooleanField(
        _("paused"), default=False, help_text=_("A paused partner receives no new leads.")
    )
    paused_reason = models.CharField(_("pause reason"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone],
        help_text=_("Empty: the vendor's time zone."),
    )
    calendar = models.ForeignKey(
        "escalation.BusinessCalendar", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="partners", verbose_name=_("business calendar"),
        help_text=_("Empty: the vendor's default calendar."),
    )
    # Offers let expire in a row (SLA reassignments); any answer resets it.
    expiry_streak = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="partner_public_id"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="partner_external_id_per_tenant",
                condition=models.Q(external_id__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["public_id"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.tier_id and self.tenant_id and self.tier.tenant_id != self.tenant_id:
            raise ValidationError({"tier": _("This tier belongs to another vendor.")})

    def is_out_of_office(self, at=None) -> bool:
        day = timezone.localdate(at or timezone.now())
        return self.out_of_office.filter(starts_on__lte=day, ends_on__gte=day).exists()


class PartnerTag(TenantOwned):
    """Partner x tag, with its own tenant_id so every tenant table can be distributed."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="partner_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="partner_tags")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "partner", "tag"], name="partner_tag_once"),
        ]

    def clean(self) -> None:
        if self.partner.tenant_id != self.tag.tenant_id:
            raise ValidationError(_("Partner and tag belong to different vendors."))

    def save(self, *args, **kwargs):
        # The through row inherits the partner's tenant; a tag of another vendor is refused.
        self.tenant_id = self.partner.tenant_id
        if self.tag.tenant_id != self.tenant_id:
            raise ValidationError(_("Partner and tag belong to different vendors."))
        super().save(*args, **kwargs)


class OutOfOffice(TenantOwned):
    """A date range in which the partner takes no new leads (holiday, event)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="out_of_office")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("out-of-office period")
        verbose_name_plural = _("out-of-office periods")
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="ooo_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.starts_on} – {self.ends_on}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The end date is before the start date.")})
