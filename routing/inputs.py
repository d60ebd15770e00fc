"""The engine's inputs, loaded from the database: the compiled rules and partners (cached per
process and configuration version), a lead's facts, and the live counts one decision needs."""

import datetime
import threading
import time
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from leads.models import Lead, LeadStatus
from partners.models import OutOfOffice, Partner, PartnerTag
from routing.conditions import condition_compile
from routing.engine import LeadFacts, LiveCounts, PartnerFacts, RuleFacts
from routing.models import Decision, Offer, OfferStatus, RoutingRule, RuleSetStatus
from tenancy.models import Tenant


@dataclass(frozen=True)
class EngineConfig:
    version: int  # the tenant's config_version it was built from
    rule_set_version: int | None
    rules: tuple[RuleFacts, ...]
    partners: dict[int, PartnerFacts]
    rules_by_id: dict[int, RuleFacts]


_config_cache: dict[tuple[int, int], EngineConfig] = {}
_config_lock = threading.Lock()


def engine_config(*, tenant: Tenant, version_is_fresh: bool = False) -> EngineConfig:
    """The active rules and all partners as plain data. Any change to rules, partners, tags,
    tiers or absences bumps Tenant.config_version (routing/signals.py), which retires this.

    The version is read afresh (the caller's tenant row may predate a change made in this
    very request), unless the caller loaded the row in its own transaction just now."""
    version = tenant.config_version if version_is_fresh else (
        Tenant.objects.filter(pk=tenant.pk).values_list("config_version", flat=True).get())
    tenant.config_version = version
    key = (tenant.pk, version)
    config = _config_cache.get(key)
    if config is None:
        config = _engine_config_build(tenant)
        with _config_lock:
            if len(_config_cache) > 500:  # bounded: old versions and idle tenants go
                _config_cache.clear()
            _config_cache[key] = config
    return config


def _engine_config_build(tenant: Tenant) -> EngineConfig:
    tags: dict[int, set[str]] = {}
    for partner_id, key, value in PartnerTag.objects.for_tenant(tenant).values_list(
            "partner_id", "tag__key", "tag__value"):
        tags.setdefault(partner_id, set()).add(f"{key}:{value}")
    away: dict[int, list] = {}
    today = timezone.localdate()
    for partner_id, starts, ends in OutOfOffice.objects.for_tenant(tenant).filter(
            ends_on__gte=today - datetime.timedelta(days=1)).values_list(
            "partner_id", "starts_on", "ends_on"):
        away.setdefault(partner_id, []).append((starts, ends))
    partners = {
        p["id"]: PartnerFacts(
            id=p["id"], name=p["name"], public_id=str(p["public_id"]),
            external_id=p["external_id"], tier_rank=p["tier__rank"], weight=p["routing_weight"],
            tags=frozenset(tags.get(p["id"], ())), is_active=p["is_active"], paused=p["paused"],
            away=tuple(away.get(p["id"], ())), capacity=p["capacity"],
        )
        for p in Partner.objects.for_tenant(tenant).values(
            "id", "public_id", "external_id", "name", "tier__rank", "routing_weight", "is_active",
            "paused", "capacity")
    }
    rules = RoutingRule.objects.for_tenant(tenant).filter(
        rule_set__status=RuleSetStatus.ACTIVE).select_related("rule_set").order_by("position", "id")
    compiled = tuple(rule_compile(rule, partners) for rule in rules)
    return EngineConfig(
        version=tenant.config_version,
        rule_set_version=rules[0].rule_set.version if compiled else None,
        rules=compiled, partners=partners, rules_by_id={r.id: r for r in compiled},
    )


def rule_compile(rule: RoutingRule, partners: dict[int, PartnerFacts]) -> RuleFacts:
    """A rule as the engine reads it, with its static candidates worked out once."""
    required = frozenset(t.lower() for t in rule.required_tags or ())
    groups = [frozenset(t.lower() for t in group) for group in rule.any_tag_groups or () if group]
    candidates, static_skips = [], {}
    for partner in sorted(partners.values(), key=lambda p: p.id):
        if not partner.is_active:
            reason = "inactive"
        elif partner.paused:
            reason = "paused"
        elif not required <= partner.tags or any(not (g & partner.tags) for g in groups):
            reason = "tags"
        elif rule.min_tier_rank is not None and (
                partner.tier_rank is None or partner.tier_rank > rule.min_tier_rank):
            reason = "tier"
        else:
            candidates.append(partner.id)
            continue
        static_skips[reason] = static_skips.get(reason, 0) + 1
    named = rule.named_accounts or {}
    return RuleFacts(
        id=rule.id, lineage=str(rule.lineage), name=rule.name,
        conditions=tuple(condition_compile(c) for c in rule.conditions or ()),
        strategy=rule.strategy, candidates=tuple(candidates), static_skips=static_skips,
        tier_weights={int(k): int(v) for k, v in (rule.tier_weights or {}).items()},
        named_domains={str(k).lower(): int(v) for k, v in (named.get("domains") or {}).items()},
        named_crm_ids={str(k): int(v) for k, v in (named.get("crm_ids") or {}).items()},
        performance_floor=float(rule.performance_floor),
        performance_days=rule.performance_window_days,
        share_cap=rule.share_cap_percent / 100 if rule.share_cap_percent else None,
        share_cap_days=rule.share_cap_days,
        prequalify=rule.prequalify,
        fallback=tuple(int(p) for p in rule.fallback_partners or ()),
        sla_policy_id=rule.sla_policy_id,
    )


def lead_facts(*, lead: Lead, now: datetime.datetime) -> LeadFacts:
    fields = {name: getattr(lead, name) for name in (
        "country", "region", "postcode", "language", "industry", "source_kind", "campaign_id",
        "deal_size")}
    for key, value in (lead.custom_fields or {}).items():
        fields[f"custom.{key}"] = value
    account = lead.account if lead.account_id else None
    owner_id = account.owner_id if account else None
    if owner_id is None and lead.duplicate_of_id:
        # No account (a free-mail inquiry): the partner holding the earlier lead of the same
        # person holds the customer.
        owner_id = Lead.objects.filter(pk=lead.duplicate_of_id, status__in=(
            LeadStatus.ACCEPTED, LeadStatus.WON)).values_list("partner_id", flat=True).first()
    return LeadFacts(
        fields=fields,
        account_domain=(account.domain or "") if account else lead.company_domain,
        account_crm_id=(account.crm_account_id or "") if account else "",
        account_owner_id=owner_id,
        account_protected=bool(account and account.owner_id and account.protected_until
                               and account.protected_until > now),
        is_duplicate=lead.duplicate_of_id is not None,
    )


def partner_load(*, tenant: Tenant, partner_ids) -> dict[int, int]:
    """Open offers plus accepted, unclosed leads per partner: what capacity counts. One
    statement (both halves use a partner_id index)."""
    partner_ids = list(partner_ids)
    if not partner_ids:
        return {}
    offers = (Offer.objects.for_tenant(tenant)
              .filter(status=OfferStatus.OPEN, partner_id__in=partner_ids)
              .values_list("partner_id", flat=True).order_by())
    accepted = (Lead.objects.for_tenant(tenant)
                .filter(status=LeadStatus.ACCEPTED, partner_id__in=partner_ids)
                .values_list("partner_id", flat=True).order_by())
    load: dict[int, int] = {}
    for partner_id in offers.union(accepted, all=True):
        load[partner_id] = load.get(partner_id, 0) + 1
    return load


def live_counts(*, tenant: Tenant, config: EngineConfig, rule: RuleFacts | None,
                candidate_ids, now: datetime.datetime) -> LiveCounts:
    """Only what the matched rule needs: load for partners with a capacity, the share-cap
    window for a capped rule, scores for a performance rule."""
    capped = [p for p in candidate_ids
              if (facts := config.partners.get(p)) is not None and facts.capacity is not None]
    load = partner_load(tenant=tenant, partner_ids=capped)
    share, share_total = {}, 0
    if rule is not None and rule.share_cap is not None:
        since = now - datetime.timedelta(days=rule.share_cap_days)
        for partner_id, count in (Decision.objects.for_tenant(tenant)
                                  .filter(rule_lineage=rule.lineage, created_at__gte=since)
                                  .values_list("partner_id").annotate(n=Count("id")).order_by()):
            share_total += count
            if partner_id is not None:
                share[partner_id] = count
    performance = {}
    if rule is not None and rule.strategy == "performance":
        performance = performance_scores(tenant=tenant, days=rule.performance_days, now=now)
    return LiveCounts(load=load, share=share, share_total=share_total, performance=performance)


# Scores move slowly; recomputing them for every lead would cost a scan of the window.
PERFORMANCE_TTL_S = 300
_performance_cache: dict[tuple[int, int], tuple[float, dict[int, float]]] = {}


def performance_scores(*, tenant: Tenant, days: int, now: datetime.datetime) -> dict[int, float]:
    """Per partner, in [0, 1]: 50% acceptance rate, 20% response speed, 30% win rate over the
    window. Rates are smoothed towards 0.5 with five imaginary offers, so a partner with
    little history is neither punished nor favoured; the rule's floor is applied on top."""
    key = (tenant.pk, days)
    cached = _performance_cache.get(key)
    if cached and time.monotonic() - cached[0] < PERFORMANCE_TTL_S:
        return cached[1]
    since = now - datetime.timedelta(days=days)
    rows: dict[int, dict] = {}
    for offer in (Offer.objects.for_tenant(tenant).filter(offered_at__gte=since)
                  .exclude(status__in=[OfferStatus.OPEN, OfferStatus.WITHDRAWN])
                  .values("partner_id", "status", "offered_at", "responded_at", "lead__status")
                  .iterator()):
        row = rows.setdefault(offer["partner_id"], {"n": 0, "accepted": 0, "hours": 0.0,
                                                    "answered": 0, "won": 0, "closed": 0})
        row["n"] += 1
        if offer["status"] in (OfferStatus.ACCEPTED, OfferStatus.DECLINED) and \
                offer["responded_at"]:
            row["answered"] += 1
            row["hours"] += (offer["responded_at"] - offer["offered_at"]).total_seconds() / 3600
        if offer["status"] == OfferStatus.ACCEPTED:
            row["accepted"] += 1
            if offer["lead__status"] in (LeadStatus.WON, LeadStatus.LOST):
                row["closed"] += 1
                row["won"] += offer["lead__status"] == LeadStatus.WON
    prior = 5
    scores = {}
    for partner_id, row in rows.items():
        acceptance = (row["accepted"] + 0.5 * prior) / (row["n"] + prior)
        mean_hours = row["hours"] / row["answered"] if row["answered"] else 24.0
        speed = 1 / (1 + mean_hours / 24)
        speed = (speed * row["answered"] + 0.5 * prior) / (row["answered"] + prior)
        win = (row["won"] + 0.5 * prior) / (row["closed"] + prior)
        scores[partner_id] = 0.5 * acceptance + 0.2 * speed + 0.3 * win
    _performance_cache[key] = (time.monotonic(), scores)
    return scores
