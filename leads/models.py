"""Accounts (end customers), leads, custom fields, pipeline stages, activities, lead events.

A lead changes state only in leads/services.py; every change writes one LeadEvent.
"""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned

field_key_format = RegexValidator(
    r"^[a-z][a-z0-9_]{0,49}$",
    _("Use lower-case letters, digits and underscores, starting with a letter."),
)


class LeadStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    HELD = "held", _("Held (no consent)")
    IN_REVIEW = "in_review", _("In review")
    REJECTED = "rejected", _("Rejected")
    REGISTERED = "registered", _("Registered by partner")
    CONFLICT = "conflict", _("Registration conflict")
    ROUTING = "routing", _("Routing")
    UNASSIGNED = "unassigned", _("Unassigned")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    REVERSED = "reversed", _("Reversed")


# A partner works the deal in these states: stages, activities, won and lost apply.
PIPELINE_STATUSES = frozenset({LeadStatus.ACCEPTED})
CLOSED_STATUSES = frozenset({LeadStatus.WON, LeadStatus.LOST, LeadStatus.REJECTED,
                             LeadStatus.REVERSED})


class SourceKind(models.TextChoices):
    PLATFORM = "platform", _("Vendor platform")
    PARTNER = "partner", _("Partner")
    CO_MARKETING = "co_marketing", _("Co-marketing")
    MARKETPLACE = "marketplace", _("Marketplace")


class ConsentBasis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")
    CONTRACT = "contract", _("Contract or pre-contract request")


class CustomFieldKind(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    CHOICE = "choice", _("Choice")
    DATE = "date", _("Date")


class CustomField(TenantOwned):
    """A lead field the vendor defines (e.g. `erp_modules`, `employees`). Values live in
    Lead.custom_fields under `key`, validated against this definition on input."""

    key = models.CharField(_("key"), max_length=50, validators=[field_key_format])
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=CustomFieldKind.choices)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("Allowed values of a choice field.")
    )
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="custom_field_key_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.label


class PipelineStage(TenantOwned):
    """A step of the vendor's sales pipeline that an accepted lead moves through."""

    key = models.CharField(_("key"), max_length=50, validators=[field_key_format])
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")
        ordering = ["position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="stage_key_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class Account(TenantOwned):
    """The end customer, keyed by normalized company domain or the CRM's account id.

    The owning partner keeps later inquiries of this customer until `protected_until`.
    """

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200, blank=True)
    # NULL, not "": the per-tenant unique constraints apply only to accounts that have one.
    domain = models.CharField(_("domain"), max_length=253, null=True, blank=True)  # noqa: DJ001
    crm_account_id = models.CharField(  # noqa: DJ001
        _("CRM account id"), max_length=100, null=True, blank=True
    )
    owner = models.ForeignKey(
        "partners.Partner", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="accounts", verbose_name=_("owning partner"),
    )
    protected_until = models.DateTimeField(_("protected until"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="account_public_id"),
            models.UniqueConstraint(
                fields=["tenant", "domain"], name="account_domain_per_tenant",
                condition=models.Q(domain__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["tenant", "crm_account_id"], name="account_crm_id_per_tenant",
                condition=models.Q(crm_account_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.domain or self.crm_account_id or str(self.public_id)


class Lead(TenantOwned):
    """An inquiry of a prospective customer, handed to exactly one partner."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=100, null=True, blank=True,
        help_text=_("The lead's id in the vendor's CRM; unique per vendor."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.RECEIVED
    )

    # Where it came from.
    source_kind = models.CharField(
        _("source"), max_length=20, choices=SourceKind.choices, default=SourceKind.PLATFORM
    )
    campaign_id = models.CharField(_("campaign id"), max_length=100, blank=True)
    utm_source = models.CharField("utm_source", max_length=100, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=100, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=100, blank=True)
    utm_term = models.CharField("utm_term", max_length=100, blank=True)
    utm_content = models.CharField("utm_content", max_length=100, blank=True)

    # Who asked.
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), max_length=254, blank=True)
    # Case-folded copy of contact_email: duplicate detection looks leads up by it.
    email_key = models.CharField(max_length=254, blank=True, editable=False)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    company_website = models.CharField(_("website"), max_length=300, blank=True)
    company_domain = models.CharField(_("company domain"), max_length=253, blank=True)

    # Where and what.
    country = models.CharField(_("country"), max_length=2, blank=True)
    region = models.CharField(_("region"), max_length=10, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    deal_size = models.DecimalField(
        _("estimated deal size"), max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(0)],
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    message = models.TextField(_("message"), blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    # What the prospect agreed to, and where.
    consent_basis = models.CharField(
        _("legal basis"), max_length=30, choices=ConsentBasis.choices, blank=True
    )
    consent_text = models.TextField(_("consent wording"), blank=True)
    consent_captured_at = models.DateTimeField(_("consent captured at"), null=True, blank=True)
    consent_source = models.CharField(_("consent captured where"), max_length=300, blank=True)

    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="leads", verbose_name=_("current partner"),
    )
    stage = models.ForeignKey(
        PipelineStage, on_delete=models.PROTECT, null=True, blank=True, related_name="leads"
    )
    # The earlier lead of the same person or customer; cleared when a manager unlinks it.
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # Stall follow-up of an accepted lead (escalation/sla.py `leads_follow_up`): when the next
    # step is due, which step it is (0 remind the partner, 1 notify the managers, 2 release if
    # the policy says so), and the gap and release setting copied from its SLA policy.
    followup_due_at = models.DateTimeField(_("follow-up due"), null=True, blank=True)
    followup_step = models.PositiveSmallIntegerField(default=0)
    followup_gap_days = models.PositiveSmallIntegerField(default=14)
    followup_release = models.BooleanField(default=False)
    won_value = models.DecimalField(
        _("order value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    closed_on = models.DateField(_("close date"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="lead_public_id"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="lead_external_id_per_tenant",
                condition=models.Q(external_id__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["public_id"]),
            # API list: newest first, and sync by `updated_since`.
            models.Index(fields=["tenant", "-created_at"], name="lead_tenant_recent"),
            models.Index(fields=["tenant", "updated_at"], name="lead_tenant_updated"),
            models.Index(fields=["tenant", "status"], name="lead_tenant_status"),
            # The stall sweeper: WHERE status = 'accepted' AND followup_due_at <= now.
            models.Index(fields=["followup_due_at"], name="lead_followup_due",
                         condition=models.Q(status="accepted",
                                            followup_due_at__isnull=False)),
            # Duplicate detection: the earliest lead with the same case-folded email.
            models.Index(
                fields=["tenant", "email_key", "created_at"], name="lead_tenant_email",
                condition=~models.Q(email_key=""),
            ),
        ]

    def __str__(self) -> str:
        return (self.company_name or self.contact_name or self.contact_email or self.external_id
                or str(self.public_id))

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of_id is not None


class ActivityKind(models.TextChoices):
    NOTE = "note", _("Note")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("Email")
    QUOTE = "quote", _("Quote")
    STAGE_CHANGE = "stage_change", _("Stage change")


class Activity(TenantOwned):
    """Something a partner (or the CRM) did on a lead."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices)
    body = models.TextField(_("text"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    author_label = models.CharField(max_length=254)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="activity_public_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.body[:50]}"


class LeadEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    HELD = "held", _("Held for missing consent")
    DUPLICATE_FLAGGED = "duplicate_flagged", _("Flagged as duplicate")
    DUPLICATE_UNLINKED = "duplicate_unlinked", _("Duplicate unlinked")
    UPDATED = "updated", _("Updated")
    STAGE_CHANGED = "stage_changed", _("Stage changed")
    ACTIVITY_LOGGED = "activity_logged", _("Activity logged")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    # Routing (routing/services.py).
    OFFERED = "offered", _("Offered")
    UNASSIGNED = "unassigned", _("No eligible partner")
    IN_REVIEW = "in_review", _("Waiting for pre-qualification")
    REVIEW_PASSED = "review_passed", _("Released from pre-qualification")
    REJECTED = "rejected", _("Rejected")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    RELEASED = "released", _("Released by partner")
    REASSIGNED = "reassigned", _("Reassigned by hand")
    REGISTERED = "registered", _("Registered by partner")
    CONFLICT = "conflict", _("Registration conflict")
    # SLA steps (escalation/services.py).
    SLA_REMINDED = "sla_reminded", _("Partner reminded (SLA)")
    SLA_ESCALATED = "sla_escalated", _("Managers notified (SLA)")
    EXPIRED = "expired", _("Offer expired (SLA)")
    FOLLOWUP_REMINDED = "followup_reminded", _("Partner reminded of a stalled lead")
    FOLLOWUP_ESCALATED = "followup_escalated", _("Managers told of a stalled lead")


class CurrentTransactionId(models.Func):
    """The writing transaction's id on PostgreSQL (64-bit, never wraps); 0 elsewhere.

    The events feed serves only events of transactions older than every transaction still
    running, ordered by (txid, id): a position once served can never gain an earlier event.
    SQLite runs one writer at a time, so there id order already is commit order.
    """

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "0", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id()::text::bigint)", []


class LeadEvent(TenantOwned):
    """Append-only: every change of a lead, who or what made it, from and to.

    It is the lead's history, the source of reports, the events feed, and the outbox:
    rows with no `dispatched_at` still have to become notifications and webhook deliveries.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=LeadEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    # "anna@alpine-it.example", "api key: salesforce", "system": kept if the user goes.
    actor_label = models.CharField(max_length=254)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    txid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["id"]
        indexes = [
            # The events feed: WHERE tenant = ? AND txid < xmin ORDER BY txid, id
            models.Index(fields=["tenant", "txid", "id"], name="lead_event_tenant_feed"),
            # The outbox drain: WHERE dispatched_at IS NULL ORDER BY id
            models.Index(fields=["id"], name="lead_event_undispatched",
                         condition=models.Q(dispatched_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Lead events are append-only")
        super().save(*args, **kwargs)
