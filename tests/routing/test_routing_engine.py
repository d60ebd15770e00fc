"""The pure engine: conditions, rule order, eligibility, each strategy, and the trace.
No database: partners, rules and live counts are plain data."""

import datetime
from types import SimpleNamespace

import pytest

from routing import engine
from routing.conditions import condition_compile, conditions_clean
from routing.engine import LeadFacts, LiveCounts, PartnerFacts, RuleFacts, decide
from routing.inputs import rule_compile

TODAY = datetime.date(2026, 11, 25)


def partners(*specs) -> dict[int, PartnerFacts]:
    """Partners 1..n; each spec is a dict of PartnerFacts fields."""
    return {i: PartnerFacts(**{"id": i, "name": f"P{i}", "tier_rank": 1, "weight": 100,
                               "tags": frozenset(), **spec})
            for i, spec in enumerate(specs, start=1)}


def rule(rule_id=1, *, conditions=(), strategy="round_robin", candidates=(1, 2, 3), **extra):
    return RuleFacts(id=rule_id, lineage=f"lineage-{rule_id}", name=f"Rule {rule_id}",
                     conditions=tuple(condition_compile(c) for c in conditions),
                     strategy=strategy, candidates=tuple(candidates), **extra)


def lead(**fields) -> LeadFacts:
    account = {k: fields.pop(k) for k in list(fields) if k.startswith("account_")
               or k == "is_duplicate"}
    return LeadFacts(fields=fields, **account)


def run(lead_facts, rules, partner_map, live=None, **kwargs):
    return decide(lead_facts, rules, partner_map, live or LiveCounts(), today=TODAY, **kwargs)


# --- conditions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, value, holds", [
    ({"op": "eq", "value": "DE"}, "de", True),
    ({"op": "eq", "value": "DE"}, "AT", False),
    ({"op": "in", "value": ["DE", "AT"]}, "AT", True),
    ({"op": "in", "value": ["DE", "AT"]}, "", False),
    ({"op": "prefix", "value": ["80", "81"]}, "81675", True),
    ({"op": "prefix", "value": ["80", "81"]}, "90402", False),
    ({"op": "prefix", "value": ["80"]}, "", False),
    ({"op": "range", "min": "10000", "max": "50000"}, "50000", True),
    ({"op": "range", "min": "10000"}, "9999.99", False),
    ({"op": "range", "max": "10"}, None, False),
    ({"op": "empty"}, "", True),
    ({"op": "empty"}, None, True),
    ({"op": "empty"}, "x", False),
])
def test_each_condition_op(spec, value, holds):
    condition = condition_compile({"field": "postcode", **spec})
    assert condition.holds({"postcode": value}) is holds


def test_custom_fields_are_tested_by_their_key():
    condition = condition_compile({"field": "custom.deployment", "op": "eq", "value": "cloud"})
    assert condition.holds({"custom.deployment": "Cloud"})
    assert not condition.holds({})


def test_conditions_clean_names_each_problem():
    cleaned, errors = conditions_clean([
        {"field": "country", "op": "in", "value": ["DE"]},
        {"field": "shoe_size", "op": "eq", "value": "42"},
        {"field": "country", "op": "between", "value": "x"},
        {"field": "deal_size", "op": "range"},
        {"field": "deal_size", "op": "range", "min": "5", "max": "1"},
        {"field": "custom.employees", "op": "eq", "value": ""},
        "not an object",
    ], custom_keys={"employees"})
    assert cleaned == [{"field": "country", "op": "in", "value": ["DE"]}]
    assert len(errors) == 6
    assert errors[0].startswith("Condition 2") and "shoe_size" in errors[0]
    assert conditions_clean("nope", custom_keys=set())[1] == ["Conditions must be a list."]


# --- rules and requirements ----------------------------------------------------------------------

def test_the_first_matching_rule_decides_and_the_trace_names_what_failed():
    rules = [rule(1, conditions=[{"field": "country", "op": "eq", "value": "AT"}],
                  candidates=(1,)),
             rule(2, conditions=[{"field": "country", "op": "eq", "value": "DE"}],
                  candidates=(2,)),
             rule(3, candidates=(3,))]
    outcome = run(lead(country="DE"), rules, partners({}, {}, {}))
    assert outcome.rule.id == 2 and outcome.chosen == [2]
    assert outcome.trace["rules"] == [[1, "country"], [2, "match"]]


def test_no_matching_rule_leaves_the_lead_unassigned():
    outcome = run(lead(country="FR"),
                  [rule(conditions=[{"field": "country", "op": "eq", "value": "DE"}])],
                  partners({}, {}, {}))
    assert outcome.kind == "unassigned" and outcome.chosen == [] and outcome.rule is None


def test_requirements_become_the_rules_static_candidates():
    partner_map = partners(
        {"tags": frozenset({"vertical:erp", "region:de-by"}), "tier_rank": 1},
        {"tags": frozenset({"vertical:erp"}), "tier_rank": 1},
        {"tags": frozenset({"vertical:erp", "region:at"}), "tier_rank": 3},
        {"tags": frozenset({"vertical:erp", "region:at"}), "tier_rank": 2, "is_active": False},
        {"tags": frozenset({"vertical:erp", "region:at"}), "tier_rank": 2},
    )
    model = SimpleNamespace(
        id=1, lineage="x", name="r", conditions=[], strategy="round_robin",
        required_tags=["vertical:erp"], any_tag_groups=[["region:de-by", "region:at"]],
        min_tier_rank=2, tier_weights={}, named_accounts={}, performance_floor=0.2,
        performance_window_days=90, share_cap_percent=None, share_cap_days=30,
        prequalify=False, fallback_partners=[], sla_policy_id=None)
    compiled = rule_compile(model, partner_map)
    assert compiled.candidates == (1, 5)
    assert compiled.static_skips == {"tags": 1, "tier": 1, "inactive": 1}


@pytest.mark.parametrize("spec, live, excluded, reason", [
    ({"is_active": False}, LiveCounts(), frozenset(), engine.SKIP_INACTIVE),
    ({"paused": True}, LiveCounts(), frozenset(), engine.SKIP_PAUSED),
    ({"away": ((TODAY, TODAY + datetime.timedelta(days=3)),)}, LiveCounts(), frozenset(),
     engine.SKIP_AWAY),
    ({}, LiveCounts(), frozenset({1}), engine.SKIP_PASSED),
    ({"capacity": 2}, LiveCounts(load={1: 2}), frozenset(), engine.SKIP_CAPACITY),
])
@pytest.mark.parametrize("strategy", ["round_robin", "weighted"])
def test_each_skip_reason_is_in_the_trace(spec, live, excluded, reason, strategy):
    outcome = run(lead(), [rule(candidates=(1, 2), strategy=strategy)], partners(spec, {}),
                  live, excluded=excluded)
    assert outcome.chosen == [2]
    assert outcome.trace["skipped"] == [[1, reason]]
    if strategy == "round_robin":  # walks on from the last partner: counts who qualifies
        assert outcome.trace["qualifying"] == 2
    else:  # a weighted round looks at every candidate
        assert outcome.trace["eligible"] == 1


def test_an_absence_that_ended_yesterday_does_not_skip():
    yesterday = TODAY - datetime.timedelta(days=1)
    outcome = run(lead(), [rule(candidates=(1,))], partners({"away": ((yesterday, yesterday),)}))
    assert outcome.chosen == [1]


def test_share_cap_allows_at_least_one_lead_then_the_capped_share():
    capped = rule(candidates=(1, 2), share_cap=0.3)
    assert engine.share_allowed_for(capped, LiveCounts(share_total=0)) == 1
    assert engine.share_allowed_for(capped, LiveCounts(share_total=9)) == 3
    outcome = run(lead(), [capped], partners({}, {}),
                  LiveCounts(share={1: 3, 2: 1}, share_total=9), rotation={"last": 2})
    assert outcome.chosen == [2]
    assert [1, engine.SKIP_SHARE_CAP] in outcome.trace["skipped"]


# --- strategies ----------------------------------------------------------------------------------

def test_round_robin_looks_only_at_the_partners_it_passes_over():
    outcome = run(lead(), [rule(candidates=(1, 2, 3, 4))],
                  partners({}, {"paused": True}, {}, {"paused": True}), rotation={"last": 1})
    assert outcome.chosen == [3] and outcome.trace["skipped"] == [[2, "paused"]]


def test_round_robin_continues_after_the_partner_served_last_and_wraps():
    outcome = run(lead(), [rule()], partners({}, {}, {}), rotation={"last": 2})
    assert outcome.chosen == [3] and outcome.rotation == {"last": 3}
    assert outcome.trace["state"] == {"last": 2}
    assert run(lead(), [rule()], partners({}, {}, {}), rotation={"last": 3}).chosen == [1]


def test_weighted_is_fair_queuing_and_deterministic():
    rules = [rule(strategy="weighted", candidates=(1, 2))]
    partner_map = partners({"weight": 300}, {"weight": 100})
    rotation, sequence = None, []
    for _ in range(8):
        outcome = run(lead(), rules, partner_map, rotation=rotation)
        rotation = outcome.rotation
        sequence.append(outcome.chosen[0])
    assert sequence == [1, 2, 1, 1, 1, 2, 1, 1]


def test_tier_weights_multiply_partner_weights():
    rules = [rule(strategy="weighted", candidates=(1, 2), tier_weights={1: 3})]
    partner_map = partners({"tier_rank": 1}, {"tier_rank": 2})
    rotation, counts = None, {1: 0, 2: 0}
    for _ in range(40):
        outcome = run(lead(), rules, partner_map, rotation=rotation)
        rotation = outcome.rotation
        counts[outcome.chosen[0]] += 1
    assert counts == {1: 30, 2: 10}


def test_performance_weights_follow_scores_with_a_floor_for_newcomers():
    rules = [rule(strategy="performance", candidates=(1, 2, 3), performance_floor=0.2)]
    live = LiveCounts(performance={1: 1.0, 2: 0.0})  # 3 has no history: neutral
    rotation, counts = None, {1: 0, 2: 0, 3: 0}
    for _ in range(160):
        outcome = run(lead(), rules, partners({}, {}, {}), live, rotation=rotation)
        rotation = outcome.rotation
        counts[outcome.chosen[0]] += 1
    # Weights 1000, 200 (the floor keeps a partner without acceptances in the game) and
    # 600 (no history counts as average): each count within one lead of its share.
    weights = {1: 1000, 2: 200, 3: 600}
    for partner_id, weight in weights.items():
        assert abs(counts[partner_id] - 160 * weight / 1800) <= 1, counts


def test_named_accounts_by_domain_and_crm_id_and_other_leads_go_on():
    named = rule(1, strategy="named_accounts", candidates=(),
                 named_domains={"acme.example": 2}, named_crm_ids={"0015X": 3})
    rest = rule(2, candidates=(1,))
    partner_map = partners({}, {}, {})
    assert run(lead(account_domain="acme.example"), [named, rest], partner_map).chosen == [2]
    assert run(lead(account_crm_id="0015X"), [named, rest], partner_map).chosen == [3]
    other = run(lead(account_domain="other.example"), [named, rest], partner_map)
    assert other.rule.id == 2 and other.trace["rules"][0] == [1, "named_account"]


def test_a_named_partner_that_is_paused_falls_back_to_the_pool():
    named = rule(strategy="named_accounts", candidates=(), named_domains={"acme.example": 1},
                 fallback=(2, 3))
    outcome = run(lead(account_domain="acme.example"), [named],
                  partners({"paused": True}, {}, {}), rotation={"fallback_last": 2})
    assert outcome.kind == "fallback" and outcome.chosen == [3]
    assert [1, engine.SKIP_PAUSED] in outcome.trace["skipped"]


def test_open_pool_offers_every_eligible_partner():
    outcome = run(lead(), [rule(strategy="open_pool", candidates=(1, 2, 3))],
                  partners({}, {"paused": True}, {}))
    assert outcome.chosen == [1, 3] and outcome.rotation is None


def test_prequalify_sends_to_review_unless_reviewed():
    rules = [rule(prequalify=True, candidates=(1,))]
    assert run(lead(), rules, partners({})).kind == "review"
    assert run(lead(), rules, partners({}), reviewed=True).chosen == [1]


def test_the_account_holder_comes_before_the_rules():
    rules = [rule(candidates=(1,))]
    partner_map = partners({}, {})
    protected = run(lead(account_owner_id=2, account_protected=True), rules, partner_map)
    assert protected.kind == "account" and protected.chosen == [2]
    assert protected.trace["account"] == [2, "protected", "chosen"]
    duplicate = run(lead(account_owner_id=2, is_duplicate=True), rules, partner_map)
    assert duplicate.kind == "account"
    # An owner without protection and no duplicate: the rules decide.
    assert run(lead(account_owner_id=2), rules, partner_map).chosen == [1]


def test_a_paused_account_holder_is_skipped_with_its_reason():
    outcome = run(lead(account_owner_id=2, account_protected=True), [rule(candidates=(1,))],
                  partners({}, {"paused": True}))
    assert outcome.chosen == [1] and outcome.trace["account"] == [2, "protected", "paused"]


def test_nobody_eligible_and_no_fallback_is_unassigned_with_reasons():
    outcome = run(lead(), [rule(candidates=(1, 2))], partners({"paused": True}, {}),
                  excluded=frozenset({2}))
    assert outcome.kind == "unassigned" and outcome.chosen == []
    assert outcome.trace["skipped"] == [[1, "paused"], [2, "passed"]]
