"""The routing engine: a pure function from plain data to a decision and its trace.

No queries, no clock, no randomness: routing/inputs.py loads the lead's facts, the compiled
rules and partners (cached per configuration version), the live counts and the rule's rotation
position; `decide` returns who gets the lead, why, and the rotation's next position, which the
caller stores under the same row lock it read it with.

Fairness policy (README, "Routing"):
- Round robin walks the rule's candidates in a fixed order (by partner id) and continues after
  the partner served last; a partner skipped while unavailable simply gets its next turn when
  it comes round again, so nobody is owed a catch-up burst.
- Weighted and performance-based use weighted fair queuing (WF2Q, `_weighted_fair`): with a
  fixed set of partners each one stays within one lead of its share after every decision. A
  partner that was not eligible at the previous decision restarts at the rotation's clock,
  so it accrues nothing while away and returns without a burst.
"""

import bisect
import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.conditions import Condition, text_normalize

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
    # How events and webhooks name the partner (never the internal id).
    public_id: str = ""
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class RuleFacts:
    id: int
    lineage: str
    name: str
    conditions: tuple[Condition, ...]
    strategy: str
    # Partners meeting the rule's tag and tier requirements, active and not paused, sorted
    # by id (routing/inputs.py `rule_compile`; pausing bumps the configuration version).
    candidates: tuple[int, ...]
    # How many partners the requirements ruled out, by reason ("tags", "tier", "inactive",
    # "paused").
    static_skips: Mapping[str, int] = field(default_factory=dict)
    # Per candidate, in the same order: its key in a weighted rotation's counters (stored as
    # JSON, whose keys are strings). Filled in from `candidates` when not given.
    candidate_keys: tuple[str, ...] = ()
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

    def __post_init__(self):
        if len(self.candidate_keys) != len(self.candidates):
            object.__setattr__(self, "candidate_keys", tuple(map(str, self.candidates)))


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
    raw = lead.fields
    texts = {name: text_normalize(value) for name, value in raw.items()}
    tried = []
    for rule in rules:
        failed = None
        for condition in rule.conditions:
            name = condition.field
            if not condition.test(texts.get(name, ""), raw.get(name)):
                failed = name
                break
        if failed is not None:
            tried.append([rule.id, failed])
        elif rule.strategy == "named_accounts" and _named_partner(rule, lead) is None:
            # A named-accounts rule speaks only for its accounts; other leads go on.
            tried.append([rule.id, "named_account"])
        else:
            tried.append([rule.id, "match"])
            return rule, tried
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
    if partner.away and _is_away(partner, today):
        return SKIP_AWAY
    if partner.id in excluded:
        return SKIP_PASSED
    if partner.capacity is not None and live.load.get(partner.id, 0) >= partner.capacity:
        return SKIP_CAPACITY
    if share_allowed is not None and live.share.get(partner.id, 0) >= share_allowed:
        return SKIP_SHARE_CAP
    return None


def _is_away(partner: PartnerFacts, today: datetime.date) -> bool:
    return any(start <= today <= end for start, end in partner.away)


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
    matched: tuple[RuleFacts | None, list] | None = None,
) -> Outcome:
    """Who gets the lead: the account holder, else the first matching rule's pick, else its
    fallback pool, else nobody (unassigned). `matched` is `rule_match`'s answer if the caller
    has it already (it needed the rule to load the rotation and the counts)."""
    trace: dict[str, Any] = {}
    owner_id = lead.account_owner_id
    if owner_id is not None and (lead.account_protected or lead.is_duplicate):
        why = "protected" if lead.account_protected else "duplicate"
        reason = skip_reason(partners.get(owner_id), today=today, excluded=excluded, live=live)
        trace["account"] = [owner_id, why, reason or "chosen"]
        if reason is None:
            trace["chosen"] = [owner_id]
            return Outcome("account", None, [owner_id], trace)

    rule, tried = matched if matched is not None else rule_match(lead, rules)
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
    elif rule.strategy == "round_robin":
        # Walk on from the partner served last; only those passed over are looked at.
        def reason_for(partner_id: int) -> str | None:
            return skip_reason(partners.get(partner_id), today=today, excluded=excluded,
                               live=live, share_allowed=share_allowed)
        picked = _round_robin(rule.candidates, rotation, "last", trace, reason_for, skipped)
        trace["qualifying"] = len(rule.candidates)
        chosen = [picked] if picked is not None else []
    else:
        eligible = _eligible(rule, partners, live, excluded, today, share_allowed, skipped)
        trace["eligible"] = len(eligible)
        if eligible:
            if rule.strategy == "open_pool":
                chosen = [partner_id for partner_id, _key, _weight in eligible]
            else:
                if rule.strategy == "performance":
                    eligible = _performance_weights(rule, eligible, live)
                chosen = [_weighted_fair(eligible, rotation, trace)]
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
            chosen = [_round_robin(tuple(sorted(fallback)), rotation, "fallback_last", trace,
                                   lambda _partner_id: None, skipped)]
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


def _round_robin(candidates: tuple[int, ...], rotation: dict, key: str, trace: dict,
                 reason_for, skipped: list) -> int | None:
    """The first available partner after the one served last (ids ascending, wrapping).
    Partners passed over go into `skipped` with their reason."""
    last = rotation.get(key)
    trace["state"] = {key: last}
    count = len(candidates)
    start = bisect.bisect_right(candidates, last) if last is not None else 0
    for step in range(count):
        partner_id = candidates[(start + step) % count]
        reason = reason_for(partner_id)
        if reason is None:
            rotation[key] = partner_id
            return partner_id
        skipped.append([partner_id, reason])
    return None


def _eligible(rule: RuleFacts, partners: Mapping[int, PartnerFacts], live: LiveCounts,
              excluded: frozenset[int], today: datetime.date, share_allowed: int | None,
              skipped: list) -> list[tuple[int, str, int]]:
    """(id, counter key, weight) of every candidate that can take the lead now. The common
    case (no absence, no capacity or share limit reached) costs a few lookups; the reason
    is worked out only for the partners skipped."""
    load, share, tier_weights = live.load, live.share, rule.tier_weights
    get_partner, get_load, get_share = partners.get, load.get, share.get
    capped = share_allowed is not None
    eligible = []
    append = eligible.append
    for partner_id, key in zip(rule.candidates, rule.candidate_keys, strict=True):
        partner = get_partner(partner_id)
        if (partner is None or not partner.is_active or partner.paused or partner.away
                or partner_id in excluded
                or (partner.capacity is not None and get_load(partner_id, 0) >= partner.capacity)
                or (capped and get_share(partner_id, 0) >= share_allowed)):
            reason = skip_reason(partner, today=today, excluded=excluded, live=live,
                                 share_allowed=share_allowed)
            if reason is not None:
                skipped.append([partner_id, reason])
                continue
        append((partner_id, key, partner.weight * tier_weights.get(partner.tier_rank, 1)))
    return eligible


def _performance_weights(rule: RuleFacts, eligible: list[tuple[int, str, int]],
                         live: LiveCounts) -> list[tuple[int, str, int]]:
    floor = rule.performance_floor
    scores = live.performance
    return [(partner_id, key,
             max(1, round(1000 * (floor + (1 - floor) * scores.get(partner_id, 0.5)))))
            for partner_id, key, _weight in eligible]


# Virtual time is kept in integers scaled by this factor: exact enough that no comparison
# between two different rationals comes out wrong for billions of decisions, and
# deterministic on every machine (no floating point).
VIRTUAL_SCALE = 2 ** 80


def _weighted_fair(eligible: list[tuple[int, str, int]], rotation: dict, trace: dict) -> int:
    """Weighted fair queuing (WF2Q) over the eligible partners, one lead per decision.

    Each partner's next lead has a virtual start S and finish F = S + 1/weight; the
    rotation's virtual clock V advances by 1/(total eligible weight) per decision. Among
    the partners whose next lead has started (S <= V) the one finishing first gets it (ties:
    lower id). With a fixed set of partners this keeps every partner within one lead of its
    share n * w / W after every decision. A partner that was not eligible at the previous
    decision restarts at max(S, V): the leads it missed while away are not paid back.
    """
    state = rotation.get("wf2q") or {}
    clock = state.get("v", 0)
    decision = state.get("n", 0)
    marks = dict(state.get("p") or {})  # key -> [virtual start of its next lead, last seen]
    total = 0
    best = best_key = best_finish = best_weight = None
    earliest = earliest_key = earliest_finish = earliest_start = None
    previous = decision - 1
    fresh = (0, -2)
    for partner_id, key, weight in eligible:
        total += weight
        start, seen = marks.get(key, fresh)
        if seen != previous and start < clock:
            start = clock  # back after an absence (or new): no credit for the time away
        finish = start + VIRTUAL_SCALE // weight
        marks[key] = (start, decision)
        if start <= clock and (best_finish is None or finish < best_finish):
            best, best_key, best_finish, best_weight = partner_id, key, finish, weight
        if earliest_start is None or start < earliest_start:
            earliest, earliest_key, earliest_start, earliest_finish = (
                partner_id, key, start, finish)
    if best is None:  # everybody is ahead of the clock (they came back ahead): move it on
        best, best_key, best_finish = earliest, earliest_key, earliest_finish
        best_weight = next(w for p, _k, w in eligible if p == best)
        clock = earliest_start
    marks[best_key] = (best_finish, decision)
    trace["state"] = {"weight": best_weight, "total": total}
    rotation["wf2q"] = {"v": clock + VIRTUAL_SCALE // total, "n": decision + 1, "p": marks}
    return best
