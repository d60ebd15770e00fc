"""The routing engine: a pure function from plain data to a decision and its trace.

No queries, no clock, no randomness: routing/inputs.py loads the lead's facts, the compiled
rules and partners (cached per configuration version), the live counts and the rule's rotation
position; `decide` returns who gets the lead, why, and the rotation's next position, which the
caller stores under the same row lock it read it with.

Fairness policy (README, "Routing"):
- Round robin walks the rule's candidates in a fixed order (by partner id) and continues after
  the partner served last; a partner skipped while unavailable simply gets its next turn when
  it comes round again, so nobody is owed a catch-up burst.
- Weighted and performance-based use smooth weighted round robin (the nginx algorithm): each
  eligible partner's counter grows by its weight, the largest counter wins and pays back the
  total. Only partners eligible for this lead take part in a round, so a partner that was away
  accrues nothing while away and returns without a burst.
"""

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.conditions import Condition

# Trace reasons (kept short: every decision stores them). Translated for readers in
# routing/selectors.py.
SKIP_INACTIVE = "inactive"
SKIP_PAUSED = "paused"
SKIP_AWAY = "away"
SKIP_PASSED = "passed"
SKIP_CAPACITY = "capacity"
SKIP_SHARE_CAP = "share_cap"
SKIP_UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PartnerFacts:
    id: int
    name: str
    tier_rank: int | None
    weight: int
    tags: frozenset[str]
    is_active: bool = True
    paused: bool = False
    away: tuple[tuple[datetime.date, datetime.date], ...] = ()
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class RuleFacts:
    id: int
    lineage: str
    name: str
    conditions: tuple[Condition, ...]
    strategy: str
    # Partners meeting the rule's tag and tier requirements, active, sorted by id.
    candidates: tuple[int, ...]
    # How many partners the requirements ruled out, by reason ("tags", "tier", "inactive").
    static_skips: Mapping[str, int] = field(default_factory=dict)
    tier_weights: Mapping[int, int] = field(default_factory=dict)
    named_domains: Mapping[str, int] = field(default_factory=dict)
    named_crm_ids: Mapping[str, int] = field(default_factory=dict)
    performance_floor: float = 0.2
    performance_days: int = 90
    share_cap: float | None = None
    share_cap_days: int = 30
    prequalify: bool = False
    fallback: tuple[int, ...] = ()
    sla_policy_id: int | None = None


@dataclass(frozen=True, slots=True)
class LeadFacts:
    # Condition fields by name: country, region, ..., deal_size, custom.<key>.
    fields: Mapping[str, Any]
    account_domain: str = ""
    account_crm_id: str = ""
    account_owner_id: int | None = None
    account_protected: bool = False
    is_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class LiveCounts:
    # Open offers plus accepted, unclosed leads: only for partners with a capacity.
    load: Mapping[int, int] = field(default_factory=dict)
    # Decisions of the matched rule within its share-cap window, by partner, and in total.
    share: Mapping[int, int] = field(default_factory=dict)
    share_total: int = 0
    # Performance scores in [0, 1] by partner (missing: no history yet, neutral 0.5).
    performance: Mapping[int, float] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    kind: str  # a routing.models.DecisionKind value
    rule: RuleFacts | None
    chosen: list[int]
    trace: dict
    # The rule's next rotation position, or None if it did not move.
    rotation: dict | None = None


def rule_match(lead: LeadFacts, rules: Sequence[RuleFacts]) -> tuple[RuleFacts | None, list]:
    """The first rule whose conditions all hold, and the trace of every rule tried: `[id,
    "match"]`, or `[id, "<field>"]` naming the first condition that failed."""
    tried = []
    for rule in rules:
        failed = next((c for c in rule.conditions if not c.holds(lead.fields)), None)
        if failed is None and rule.strategy == "named_accounts" and _named_partner(
                rule, lead) is None:
            # A named-accounts rule speaks only for its accounts; other leads go on.
            tried.append([rule.id, "named_account"])
            continue
        if failed is None:
            tried.append([rule.id, "match"])
            return rule, tried
        tried.append([rule.id, failed.field])
    return None, tried


def _named_partner(rule: RuleFacts, lead: LeadFacts) -> int | None:
    return (lead.account_crm_id and rule.named_crm_ids.get(lead.account_crm_id)) or (
        lead.account_domain and rule.named_domains.get(lead.account_domain)) or None


def skip_reason(partner: PartnerFacts | None, *, today: datetime.date, excluded: frozenset[int],
                live: LiveCounts, share_allowed: int | None = None) -> str | None:
    """Why this partner cannot take the lead now, or None if it can."""
    if partner is None:
        return SKIP_UNKNOWN
    if not partner.is_active:
        return SKIP_INACTIVE
    if partner.paused:
        return SKIP_PAUSED
    if any(start <= today <= end for start, end in partner.away):
        return SKIP_AWAY
    if partner.id in excluded:
        return SKIP_PASSED
    if partner.capacity is not None and live.load.get(partner.id, 0) >= partner.capacity:
        return SKIP_CAPACITY
    if share_allowed is not None and live.share.get(partner.id, 0) >= share_allowed:
        return SKIP_SHARE_CAP
    return None


def share_allowed_for(rule: RuleFacts, live: LiveCounts) -> int | None:
    """Most decisions one partner may hold in the window, counting the one being made. Never
    below one, so the first leads of a new rule can go anywhere."""
    if rule.share_cap is None:
        return None
    return max(1, math.ceil(rule.share_cap * (live.share_total + 1) - 1e-9))


def decide(
    lead: LeadFacts,
    rules: Sequence[RuleFacts],
    partners: Mapping[int, PartnerFacts],
    live: LiveCounts,
    *,
    excluded: frozenset[int] = frozenset(),
    rotation: Mapping[str, Any] | None = None,
    today: datetime.date,
    reviewed: bool = False,
) -> Outcome:
    """Who gets the lead: the account holder, else the first matching rule's pick, else its
    fallback pool, else nobody (unassigned)."""
    trace: dict[str, Any] = {}
    owner_id = lead.account_owner_id
    if owner_id is not None and (lead.account_protected or lead.is_duplicate):
        why = "protected" if lead.account_protected else "duplicate"
        reason = skip_reason(partners.get(owner_id), today=today, excluded=excluded, live=live)
        trace["account"] = [owner_id, why, reason or "chosen"]
        if reason is None:
            trace["chosen"] = [owner_id]
            return Outcome("account", None, [owner_id], trace)

    rule, tried = rule_match(lead, rules)
    trace["rules"] = tried
    if rule is None:
        trace["chosen"] = []
        return Outcome("unassigned", None, [], trace)
    trace["strategy"] = rule.strategy
    if rule.prequalify and not reviewed:
        trace["chosen"] = []
        return Outcome("review", rule, [], trace)
    if rule.static_skips:
        trace["static"] = dict(rule.static_skips)

    rotation = dict(rotation or {})
    share_allowed = share_allowed_for(rule, live)
    skipped: list[list] = []
    chosen: list[int] = []
    if rule.strategy == "named_accounts":
        named = _named_partner(rule, lead)
        if named is None:
            trace["named"] = None
        else:
            reason = skip_reason(partners.get(named), today=today, excluded=excluded, live=live,
                                 share_allowed=share_allowed)
            trace["named"] = named
            if reason:
                skipped.append([named, reason])
            else:
                chosen = [named]
    else:
        eligible = []
        for partner_id in rule.candidates:
            reason = skip_reason(partners.get(partner_id), today=today, excluded=excluded,
                                 live=live, share_allowed=share_allowed)
            if reason:
                skipped.append([partner_id, reason])
            else:
                eligible.append(partner_id)
        trace["eligible"] = len(eligible)
        if eligible:
            if rule.strategy == "open_pool":
                chosen = eligible
            elif rule.strategy == "round_robin":
                chosen = [_round_robin(eligible, rotation, "last", trace)]
            else:
                weights = _weights(rule, eligible, partners, live)
                chosen = [_smooth_weighted(eligible, weights, rotation, trace)]
    if skipped:
        trace["skipped"] = skipped

    kind = "rule"
    if not chosen and rule.fallback:
        fallback = []
        for partner_id in rule.fallback:
            reason = skip_reason(partners.get(partner_id), today=today, excluded=excluded,
                                 live=live)
            if reason:
                skipped.append([partner_id, reason])
            elif partner_id not in fallback:
                fallback.append(partner_id)
        if fallback:
            chosen = [_round_robin(fallback, rotation, "fallback_last", trace)]
            kind = "fallback"
        trace["fallback"] = len(fallback)
        if skipped:
            trace["skipped"] = skipped
    if not chosen:
        kind = "unassigned"
    trace["chosen"] = chosen
    moved = kind in ("rule", "fallback") and rule.strategy not in ("open_pool", "named_accounts")
    return Outcome(kind, rule, chosen, trace,
                   rotation if moved or kind == "fallback" else None)


def _round_robin(eligible: list[int], rotation: dict, key: str, trace: dict) -> int:
    """The first eligible partner after the one served last (ids ascending, wrapping)."""
    last = rotation.get(key)
    trace["state"] = {key: last}
    chosen = next((p for p in eligible if last is None or p > last), eligible[0])
    rotation[key] = chosen
    return chosen


def _weights(rule: RuleFacts, eligible: list[int], partners: Mapping[int, PartnerFacts],
             live: LiveCounts) -> dict[int, int]:
    if rule.strategy == "performance":
        floor = rule.performance_floor
        return {p: max(1, round(1000 * (floor + (1 - floor) * live.performance.get(p, 0.5))))
                for p in eligible}
    return {p: partners[p].weight * rule.tier_weights.get(partners[p].tier_rank, 1)
            for p in eligible}


def _smooth_weighted(eligible: list[int], weights: dict[int, int], rotation: dict,
                     trace: dict) -> int:
    """Smooth weighted round robin over the eligible partners; deterministic (ties go to the
    lower id). Counters of partners not eligible now are left as they are."""
    current = {int(k): v for k, v in (rotation.get("current") or {}).items()}
    total = 0
    best, best_value = None, None
    for partner_id in eligible:
        weight = weights[partner_id]
        total += weight
        value = current.get(partner_id, 0) + weight
        current[partner_id] = value
        if best_value is None or value > best_value:
            best, best_value = partner_id, value
    current[best] -= total
    trace["state"] = {"weight": weights[best], "total": total, "counter": best_value}
    rotation["current"] = {str(k): v for k, v in current.items()}
    return best
