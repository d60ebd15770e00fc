"""The pure routing engine (routing/engine.py), its conditions (routing/conditions.py) and
rule compilation (routing/inputs.py `rule_compile`), without a database: partners, rules,
leads and live counts are built as plain data."""

import datetime
import decimal

import pytest

from routing import engine
from routing.conditions import condition_compile, conditions_clean
from routing.engine import (
    LeadFacts,
    LiveCounts,
    Outcome,
    PartnerFacts,
    RuleFacts,
    decide,
    rule_match,
    share_allowed_for,
    skip_reason,
)
from routing.inputs import rule_compile
from routing.models import RoutingRule

TODAY = datetime.date(2026, 3, 18)
DAY = datetime.timedelta(days=1)


def partner(pid: int, **fields) -> PartnerFacts:
    return PartnerFacts(**{"id": pid, "name": f"Partner {pid}", "tier_rank": 1, "weight": 100,
                           "tags": frozenset(), **fields})


def pmap(*items: PartnerFacts) -> dict[int, PartnerFacts]:
    return {p.id: p for p in items}


def ready(*ids: int) -> dict[int, PartnerFacts]:
    """Available partners with these ids."""
    return pmap(*(partner(i) for i in ids))


def rule(rid: int = 1, *, conditions=(), strategy: str = "round_robin", candidates=(1, 2, 3),
         **extra) -> RuleFacts:
    return RuleFacts(id=rid, lineage=f"lineage-{rid}", name=f"Rule {rid}",
                     conditions=tuple(condition_compile(c) for c in conditions),
                     strategy=strategy, candidates=tuple(candidates), **extra)


def lead(_account: dict | None = None, **fields) -> LeadFacts:
    return LeadFacts(fields=fields, **(_account or {}))


def run(lead_facts: LeadFacts, rules, partners, live: LiveCounts | None = None,
        **kwargs) -> Outcome:
    kwargs.setdefault("today", TODAY)
    return decide(lead_facts, list(rules), partners, live or LiveCounts(), **kwargs)


# --- rule order ---------------------------------------------------------------------------------

def test_the_first_matching_rule_decides_even_if_later_rules_match_too():
    rules = [
        rule(10, conditions=[{"field": "country", "op": "eq", "value": "AT"}], candidates=(1,)),
        rule(20, conditions=[{"field": "country", "op": "in", "value": ["DE", "CH"]}],
             candidates=(2,)),
        rule(30, candidates=(3,)),  # no conditions: matches everything
    ]
    outcome = run(lead(country="DE"), rules, ready(1, 2, 3))
    assert outcome.kind == "rule" and outcome.rule.id == 20 and outcome.chosen == [2]
    # Rules after the one that matched are not tried.
    assert outcome.trace["rules"] == [[10, "country"], [20, "match"]]

    catch_all = run(lead(country="FR"), rules, ready(1, 2, 3))
    assert catch_all.rule.id == 30 and catch_all.chosen == [3]
    assert catch_all.trace["rules"] == [[10, "country"], [20, "country"], [30, "match"]]


def test_reordering_rules_changes_which_one_decides():
    de = rule(1, conditions=[{"field": "country", "op": "eq", "value": "DE"}], candidates=(1,))
    everything = rule(2, candidates=(2,))
    assert run(lead(country="DE"), [de, everything], ready(1, 2)).chosen == [1]
    assert run(lead(country="DE"), [everything, de], ready(1, 2)).chosen == [2]


def test_all_conditions_of_a_rule_must_hold_and_the_first_failing_field_is_traced():
    both = rule(1, conditions=[{"field": "country", "op": "eq", "value": "DE"},
                               {"field": "industry", "op": "eq", "value": "manufacturing"},
                               {"field": "language", "op": "eq", "value": "de"}])
    matched, tried = rule_match(lead(country="DE", industry="retail", language="en"), [both])
    assert matched is None and tried == [[1, "industry"]]
    matched, tried = rule_match(
        lead(country="de", industry="Manufacturing", language="DE"), [both])
    assert matched is both and tried == [[1, "match"]]


def test_a_rule_without_conditions_matches_a_lead_without_fields():
    matched, tried = rule_match(lead(), [rule(7)])
    assert matched.id == 7 and tried == [[7, "match"]]


# --- conditions -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, value, holds", [
    # eq
    ({"op": "eq", "value": "DE"}, "DE", True),
    ({"op": "eq", "value": "DE"}, "AT", False),
    ({"op": "eq", "value": "DE"}, None, False),
    ({"op": "eq", "value": "DE"}, "DEU", False),
    ({"op": "eq", "value": 42}, "42", True),
    # in
    ({"op": "in", "value": ["DE", "AT", "CH"]}, "CH", True),
    ({"op": "in", "value": ["DE", "AT", "CH"]}, "FR", False),
    ({"op": "in", "value": ["DE"]}, "", False),
    # prefix
    ({"op": "prefix", "value": ["80", "81"]}, "80331", True),
    ({"op": "prefix", "value": ["80", "81"]}, "81", True),
    ({"op": "prefix", "value": ["80", "81"]}, "8", False),
    ({"op": "prefix", "value": ["80", "81"]}, "90402", False),
    ({"op": "prefix", "value": "1"}, "10115", True),
    ({"op": "prefix", "value": ["80"]}, None, False),
    # range: inclusive bounds, numbers only
    ({"op": "range", "min": "1000", "max": "5000"}, decimal.Decimal("1000"), True),
    ({"op": "range", "min": "1000", "max": "5000"}, decimal.Decimal("5000.00"), True),
    ({"op": "range", "min": "1000", "max": "5000"}, decimal.Decimal("5000.01"), False),
    ({"op": "range", "min": "1000", "max": "5000"}, decimal.Decimal("999.99"), False),
    ({"op": "range", "min": "1000"}, 10**12, True),
    ({"op": "range", "max": "10"}, -3, True),
    ({"op": "range", "max": "10"}, "7.5", True),
    ({"op": "range", "max": "10"}, None, False),
    ({"op": "range", "max": "10"}, "", False),
    ({"op": "range", "max": "10"}, "ten", False),
    ({"op": "range", "min": "0"}, True, False),  # a boolean is not a number
    # empty
    ({"op": "empty"}, None, True),
    ({"op": "empty"}, "", True),
    ({"op": "empty"}, "   ", True),
    ({"op": "empty"}, "x", False),
    ({"op": "empty"}, 0, False),
])
@pytest.mark.parametrize("field", ["deal_size", "postcode", "custom.employees"])
def test_each_condition_op_through_rule_match(field, spec, value, holds):
    tested = rule(1, conditions=[{"field": field, **spec}])
    matched, tried = rule_match(lead(**{field: value}), [tested])
    assert (matched is not None) is holds
    assert tried == [[1, "match" if holds else field]]


def test_a_missing_field_is_empty_and_fails_every_other_op():
    for spec, holds in [({"op": "empty"}, True), ({"op": "eq", "value": "x"}, False),
                        ({"op": "in", "value": ["x"]}, False),
                        ({"op": "prefix", "value": ["x"]}, False),
                        ({"op": "range", "min": "0"}, False)]:
        matched, _tried = rule_match(lead(), [rule(conditions=[{"field": "region", **spec}])])
        assert (matched is not None) is holds, spec


def test_custom_fields_are_matched_by_their_key_and_nothing_else():
    on_prem = rule(1, conditions=[{"field": "custom.deployment", "op": "eq",
                                   "value": "on-premises"}])
    assert rule_match(lead(**{"custom.deployment": "On-Premises"}), [on_prem])[0] is on_prem
    # A lead field of the same name, or another custom key, does not count.
    assert rule_match(lead(deployment="on-premises"), [on_prem])[0] is None
    assert rule_match(lead(**{"custom.deploy": "on-premises"}), [on_prem]) == (
        None, [[1, "custom.deployment"]])


@pytest.mark.parametrize("spec, value", [
    ({"op": "eq", "value": "de"}, "DE"),
    ({"op": "eq", "value": "DE"}, "de"),
    ({"op": "eq", "value": " Manufacturing "}, "MANUFACTURING"),
    ({"op": "eq", "value": "Straße"}, "STRASSE"),  # case-folded, not just lower-cased
    ({"op": "in", "value": ["At", "cH"]}, "ch"),
    ({"op": "prefix", "value": ["SW1"]}, "sw1a 1aa"),
    ({"op": "prefix", "value": ["ec"]}, "EC2R 8AH"),
])
def test_text_comparisons_ignore_case_and_surrounding_space(spec, value):
    compiled = rule(1, conditions=[{"field": "industry", **spec}])
    assert rule_match(lead(industry=value), [compiled])[0] is compiled


# --- requirements: rule_compile ----------------------------------------------------------------

def _model_rule(**fields) -> RoutingRule:
    """An unsaved rule row, as inputs.py reads it (no database needed)."""
    return RoutingRule(id=fields.pop("id", 1), name="Compiled", **fields)


def test_rule_compile_keeps_partners_with_every_required_tag_sorted_by_id():
    partners = pmap(
        partner(9, tags=frozenset({"vertical:erp", "region:de-by"})),
        partner(3, tags=frozenset({"vertical:erp"})),
        partner(5, tags=frozenset({"region:de-by"})),
        partner(1, tags=frozenset({"vertical:erp", "region:de-by", "size:smb"})),
    )
    compiled = rule_compile(_model_rule(required_tags=["Vertical:ERP", "region:de-by"]),
                            partners)
    assert compiled.candidates == (1, 9)
    assert compiled.candidate_keys == ("1", "9")
    assert compiled.static_skips == {"tags": 2}


def test_rule_compile_needs_one_tag_of_each_any_of_group():
    partners = pmap(
        partner(1, tags=frozenset({"region:de-by", "vertical:erp"})),
        partner(2, tags=frozenset({"region:at", "vertical:crm"})),
        partner(3, tags=frozenset({"region:at"})),           # no vertical
        partner(4, tags=frozenset({"vertical:erp"})),        # no region
        partner(5, tags=frozenset({"region:ch", "vertical:erp"})),  # region not listed
    )
    compiled = rule_compile(_model_rule(any_tag_groups=[
        ["region:de-by", "region:at"], ["vertical:erp", "vertical:crm"], []]), partners)
    assert compiled.candidates == (1, 2)
    assert compiled.static_skips == {"tags": 3}


def test_rule_compile_minimum_tier_counts_rank_one_as_the_highest():
    partners = pmap(partner(1, tier_rank=1), partner(2, tier_rank=2), partner(3, tier_rank=3),
                    partner(4, tier_rank=None))
    assert rule_compile(_model_rule(min_tier_rank=2), partners).candidates == (1, 2)
    compiled = rule_compile(_model_rule(min_tier_rank=1), partners)
    assert compiled.candidates == (1,) and compiled.static_skips == {"tier": 3}
    assert rule_compile(_model_rule(), partners).candidates == (1, 2, 3, 4)


def test_rule_compile_rules_out_inactive_and_paused_partners_before_tags_and_tier():
    partners = pmap(
        partner(1, is_active=False, paused=True),  # inactive wins over paused
        partner(2, paused=True, tags=frozenset()),  # paused wins over missing tags
        partner(3, tier_rank=9),  # missing tags is reported before the tier
        partner(4, tags=frozenset({"vertical:erp"}), tier_rank=2),
        partner(5, tags=frozenset({"vertical:erp"}), tier_rank=1),
    )
    compiled = rule_compile(_model_rule(required_tags=["vertical:erp"], min_tier_rank=1),
                            partners)
    assert compiled.candidates == (5,)
    assert compiled.static_skips == {"inactive": 1, "paused": 1, "tags": 1, "tier": 1}


def test_rule_compile_turns_the_other_settings_into_plain_values():
    compiled = rule_compile(_model_rule(
        id=42, strategy="weighted", tier_weights={"1": 3, "2": 2},
        named_accounts={"domains": {"ACME.example": 2}, "crm_ids": {"0015X": 3}},
        share_cap_percent=40, share_cap_days=14, prequalify=True, fallback_partners=[3, 1],
        conditions=[{"field": "country", "op": "eq", "value": "DE"}],
    ), ready(1, 2, 3))
    assert compiled.id == 42 and compiled.strategy == "weighted"
    assert compiled.tier_weights == {1: 3, 2: 2}
    assert compiled.named_domains == {"acme.example": 2}
    assert compiled.named_crm_ids == {"0015X": 3}
    assert compiled.share_cap == pytest.approx(0.4) and compiled.share_cap_days == 14
    assert compiled.prequalify is True and compiled.fallback == (3, 1)
    assert compiled.performance_floor == pytest.approx(0.2)
    assert [c.field for c in compiled.conditions] == ["country"]
    assert rule_compile(_model_rule(), ready(1)).share_cap is None


def test_static_candidates_decide_who_a_rule_can_pick():
    """Tags are static: a partner outside `candidates` is never picked, even if free."""
    compiled = rule(candidates=(2,), static_skips={"tags": 2})
    outcome = run(lead(), [compiled], ready(1, 2, 3))
    assert outcome.chosen == [2]
    assert outcome.trace["static"] == {"tags": 2}
    assert run(lead(), [rule(candidates=())], ready(1, 2, 3)).kind == "unassigned"


# --- dynamic skip reasons ---------------------------------------------------------------------

def test_skip_reason_for_an_available_partner_is_none():
    assert skip_reason(partner(1), today=TODAY, excluded=frozenset(), live=LiveCounts()) is None


@pytest.mark.parametrize("facts, excluded, live, share_allowed, reason", [
    ({"is_active": False}, (), LiveCounts(), None, engine.SKIP_INACTIVE),
    ({"paused": True}, (), LiveCounts(), None, engine.SKIP_PAUSED),
    ({"away": ((TODAY, TODAY),)}, (), LiveCounts(), None, engine.SKIP_AWAY),
    ({"away": ((TODAY - 5 * DAY, TODAY),)}, (), LiveCounts(), None, engine.SKIP_AWAY),
    ({"away": ((TODAY, TODAY + 5 * DAY),)}, (), LiveCounts(), None, engine.SKIP_AWAY),
    ({"away": ((TODAY - 9 * DAY, TODAY - 8 * DAY), (TODAY - DAY, TODAY + DAY))}, (),
     LiveCounts(), None, engine.SKIP_AWAY),
    ({"away": ((TODAY - 3 * DAY, TODAY - DAY),)}, (), LiveCounts(), None, None),
    ({"away": ((TODAY + DAY, TODAY + 3 * DAY),)}, (), LiveCounts(), None, None),
    ({}, (1,), LiveCounts(), None, engine.SKIP_PASSED),
    ({}, (2,), LiveCounts(), None, None),
    ({"capacity": 3}, (), LiveCounts(load={1: 3}), None, engine.SKIP_CAPACITY),
    ({"capacity": 3}, (), LiveCounts(load={1: 4}), None, engine.SKIP_CAPACITY),
    ({"capacity": 3}, (), LiveCounts(load={1: 2}), None, None),
    ({"capacity": 0}, (), LiveCounts(), None, engine.SKIP_CAPACITY),
    ({"capacity": None}, (), LiveCounts(load={1: 500}), None, None),
    ({}, (), LiveCounts(share={1: 2}), 2, engine.SKIP_SHARE_CAP),
    ({}, (), LiveCounts(share={1: 1}), 2, None),
    ({}, (), LiveCounts(share={1: 99}), None, None),
    # The order of reasons: the first that applies is reported.
    ({"is_active": False, "paused": True}, (1,), LiveCounts(), None, engine.SKIP_INACTIVE),
    ({"paused": True, "away": ((TODAY, TODAY),)}, (1,), LiveCounts(), None, engine.SKIP_PAUSED),
    ({"away": ((TODAY, TODAY),)}, (1,), LiveCounts(), None, engine.SKIP_AWAY),
    ({"capacity": 1}, (1,), LiveCounts(load={1: 1}), None, engine.SKIP_PASSED),
    ({"capacity": 1}, (), LiveCounts(load={1: 1}, share={1: 5}), 1, engine.SKIP_CAPACITY),
])
def test_skip_reason(facts, excluded, live, share_allowed, reason):
    assert skip_reason(partner(1, **facts), today=TODAY, excluded=frozenset(excluded),
                       live=live, share_allowed=share_allowed) == reason


def test_skip_reason_for_a_partner_that_no_longer_exists():
    assert skip_reason(None, today=TODAY, excluded=frozenset(),
                       live=LiveCounts()) == engine.SKIP_UNKNOWN


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "performance", "open_pool"])
@pytest.mark.parametrize("facts, excluded, live, reason", [
    ({"is_active": False}, (), LiveCounts(), "inactive"),
    ({"paused": True}, (), LiveCounts(), "paused"),
    ({"away": ((TODAY - DAY, TODAY + DAY),)}, (), LiveCounts(), "away"),
    ({}, (1,), LiveCounts(), "passed"),
    ({"capacity": 2}, (), LiveCounts(load={1: 2}), "capacity"),
])
def test_every_strategy_skips_an_unavailable_partner_with_its_reason(strategy, facts, excluded,
                                                                     live, reason):
    partners = pmap(partner(1, **facts), partner(2))
    outcome = run(lead(), [rule(candidates=(1, 2), strategy=strategy)], partners, live,
                  excluded=frozenset(excluded))
    assert outcome.kind == "rule" and outcome.chosen == [2]
    assert outcome.trace["skipped"] == [[1, reason]]


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "open_pool"])
def test_an_absence_on_another_day_does_not_skip(strategy):
    partners = pmap(partner(1, away=((TODAY - 10 * DAY, TODAY - DAY), (TODAY + DAY, TODAY + DAY))))
    outcome = run(lead(), [rule(candidates=(1,), strategy=strategy)], partners)
    assert outcome.chosen == [1] and "skipped" not in outcome.trace


def test_the_day_decides_an_absence():
    away = pmap(partner(1, away=((TODAY, TODAY + DAY),)), partner(2))
    compiled = [rule(candidates=(1, 2), strategy="open_pool")]
    assert run(lead(), compiled, away, today=TODAY - DAY).chosen == [1, 2]
    assert run(lead(), compiled, away, today=TODAY).chosen == [2]
    assert run(lead(), compiled, away, today=TODAY + DAY).chosen == [2]
    assert run(lead(), compiled, away, today=TODAY + 2 * DAY).chosen == [1, 2]


@pytest.mark.parametrize("cap, total, allowed", [
    (None, 0, None),
    (None, 1000, None),
    (0.3, 0, 1),     # never below one: a new rule's first lead can go anywhere
    (0.3, 2, 1),     # 0.9 -> 1
    (0.3, 3, 2),     # 1.2 -> 2
    (0.3, 9, 3),     # 3.0 exactly: not 4 (no floating-point overshoot)
    (0.25, 3, 1),    # 1.0 exactly
    (0.25, 4, 2),    # 1.25 -> 2
    (0.5, 1, 1),
    (0.5, 9, 5),
    (1.0, 7, 8),     # 100%: a partner may take all of them
    (0.01, 50, 1),
])
def test_share_allowed_for(cap, total, allowed):
    assert share_allowed_for(rule(share_cap=cap), LiveCounts(share_total=total)) == allowed


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "open_pool"])
def test_a_partner_at_its_share_cap_is_skipped(strategy):
    capped = rule(candidates=(1, 2, 3), strategy=strategy, share_cap=0.4)
    # 9 decisions so far; with this one 10: at most 4 each.
    live = LiveCounts(share={1: 4, 2: 3, 3: 2}, share_total=9)
    outcome = run(lead(), [capped], ready(1, 2, 3), live, rotation={"last": 3})
    assert [1, "share_cap"] in outcome.trace["skipped"]
    assert 1 not in outcome.chosen and outcome.chosen
    assert share_allowed_for(capped, live) == 4


def test_when_every_partner_is_at_its_share_cap_the_lead_is_unassigned():
    capped = rule(candidates=(1, 2), share_cap=0.5)
    live = LiveCounts(share={1: 2, 2: 2}, share_total=3)  # allowed: ceil(0.5 * 4) = 2
    outcome = run(lead(), [capped], ready(1, 2), live)
    assert outcome.kind == "unassigned" and outcome.chosen == []
    assert sorted(outcome.trace["skipped"]) == [[1, "share_cap"], [2, "share_cap"]]


# --- strategies ---------------------------------------------------------------------------------

def test_round_robin_starts_with_the_lowest_id_and_walks_on_from_the_last():
    compiled = [rule(candidates=(4, 7, 9))]
    partners = ready(4, 7, 9)
    first = run(lead(), compiled, partners)
    assert first.chosen == [4] and first.rotation == {"last": 4}
    assert run(lead(), compiled, partners, rotation={"last": 7}).chosen == [9]
    assert run(lead(), compiled, partners, rotation={"last": 9}).chosen == [4]
    # The partner served last may have left the rule: continue after its id.
    assert run(lead(), compiled, partners, rotation={"last": 5}).chosen == [7]
    assert run(lead(), compiled, partners, rotation={"last": 100}).chosen == [4]


def test_round_robin_skips_the_unavailable_and_records_only_those_passed_over():
    partners = pmap(partner(1), partner(2, paused=True), partner(3, capacity=1), partner(4))
    outcome = run(lead(), [rule(candidates=(1, 2, 3, 4))], partners,
                  LiveCounts(load={3: 1}), rotation={"last": 1})
    assert outcome.chosen == [4] and outcome.rotation == {"last": 4}
    assert outcome.trace["skipped"] == [[2, "paused"], [3, "capacity"]]
    assert outcome.trace["state"] == {"last": 1}
    assert outcome.trace["qualifying"] == 4


def test_named_account_by_domain_and_by_crm_id():
    named = rule(1, strategy="named_accounts", candidates=(),
                 named_domains={"acme.example": 2}, named_crm_ids={"0015X00001": 3})
    partners = ready(1, 2, 3)
    by_domain = run(lead({"account_domain": "acme.example"}), [named], partners)
    assert by_domain.kind == "rule" and by_domain.chosen == [2]
    assert by_domain.trace["named"] == 2 and by_domain.trace["strategy"] == "named_accounts"
    assert by_domain.rotation is None  # nothing to rotate
    by_crm = run(lead({"account_crm_id": "0015X00001"}), [named], partners)
    assert by_crm.chosen == [3]
    # Both given: the CRM id names the account more precisely.
    both = run(lead({"account_crm_id": "0015X00001", "account_domain": "acme.example"}),
               [named], partners)
    assert both.chosen == [3]


def test_a_named_accounts_rule_lets_other_leads_go_on_to_the_next_rule():
    named = rule(1, strategy="named_accounts", candidates=(), named_domains={"acme.example": 2})
    rest = rule(2, candidates=(1,))
    outcome = run(lead({"account_domain": "other.example", "account_crm_id": "nope"}),
                  [named, rest], ready(1, 2))
    assert outcome.rule.id == 2 and outcome.chosen == [1]
    assert outcome.trace["rules"] == [[1, "named_account"], [2, "match"]]


@pytest.mark.parametrize("facts, reason", [({"paused": True}, "paused"),
                                           ({"is_active": False}, "inactive"),
                                           ({"away": ((TODAY, TODAY),)}, "away")])
def test_an_unavailable_named_partner_falls_to_the_fallback_pool(facts, reason):
    named = rule(1, strategy="named_accounts", candidates=(),
                 named_domains={"acme.example": 1}, fallback=(2, 3))
    partners = pmap(partner(1, **facts), partner(2), partner(3))
    outcome = run(lead({"account_domain": "acme.example"}), [named], partners)
    assert outcome.kind == "fallback" and outcome.chosen == [2]
    assert outcome.trace["named"] == 1 and outcome.trace["skipped"] == [[1, reason]]
    assert outcome.trace["fallback"] == 2
    assert outcome.rotation == {"fallback_last": 2}
    # The fallback pool rotates too.
    again = run(lead({"account_domain": "acme.example"}), [named], partners,
                rotation=outcome.rotation)
    assert again.chosen == [3] and again.rotation == {"fallback_last": 3}


def test_an_unavailable_named_partner_without_a_fallback_is_unassigned():
    named = rule(1, strategy="named_accounts", candidates=(), named_domains={"acme.example": 1})
    later = rule(2, candidates=(2,))
    outcome = run(lead({"account_domain": "acme.example"}), [named, later],
                  pmap(partner(1, paused=True), partner(2)))
    assert outcome.kind == "unassigned" and outcome.rule.id == 1
    assert outcome.trace["skipped"] == [[1, "paused"]]


def test_the_fallback_pool_skips_unavailable_partners_with_reasons():
    compiled = rule(candidates=(1,), fallback=(2, 3, 4))
    partners = pmap(partner(1, paused=True), partner(2, away=((TODAY, TODAY),)), partner(3),
                    partner(4, capacity=1))
    outcome = run(lead(), [compiled], partners, LiveCounts(load={4: 1}))
    assert outcome.kind == "fallback" and outcome.chosen == [3]
    assert outcome.trace["skipped"] == [[1, "paused"], [2, "away"], [4, "capacity"]]
    assert outcome.trace["fallback"] == 1


def test_open_pool_offers_every_eligible_partner_in_candidate_order():
    partners = pmap(partner(1), partner(2, paused=True), partner(3), partner(4, capacity=1),
                    partner(5))
    outcome = run(lead(), [rule(strategy="open_pool", candidates=(1, 2, 3, 4, 5))], partners,
                  LiveCounts(load={4: 1}), excluded=frozenset({5}))
    assert outcome.kind == "rule" and outcome.chosen == [1, 3]
    assert outcome.trace["eligible"] == 2
    assert outcome.trace["skipped"] == [[2, "paused"], [4, "capacity"], [5, "passed"]]
    assert outcome.rotation is None


def test_open_pool_of_everybody():
    ids = tuple(range(1, 21))
    outcome = run(lead(), [rule(strategy="open_pool", candidates=ids)], ready(*ids))
    assert outcome.chosen == list(ids) and outcome.trace["eligible"] == 20


def test_weighted_picks_by_weight_times_tier_weight():
    compiled = [rule(strategy="weighted", candidates=(1, 2), tier_weights={1: 4})]
    partners = pmap(partner(1, tier_rank=1, weight=50), partner(2, tier_rank=2, weight=100))
    rotation, counts = None, {1: 0, 2: 0}
    for _ in range(30):
        outcome = run(lead(), compiled, partners, rotation=rotation)
        rotation = outcome.rotation
        counts[outcome.chosen[0]] += 1
    assert counts == {1: 20, 2: 10}  # 50 * 4 : 100 * 1
    assert outcome.trace["state"]["total"] == 300


# --- nobody, review, account holder ----------------------------------------------------------

def test_no_rule_matches_so_the_lead_is_unassigned():
    outcome = run(lead(country="FR"),
                  [rule(conditions=[{"field": "country", "op": "eq", "value": "DE"}])],
                  ready(1, 2, 3))
    assert outcome.kind == "unassigned" and outcome.rule is None and outcome.chosen == []
    assert outcome.rotation is None
    assert outcome.trace == {"rules": [[1, "country"]], "chosen": []}


def test_no_rules_at_all_is_unassigned():
    outcome = run(lead(country="DE"), [], ready(1))
    assert outcome.kind == "unassigned" and outcome.trace == {"rules": [], "chosen": []}


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "open_pool"])
def test_a_matching_rule_with_nobody_available_is_unassigned(strategy):
    partners = pmap(partner(1, paused=True), partner(2, is_active=False), partner(3))
    outcome = run(lead(), [rule(strategy=strategy)], partners, excluded=frozenset({3}))
    assert outcome.kind == "unassigned" and outcome.rule.id == 1 and outcome.chosen == []
    assert outcome.rotation is None
    assert outcome.trace["skipped"] == [[1, "paused"], [2, "inactive"], [3, "passed"]]


def test_prequalify_sends_the_lead_to_review_unless_reviewed():
    compiled = [rule(prequalify=True, candidates=(1,))]
    review = run(lead(), compiled, ready(1))
    assert review.kind == "review" and review.chosen == [] and review.rule.id == 1
    assert review.rotation is None
    routed = run(lead(), compiled, ready(1), reviewed=True)
    assert routed.kind == "rule" and routed.chosen == [1]


def test_prequalify_applies_only_to_the_rule_that_matched():
    compiled = [rule(1, conditions=[{"field": "country", "op": "eq", "value": "DE"}],
                     prequalify=True, candidates=(1,)),
                rule(2, candidates=(2,))]
    assert run(lead(country="DE"), compiled, ready(1, 2)).kind == "review"
    assert run(lead(country="AT"), compiled, ready(1, 2)).chosen == [2]


@pytest.mark.parametrize("account, why", [
    ({"account_owner_id": 3, "account_protected": True}, "protected"),
    ({"account_owner_id": 3, "is_duplicate": True}, "duplicate"),
    ({"account_owner_id": 3, "account_protected": True, "is_duplicate": True}, "protected"),
])
def test_the_account_holder_wins_before_the_rules(account, why):
    compiled = [rule(1, candidates=(1, 2)), rule(2, candidates=(2,))]
    outcome = run(lead(account), compiled, ready(1, 2, 3))
    assert outcome.kind == "account" and outcome.chosen == [3] and outcome.rule is None
    assert outcome.trace == {"account": [3, why, "chosen"], "chosen": [3]}
    assert outcome.rotation is None
    # Even a lead no rule takes, and one a rule would send to review.
    assert run(lead(account), [], ready(3)).chosen == [3]
    assert run(lead(account), [rule(prequalify=True)], ready(1, 3)).kind == "account"


def test_an_owner_without_protection_or_duplicate_does_not_count():
    outcome = run(lead({"account_owner_id": 3}), [rule(candidates=(1,))], ready(1, 3))
    assert outcome.kind == "rule" and outcome.chosen == [1] and "account" not in outcome.trace


@pytest.mark.parametrize("facts, excluded, live, reason", [
    ({"paused": True}, (), LiveCounts(), "paused"),
    ({"is_active": False}, (), LiveCounts(), "inactive"),
    ({"away": ((TODAY, TODAY),)}, (), LiveCounts(), "away"),
    ({}, (3,), LiveCounts(), "passed"),
    ({"capacity": 1}, (), LiveCounts(load={3: 1}), "capacity"),
])
def test_an_unavailable_account_holder_is_skipped_with_its_reason(facts, excluded, live,
                                                                  reason):
    outcome = run(lead({"account_owner_id": 3, "account_protected": True}),
                  [rule(candidates=(1, 3))], pmap(partner(1), partner(3, **facts)), live,
                  excluded=frozenset(excluded))
    assert outcome.kind == "rule" and outcome.chosen == [1]
    assert outcome.trace["account"] == [3, "protected", reason]


def test_an_account_holder_that_no_longer_exists_is_skipped():
    outcome = run(lead({"account_owner_id": 99, "is_duplicate": True}),
                  [rule(candidates=(1,))], ready(1))
    assert outcome.chosen == [1] and outcome.trace["account"] == [99, "duplicate", "unknown"]


# --- the trace ----------------------------------------------------------------------------------

def test_the_trace_of_a_round_robin_decision():
    rules = [rule(1, conditions=[{"field": "country", "op": "eq", "value": "AT"}]),
             rule(2, conditions=[{"field": "country", "op": "eq", "value": "DE"},
                                 {"field": "deal_size", "op": "range", "min": "1000"}]),
             rule(3, candidates=(1, 2, 3, 4), static_skips={"tags": 2, "tier": 1})]
    partners = pmap(partner(1), partner(2, paused=True), partner(3, capacity=2), partner(4))
    outcome = run(lead(country="DE", deal_size=decimal.Decimal("10")), rules, partners,
                  LiveCounts(load={3: 2}), rotation={"last": 1})
    assert outcome.trace == {
        "rules": [[1, "country"], [2, "deal_size"], [3, "match"]],
        "strategy": "round_robin",
        "static": {"tags": 2, "tier": 1},
        "state": {"last": 1},
        "qualifying": 4,
        "skipped": [[2, "paused"], [3, "capacity"]],
        "chosen": [4],
    }


def test_the_trace_of_a_weighted_decision_counts_the_eligible():
    partners = pmap(partner(1, weight=300), partner(2, away=((TODAY, TODAY),)),
                    partner(3, weight=100))
    outcome = run(lead(), [rule(strategy="weighted")], partners, excluded=frozenset())
    trace = outcome.trace
    assert trace["rules"] == [[1, "match"]] and trace["strategy"] == "weighted"
    assert trace["eligible"] == 2 and trace["skipped"] == [[2, "away"]]
    assert trace["chosen"] == outcome.chosen == [1]
    assert trace["state"] == {"weight": 300, "total": 400}


def test_the_trace_is_json_as_stored():
    import json

    outcome = run(lead({"account_owner_id": 3, "account_protected": True}),
                  [rule(strategy="weighted", fallback=(3,))],
                  pmap(partner(1, paused=True), partner(2, paused=True), partner(3, paused=True)))
    assert json.loads(json.dumps(outcome.trace)) == outcome.trace
    assert outcome.trace["account"] == [3, "protected", "paused"]
    assert outcome.trace["fallback"] == 0 and outcome.kind == "unassigned"


# --- conditions_clean -------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ({"field": "shoe_size", "op": "eq", "value": "42"}, "unknown field “shoe_size”"),
    ({"field": "custom.unknown", "op": "eq", "value": "x"}, "unknown field “custom.unknown”"),
    ({"field": "custom.", "op": "eq", "value": "x"}, "unknown field"),
    ({"field": None, "op": "eq", "value": "x"}, "unknown field"),
    ({"field": ["country"], "op": "eq", "value": "x"}, "unknown field"),
    ({"op": "eq", "value": "x"}, "unknown field"),
    ({"field": "country", "op": "like", "value": "x"}, "op must be one of eq, in, prefix, "
                                                       "range, empty"),
    ({"field": "country"}, "op must be one of"),
    ({"field": "country", "op": "eq"}, "needs a non-empty value"),
    ({"field": "country", "op": "eq", "value": ""}, "needs a non-empty value"),
    ({"field": "country", "op": "eq", "value": "   "}, "needs a non-empty value"),
    ({"field": "country", "op": "eq", "value": ["DE"]}, "needs a non-empty value"),
    ({"field": "country", "op": "eq", "value": True}, "needs a non-empty value"),
    ({"field": "country", "op": "eq", "value": {"DE": 1}}, "needs a non-empty value"),
    ({"field": "country", "op": "in", "value": []}, "needs a non-empty value"),
    ({"field": "country", "op": "in", "value": ["DE", ""]}, "needs a non-empty value"),
    ({"field": "country", "op": "in", "value": ["DE", None]}, "needs a non-empty value"),
    ({"field": "country", "op": "in", "value": [["DE"]]}, "needs a non-empty value"),
    ({"field": "postcode", "op": "prefix", "value": [""]}, "needs a non-empty value"),
    ({"field": "deal_size", "op": "range"}, "a range needs min or max as a number"),
    ({"field": "deal_size", "op": "range", "min": "lots"}, "a range needs min or max"),
    ({"field": "deal_size", "op": "range", "min": "NaN"}, "a range needs min or max"),
    ({"field": "deal_size", "op": "range", "max": "Infinity"}, "a range needs min or max"),
    ({"field": "deal_size", "op": "range", "min": True}, "a range needs min or max"),
    ({"field": "deal_size", "op": "range", "min": "5", "max": "1"}, "min is above max"),
    ("country = DE", "expected an object with field and op"),
    (["country", "eq", "DE"], "expected an object with field and op"),
])
def test_conditions_clean_rejects_bad_input_with_a_message(spec, message):
    cleaned, errors = conditions_clean([{"field": "country", "op": "eq", "value": "DE"}, spec],
                                       custom_keys={"employees"})
    assert cleaned == [{"field": "country", "op": "eq", "value": "DE"}]
    assert len(errors) == 1
    assert errors[0].startswith("Condition 2: ")
    assert message in errors[0]


@pytest.mark.parametrize("raw", ["country=DE", {"field": "country"}, 42, True])
def test_conditions_clean_wants_a_list(raw):
    assert conditions_clean(raw, custom_keys=set()) == ([], ["Conditions must be a list."])


@pytest.mark.parametrize("raw", [None, "", []])
def test_conditions_clean_accepts_nothing(raw):
    assert conditions_clean(raw, custom_keys=set()) == ([], [])


def test_conditions_clean_reports_every_bad_condition_by_position():
    _cleaned, errors = conditions_clean([
        {"field": "nope", "op": "eq", "value": "x"},
        {"field": "country", "op": "eq", "value": "DE"},
        {"field": "country", "op": "in", "value": []},
    ], custom_keys=set())
    assert [e.split(":")[0] for e in errors] == ["Condition 1", "Condition 3"]


def test_conditions_clean_normalizes_what_it_accepts():
    cleaned, errors = conditions_clean([
        {"field": "country", "op": "eq", "value": "DE", "ignored": "extra key"},
        {"field": "country", "op": "in", "value": ["DE", 40]},
        {"field": "postcode", "op": "prefix", "value": "80"},
        {"field": "deal_size", "op": "range", "min": 1000, "max": "5000.50"},
        {"field": "deal_size", "op": "range", "max": 7},
        {"field": "region", "op": "empty", "value": "ignored"},
        {"field": "custom.employees", "op": "range", "min": "10", "max": "10"},
    ], custom_keys={"employees"})
    assert errors == []
    assert cleaned == [
        {"field": "country", "op": "eq", "value": "DE"},
        {"field": "country", "op": "in", "value": ["DE", "40"]},
        {"field": "postcode", "op": "prefix", "value": ["80"]},
        {"field": "deal_size", "op": "range", "min": "1000", "max": "5000.50"},
        {"field": "deal_size", "op": "range", "max": "7"},
        {"field": "region", "op": "empty"},
        {"field": "custom.employees", "op": "range", "min": "10", "max": "10"},
    ]
    # What was accepted compiles and behaves as written.
    compiled = rule(conditions=cleaned[:4] + cleaned[5:])
    fits = {"country": "de", "postcode": "80331", "deal_size": decimal.Decimal("5000.50"),
            "region": "", "custom.employees": "10"}
    assert rule_match(lead(**fits), [compiled])[0] is compiled
    assert rule_match(lead(**{**fits, "deal_size": decimal.Decimal("5000.51")}),
                      [compiled])[1] == [[1, "deal_size"]]
    assert rule_match(lead(**{**fits, "custom.employees": "11"}),
                      [compiled])[1] == [[1, "custom.employees"]]
