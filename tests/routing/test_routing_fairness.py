"""Fairness of the rotations, as properties over many generated sequences (Hypothesis).

Claims (README, "Routing"):
- Round robin over k equally eligible partners: after every decision each partner's count is
  within one lead of n/k.
- Weighted (weighted fair queuing, WF2Q): after every decision each partner's count is within
  one lead of its entitled share n * w_i / W.
- No burst after an absence: a partner that comes back after missing m leads is not owed
  them; in the rounds after its return it gets exactly its regular share again (round robin:
  one lead per k decisions; weighted: less than one lead above its share of the decisions
  made since it returned).
"""

import datetime
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from routing.engine import LeadFacts, LiveCounts, PartnerFacts, RuleFacts, decide

TODAY = datetime.date(2026, 11, 25)
LEAD = LeadFacts(fields={})


def _partners(weights, paused=frozenset()):
    return {i: PartnerFacts(id=i, name=f"P{i}", tier_rank=1, weight=w, tags=frozenset(),
                            paused=i in paused)
            for i, w in enumerate(weights, start=1)}


def _rule(strategy, k):
    return RuleFacts(id=1, lineage="l", name="r", conditions=(), strategy=strategy,
                     candidates=tuple(range(1, k + 1)))


def _sequence(strategy, weights, n, *, rotation=None, paused=frozenset()):
    rule = _rule(strategy, len(weights))
    partners = _partners(weights, paused)
    chosen = []
    for _ in range(n):
        outcome = decide(LEAD, [rule], partners, LiveCounts(), rotation=rotation, today=TODAY)
        rotation = outcome.rotation
        chosen.append(outcome.chosen[0])
    return chosen, rotation


@given(k=st.integers(2, 12), n=st.integers(1, 120))
def test_round_robin_keeps_every_prefix_within_one_of_n_over_k(k, n):
    chosen, _rotation = _sequence("round_robin", [100] * k, n)
    counts = Counter()
    for prefix, partner in enumerate(chosen, start=1):
        counts[partner] += 1
        for p in range(1, k + 1):
            assert abs(counts[p] - prefix / k) <= 1


@given(weights=st.lists(st.integers(1, 20), min_size=2, max_size=8), n=st.integers(1, 150))
def test_weighted_keeps_every_prefix_within_one_of_the_entitled_share(weights, n):
    chosen, _rotation = _sequence("weighted", weights, n)
    total = sum(weights)
    counts = Counter()
    for prefix, partner in enumerate(chosen, start=1):
        counts[partner] += 1
        for p, weight in enumerate(weights, start=1):
            assert abs(counts[p] - prefix * weight / total) <= 1, (prefix, counts)


@given(k=st.integers(2, 8), before=st.integers(0, 30), away=st.integers(1, 40),
       rounds=st.integers(1, 6))
def test_round_robin_gives_no_burst_after_an_absence(k, before, away, rounds):
    _chosen, rotation = _sequence("round_robin", [100] * k, before)
    _chosen, rotation = _sequence("round_robin", [100] * k, away, rotation=rotation,
                                  paused={1})
    after, _rotation = _sequence("round_robin", [100] * k, rounds * k, rotation=rotation)
    # Back from absence: one lead per round, like everybody else.
    assert Counter(after) == {p: rounds for p in range(1, k + 1)}


@given(weights=st.lists(st.integers(1, 20), min_size=2, max_size=6),
       before=st.integers(0, 40), away=st.integers(1, 60), n=st.integers(1, 80))
def test_weighted_gives_no_burst_after_an_absence(weights, before, away, n):
    _chosen, rotation = _sequence("weighted", weights, before)
    _chosen, rotation = _sequence("weighted", weights, away, rotation=rotation, paused={1})
    after, _rotation = _sequence("weighted", weights, n, rotation=rotation)
    # What the partner missed is not paid back: after its return it gets its share of the
    # decisions since then, give or take one lead.
    assert Counter(after)[1] < n * weights[0] / sum(weights) + 1


@given(strategy=st.sampled_from(["round_robin", "weighted", "performance"]),
       weights=st.lists(st.integers(1, 20), min_size=2, max_size=6), n=st.integers(1, 40))
def test_the_same_inputs_give_the_same_decisions(strategy, weights, n):
    assert _sequence(strategy, weights, n) == _sequence(strategy, weights, n)
