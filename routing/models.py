"""Routing rules (versioned), the positions of their rotations, offers, and decision traces.

Rules change only through routing/rules.py; offers and the lead states routing moves through
change only through routing/services.py. The engine (routing/engine.py) reads none of these
models: routing/inputs.py turns them into plain data first.
"""

import decimal
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class RuleSet(TenantOwned):
    """One version of a vendor's ordered rules. Editing happens on the single draft;
    activating it retires the live version, which stays readable."""

    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=RuleSetStatus.choices,
                              default=RuleSetStatus.DRAFT)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=254, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by_label = models.CharField(max_length=254, blank=True)

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="ruleset_version"),
            models.UniqueConstraint(fields=["tenant"], name="ruleset_one_active",
                                    condition=models.Q(status="active")),
            models.UniqueConstraint(fields=["tenant"], name="ruleset_one_draft",
                                    condition=models.Q(status="draft")),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.get_status_display()})"


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    WEIGHTED = "weighted", _("Weighted")
    PERFORMANCE = "performance", _("Performance-based")
    NAMED_ACCOUNTS = "named_accounts", _("Fixed partner for named accounts")
    OPEN_POOL = "open_pool", _("Open pool")


class RoutingRule(TenantOwned):
    """One rule of a rule set: which leads it takes, which partners qualify, how it picks.

    `lineage` stays the same across versions of "the same" rule, so its rotation position
    and its share-cap history survive an edit.
    """

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=200)
    # [{"field": "country", "op": "in", "value": ["DE", "AT"]}, ...]; all must hold
    # (routing/conditions.py validates and evaluates them).
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    required_tags = models.JSONField(_("required tags (all of)"), default=list, blank=True)
    any_tag_groups = models.JSONField(
        _("tag groups (one of each)"), default=list, blank=True,
        help_text=_("Each group is a list of tags; a partner needs at least one per group."),
    )
    min_tier_rank = models.PositiveSmallIntegerField(
        _("minimum tier"), null=True, blank=True,
        help_text=_("Rank of the lowest tier that qualifies (1 is the highest)."),
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices,
                                default=Strategy.ROUND_ROBIN)
    # Weighted: a tier's multiplier by tier rank, {"1": 3, "2": 2}; missing ranks count 1.
    tier_weights = models.JSONField(_("tier weights"), default=dict, blank=True)
    # Named accounts: {"domains": {"acme.com": <partner id>}, "crm_ids": {"0015...": <id>}}.
    named_accounts = models.JSONField(_("named accounts"), default=dict, blank=True)
    performance_window_days = models.PositiveSmallIntegerField(
        _("performance window (days)"), default=90,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
    )
    performance_floor = models.DecimalField(
        _("performance floor"), max_digits=3, decimal_places=2, default=decimal.Decimal("0.20"),
        validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text=_("The lowest score any eligible partner gets, so new partners still get "
                    "leads."),
    )
    share_cap_percent = models.PositiveSmallIntegerField(
        _("share cap (%)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    share_cap_days = models.PositiveSmallIntegerField(
        _("share cap window (days)"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    prequalify = models.BooleanField(
        _("pre-qualify"), default=False,
        help_text=_("Matching leads wait for a manager's review before they are routed."),
    )
    fallback_partners = models.JSONField(
        _("fallback pool"), default=list, blank=True,
        help_text=_("Partner ids tried in rotation when no regular candidate is eligible."),
    )
    sla_policy = models.ForeignKey(
        "escalation.SlaPolicy", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("SLA policy"),
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["rule_set", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "rule_set", "lineage"],
                                    name="rule_lineage_once_per_set"),
        ]

    def __str__(self) -> str:
        return self.name


class RotationPosition(TenantOwned):
    """Where a rule's rotation stands (round robin, weighted, performance, fallback pool).

    Kept in the database and advanced under this row's lock, so several workers routing at
    once continue one sequence instead of each starting its own.
    """

    lineage = models.UUIDField()
    # Round robin: {"last": <partner id>}; weighted and performance (routing/engine.py
    # `_weighted_fair`): {"wf2q": {"v": clock, "n": decisions, "p": {"<id>": [start, seen]}}}.
    state = models.JSONField(default=dict)
    decisions = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "lineage"], name="rotation_per_lineage"),
        ]


class DecisionKind(models.TextChoices):
    RULE = "rule", _("By rule")
    ACCOUNT = "account", _("Account holder")
    FALLBACK = "fallback", _("Fallback pool")
    UNASSIGNED = "unassigned", _("No eligible partner")
    REVIEW = "review", _("Pre-qualification")
    MANUAL = "manual", _("Reassigned by hand")
    REGISTERED = "registered", _("Registered by partner")


class Decision(TenantOwned):
    """Why a lead went where it went: the compact trace of one routing decision.

    trace = {"v": rule set version, "rules": [[rule id, "match" | failed condition], ...],
    "skipped": [[partner id, reason], ...], "strategy": ..., "state": tie-break state,
    "chosen": [partner ids], "eligible": count, ...}
    """

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=12, choices=DecisionKind.choices)
    rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    rule_lineage = models.UUIDField(null=True, blank=True)
    # The partner picked as primary (None for an open pool or no partner): share caps count it.
    partner = models.ForeignKey("partners.Partner", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    trace = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("routing decision")
        verbose_name_plural = _("routing decisions")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Share cap: decisions of one rule lineage in the window, grouped by partner.
            models.Index(fields=["tenant", "rule_lineage", "created_at"],
                         name="decision_lineage_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.partner_id or '-'}"


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    REASSIGNED = "reassigned", _("Reassigned")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    RELEASED = "released", _("Released")


# Outcomes after which the partner never gets this lead again.
PASSED_STATUSES = frozenset({OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.RELEASED,
                             OfferStatus.REASSIGNED})


class DeclineReason(models.TextChoices):
    NO_VERTICAL_MATCH = "no_vertical_match", _("Not our vertical")
    NO_CAPACITY = "no_capacity", _("No capacity")
    OUTSIDE_REGION = "outside_region", _("Outside our region")
    SPAM = "spam", _("Spam")
    DUPLICATE = "duplicate", _("Duplicate")
    OTHER = "other", _("Other")


class Offer(TenantOwned):
    """A lead offered to one partner. At most one open offer per lead, except in an open
    pool; never more than one accepted offer per lead (constraints below)."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="offers")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT,
                                related_name="offers")
    decision = models.ForeignKey(Decision, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="offers")
    rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    is_pool = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=OfferStatus.choices,
                              default=OfferStatus.OPEN)
    offered_at = models.DateTimeField(default=timezone.now)
    # The SLA policy the offer runs under, the index of its next step, and when that step is
    # due: the sweeper (escalation/services.py `offers_escalate`) applies it then.
    sla_policy = models.ForeignKey("escalation.SlaPolicy", on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    sla_step = models.PositiveSmallIntegerField(default=0)
    sla_attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=20, choices=DeclineReason.choices, blank=True)
    reason_text = models.CharField(max_length=500, blank=True)
    responded_by_label = models.CharField(max_length=254, blank=True)
    responded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="offer_public_id"),
            models.UniqueConstraint(fields=["lead"], name="offer_one_open_per_lead",
                                    condition=models.Q(status="open", is_pool=False)),
            models.UniqueConstraint(fields=["lead", "partner"], name="offer_one_open_per_partner",
                                    condition=models.Q(status="open")),
            models.UniqueConstraint(fields=["lead"], name="offer_one_accepted_per_lead",
                                    condition=models.Q(status="accepted")),
        ]
        indexes = [
            models.Index(fields=["public_id"]),
            # Capacity: open offers per partner.
            models.Index(fields=["partner"], name="offer_open_by_partner",
                         condition=models.Q(status="open")),
            # Performance: a partner's offers in the window.
            models.Index(fields=["tenant", "offered_at"], name="offer_tenant_recent"),
            # The SLA sweeper: WHERE status = 'open' AND due_at <= now ORDER BY due_at.
            models.Index(fields=["due_at"], name="offer_sla_due",
                         condition=models.Q(status="open", due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.partner_id} ({self.status})"
