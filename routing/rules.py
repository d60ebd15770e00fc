"""Editing routing rules: every edit goes to the single draft; activating the draft makes it
live and retires the previous version, which stays readable. Every change is audited and
bumps the tenant's config_version (routing/signals.py)."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.services import custom_fields_for
from partners.models import Partner, Tier
from routing.conditions import conditions_clean
from routing.models import RoutingRule, RuleSet, RuleSetStatus, Strategy
from tenancy.actors import Actor
from tenancy.errors import DomainError
from tenancy.models import Tenant
from tenancy.services import audit_record

RULE_FIELDS = ("name", "conditions", "required_tags", "any_tag_groups", "min_tier_rank",
               "strategy", "tier_weights", "named_accounts", "performance_window_days",
               "performance_floor", "share_cap_percent", "share_cap_days", "prequalify",
               "fallback_partners", "sla_policy")


class RuleInvalid(DomainError):
    code = "invalid"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def ruleset_active(*, tenant: Tenant) -> RuleSet | None:
    return RuleSet.objects.for_tenant(tenant).filter(status=RuleSetStatus.ACTIVE).first()


def ruleset_draft(*, tenant: Tenant, actor: Actor) -> RuleSet:
    """The tenant's draft, created as a copy of the live rules if there is none."""
    with transaction.atomic():
        draft = (RuleSet.objects.for_tenant(tenant).select_for_update()
                 .filter(status=RuleSetStatus.DRAFT).first())
        if draft is not None:
            return draft
        latest = RuleSet.objects.for_tenant(tenant).aggregate(v=Max("version"))["v"] or 0
        try:
            with transaction.atomic():
                draft = RuleSet.objects.create(tenant=tenant, version=latest + 1,
                                               created_by_label=actor.label[:254])
        except IntegrityError:  # another editor created it a moment ago
            return RuleSet.objects.for_tenant(tenant).get(status=RuleSetStatus.DRAFT)
        live = ruleset_active(tenant=tenant)
        if live is not None:
            RoutingRule.objects.bulk_create([
                RoutingRule(tenant=tenant, rule_set=draft, lineage=rule.lineage,
                            position=rule.position,
                            **{f: getattr(rule, f) for f in RULE_FIELDS})
                for rule in live.rules.all()
            ])
    return draft


def _tags_clean(raw: Any, errors: list[str]) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) and ":" in t for t in raw):
        errors.append(_("Tags are a list of key:value labels."))
        return []
    return sorted({t.strip().lower() for t in raw})


def rule_clean(*, tenant: Tenant, data: dict) -> dict:
    """Validated rule fields, or RuleInvalid with the errors per field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "name" in data:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("A rule needs a name.")]
        cleaned["name"] = name[:200]
    if "conditions" in data:
        cleaned["conditions"], problems = conditions_clean(
            data["conditions"], custom_keys=set(custom_fields_for(tenant=tenant)))
        if problems:
            errors["conditions"] = problems
    for field in ("required_tags",):
        if field in data:
            problems: list[str] = []
            cleaned[field] = _tags_clean(data[field], problems)
            if problems:
                errors[field] = problems
    if "any_tag_groups" in data:
        problems = []
        groups = data["any_tag_groups"] or []
        if not isinstance(groups, list):
            problems.append(_("Tag groups are a list of lists of key:value labels."))
            groups = []
        cleaned["any_tag_groups"] = [g for g in (_tags_clean(g, problems) for g in groups) if g]
        if problems:
            errors["any_tag_groups"] = problems
    if "min_tier_rank" in data and data["min_tier_rank"] is not None:
        if not Tier.objects.for_tenant(tenant).filter(rank=data["min_tier_rank"]).exists():
            errors["min_tier_rank"] = [_("No tier has this rank.")]
        cleaned["min_tier_rank"] = data["min_tier_rank"]
    elif "min_tier_rank" in data:
        cleaned["min_tier_rank"] = None
    if "strategy" in data:
        if data["strategy"] not in Strategy.values:
            errors["strategy"] = [_("Choose one of: %(s)s.") % {"s": ", ".join(Strategy.values)}]
        cleaned["strategy"] = data["strategy"]
    partner_ids = set(Partner.objects.for_tenant(tenant).values_list("pk", flat=True)) if (
        "fallback_partners" in data or "named_accounts" in data) else set()
    if "fallback_partners" in data:
        fallback = data["fallback_partners"] or []
        if not isinstance(fallback, list) or not all(p in partner_ids for p in fallback):
            errors["fallback_partners"] = [_("Name partners of this vendor.")]
        cleaned["fallback_partners"] = list(dict.fromkeys(fallback)) if isinstance(
            fallback, list) else []
    if "named_accounts" in data:
        named = data["named_accounts"] or {}
        ok = isinstance(named, dict) and set(named) <= {"domains", "crm_ids"} and all(
            isinstance(m, dict) and all(p in partner_ids for p in m.values())
            for m in named.values())
        if not ok:
            errors["named_accounts"] = [_("Map account domains or CRM ids to partners of "
                                          "this vendor.")]
        else:
            named = {kind: {(str(k).lower() if kind == "domains" else str(k)): v
                            for k, v in mapping.items()} for kind, mapping in named.items()}
        cleaned["named_accounts"] = named if ok else {}
    if "tier_weights" in data:
        weights = data["tier_weights"] or {}
        ok = isinstance(weights, dict) and all(
            str(k).isdigit() and isinstance(v, int) and 1 <= v <= 1000
            for k, v in weights.items())
        if not ok:
            errors["tier_weights"] = [_("Map tier ranks to weights from 1 to 1000.")]
        cleaned["tier_weights"] = {str(k): v for k, v in weights.items()} if ok else {}
    for field in ("performance_window_days", "performance_floor", "share_cap_percent",
                  "share_cap_days", "prequalify", "sla_policy"):
        if field in data:
            cleaned[field] = data[field]
    if errors:
        raise RuleInvalid(errors)
    return cleaned


def _rule_summary(rule: RoutingRule) -> dict:
    return {"name": rule.name, "position": rule.position, "strategy": rule.strategy,
            "conditions": rule.conditions, "required_tags": rule.required_tags}


def rule_create(*, tenant: Tenant, data: dict, actor: Actor) -> RoutingRule:
    """A new rule at the end of the draft (or at `position`)."""
    cleaned = rule_clean(tenant=tenant, data={"name": "", **data})
    with transaction.atomic():
        draft = ruleset_draft(tenant=tenant, actor=actor)
        last = draft.rules.aggregate(p=Max("position"))["p"]
        rule = RoutingRule(tenant=tenant, rule_set=draft,
                           position=(last + 1) if last is not None else 0, **cleaned)
        rule.full_clean(exclude=["rule_set", "tenant", "sla_policy"])
        rule.save()
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="routing_rule.create", target=rule, after=_rule_summary(rule))
    return rule


def rule_update(*, rule: RoutingRule, data: dict, actor: Actor) -> RoutingRule:
    """Change a rule of the draft; a rule of a live or retired version is copied into the
    draft first (the same lineage), so the live version never changes under traffic."""
    tenant = rule.tenant
    cleaned = rule_clean(tenant=tenant, data=data)
    with transaction.atomic():
        draft = ruleset_draft(tenant=tenant, actor=actor)
        target = draft.rules.filter(lineage=rule.lineage).first()
        if target is None:
            raise DomainError(_("This rule is not part of the draft."), code="not_in_draft")
        before = _rule_summary(target)
        for field, value in cleaned.items():
            setattr(target, field, value)
        target.full_clean(exclude=["rule_set", "tenant", "sla_policy"])
        target.save()
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="routing_rule.update", target=target, before=before,
                     after=_rule_summary(target))
    return target


def rule_delete(*, rule: RoutingRule, actor: Actor) -> None:
    tenant = rule.tenant
    with transaction.atomic():
        draft = ruleset_draft(tenant=tenant, actor=actor)
        target = draft.rules.filter(lineage=rule.lineage).first()
        if target is None:
            raise DomainError(_("This rule is not part of the draft."), code="not_in_draft")
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="routing_rule.delete", target=target, before=_rule_summary(target))
        target.delete()


def rules_reorder(*, tenant: Tenant, lineages: list, actor: Actor) -> RuleSet:
    """Put the draft's rules in the given order (every rule named once)."""
    with transaction.atomic():
        draft = ruleset_draft(tenant=tenant, actor=actor)
        rules = {str(r.lineage): r for r in draft.rules.select_for_update()}
        wanted = [str(x) for x in lineages]
        if sorted(wanted) != sorted(rules):
            raise RuleInvalid({"order": [_("Name every rule of the draft exactly once.")]})
        for position, lineage in enumerate(wanted):
            rules[lineage].position = position
        RoutingRule.objects.bulk_update(list(rules.values()), ["position"])
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="routing_rules.reorder", target=draft,
                     after={"order": [rules[x].name for x in wanted]})
    return draft


def ruleset_activate(*, tenant: Tenant, actor: Actor, note: str = "") -> RuleSet:
    """The draft goes live; the live version is retired (and stays readable)."""
    with transaction.atomic():
        draft = (RuleSet.objects.for_tenant(tenant).select_for_update()
                 .filter(status=RuleSetStatus.DRAFT).first())
        if draft is None:
            raise DomainError(_("There is no draft to activate."), code="no_draft")
        live = ruleset_active(tenant=tenant)
        if live is not None:
            live.status = RuleSetStatus.RETIRED
            live.save(update_fields=["status"])
        draft.status = RuleSetStatus.ACTIVE
        draft.activated_at = timezone.now()
        draft.activated_by_label = actor.label[:254]
        draft.note = note[:300]
        draft.save(update_fields=["status", "activated_at", "activated_by_label", "note"])
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="routing_rules.activate", target=draft,
                     before={"version": live.version if live else None},
                     after={"version": draft.version, "rules": draft.rules.count()})
    return draft
