"""Simulation: what a draft rule set would have done with recent leads, next to what the live
rules do with the same leads. Nothing is written.

Both sides run through the same pure engine over the same inputs: today's partners, today's
load counts, and rotations starting from their stored positions, leads taken oldest first. So
the difference between the two columns is the rules' difference alone (what the live rules
decided back then also depended on who was away, full or declined at that moment).
"""

from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from leads.models import Lead
from routing import engine
from routing.inputs import engine_config, lead_facts, partner_load, rule_compile
from routing.models import RotationPosition, RuleSet, RuleSetStatus
from tenancy.models import Tenant


@dataclass
class SimulationSide:
    per_partner: Counter = field(default_factory=Counter)
    unassigned: int = 0
    review: int = 0
    pool: int = 0


@dataclass
class MovedLead:
    lead: Lead
    live: list[int]
    draft: list[int]


@dataclass
class SimulationResult:
    leads: int
    live: SimulationSide
    draft: SimulationSide
    moved: list[MovedLead]


def _run(rules, config, facts_list, rotations, live_counts, today) -> list[engine.Outcome]:
    rotations = {k: dict(v) for k, v in rotations.items()}
    outcomes = []
    for facts in facts_list:
        rule, _tried = engine.rule_match(facts, rules)
        key = rule.lineage if rule else None
        outcome = engine.decide(facts, rules, config.partners, live_counts,
                                rotation=rotations.get(key), today=today)
        if key is not None and outcome.rotation is not None:
            rotations[key] = outcome.rotation
        outcomes.append(outcome)
    return outcomes


def _tally(outcomes: list[engine.Outcome]) -> SimulationSide:
    side = SimulationSide()
    for outcome in outcomes:
        if outcome.kind == "review":
            side.review += 1
        elif not outcome.chosen:
            side.unassigned += 1
        elif len(outcome.chosen) > 1:
            side.pool += 1
        else:
            side.per_partner[outcome.chosen[0]] += 1
    return side


def rule_simulate(*, tenant: Tenant, draft: RuleSet, last_n: int = 1000) -> SimulationResult:
    """Per-partner counts live vs draft over the last `last_n` leads, the leads that would
    go elsewhere, and the unassigned counts."""
    config = engine_config(tenant=tenant)
    draft_rules = tuple(rule_compile(rule, config.partners)
                        for rule in draft.rules.order_by("position", "id"))
    live_rules = config.rules if draft.status != RuleSetStatus.ACTIVE else draft_rules
    now = timezone.now()
    leads = list(Lead.objects.for_tenant(tenant).select_related("account")
                 .order_by("-created_at", "-id")[:last_n])
    leads.reverse()
    facts_list = [lead_facts(lead=lead, now=now) for lead in leads]
    rotations = {str(r.lineage): r.state for r in RotationPosition.objects.for_tenant(tenant)}
    counts = engine.LiveCounts(load=partner_load(
        tenant=tenant, partner_ids=[p for p, f in config.partners.items()
                                    if f.capacity is not None]))
    today = timezone.localdate(now)
    live = _run(live_rules, config, facts_list, rotations, counts, today)
    drafted = _run(draft_rules, config, facts_list, rotations, counts, today)
    moved = [MovedLead(lead, a.chosen, b.chosen)
             for lead, a, b in zip(leads, live, drafted, strict=True)
             if sorted(a.chosen) != sorted(b.chosen) or a.kind != b.kind]
    return SimulationResult(leads=len(leads), live=_tally(live), draft=_tally(drafted),
                            moved=moved)
