"""Routing: the pure engine at 50, 500 and 5,000 partners, and what routing adds to an HTTP
lead create.

    python -m bench.routing [--quick] [--engine-only]

A seeded generator builds a vendor like a large real one: partners with 20 `key:value` tags
each (regions, verticals, products, languages, certifications, skills), three tiers, weights
and some capacities; 200 rules with one to three conditions (country, region, industry, deal
size range, postcode prefix, language) and one or two required tags, in a strategy mix of
round robin, weighted, performance-based, open pool and named accounts, ending in a
pre-qualified catch-all; and leads spread so they match rules at every position.

Figures:
- decision_us_50, decision_us_500, decision_us_5000: mean time of one decision of the pure
  engine (`routing.engine.rule_match` + `decide`, which is what `decide` alone costs; inputs
  ready, rotations fed back per rule lineage as the service does) in this one process (the
  engine is single-threaded: one core). Sizes alternate over several rounds; each figure is
  the best round. decisions_per_s_500 and decision_p99_us_500 come from the best round at 500
  partners. Goal: 5,000 <= 2 x 500.
- ingest_ms_routing_on / ingest_ms_routing_off: median latency of a single-lead
  POST /api/v1/leads/ for the same vendor (500 partners, 200 active rules, created through
  routing.rules) on two gunicorn servers started in the same run, one with ROUTE_ON_CREATE=1
  (the lead is routed inside the request; the answer holds its offer) and one with
  ROUTE_ON_CREATE=0 (the lead is stored in `received` and left for the sweeper). Requests
  alternate between them, one at a time. Goal: on <= 1.25 x off. Needs PostgreSQL
  (DATABASE_URL, default a `leadshare_bench` database, created if missing); Redis as broker
  and cache as in bench.ingest (BENCH_REDIS_URL, default database 14, else the embedded
  default).
"""

import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

from bench._harness import (
    DEFAULT_DATABASE_URL,
    Server,
    bench_env,
    database_ensure,
    django_setup,
    exit_on_sigterm,
    redis_queue_clear,
    redis_reachable,
    report,
)

TODAY = datetime.date(2026, 11, 25)
SIZES = (50, 500, 5000)
RULES = 200
COUNTRIES = {
    "DE": ["DE-BY", "DE-BW", "DE-NW", "DE-HE", "DE-NI", "DE-HH", "DE-BE", "DE-SN", "DE-RP",
           "DE-SH", "DE-TH", "DE-ST", "DE-MV", "DE-SL", "DE-BB", "DE-HB"],
    "AT": ["AT-9", "AT-3", "AT-6", "AT-4", "AT-5"],
    "CH": ["CH-ZH", "CH-BE", "CH-GE", "CH-BS"],
    "US": ["US-CA", "US-NY", "US-TX", "US-IL", "US-WA", "US-MA", "US-FL", "US-GA"],
}
# Where leads come from (a DACH vendor with a US business), the languages they write in,
# and how many digits a postcode has.
COUNTRY_SHARE = {"DE": 45, "AT": 15, "CH": 15, "US": 25}
COUNTRY_LANGUAGES = {"DE": {"de": 90, "en": 10}, "AT": {"de": 90, "en": 10},
                     "CH": {"de": 60, "fr": 25, "it": 10, "en": 5}, "US": {"en": 90, "es": 10}}
POSTCODE_DIGITS = {"DE": 5, "AT": 4, "CH": 4, "US": 5}
REGIONS = [r for regions in COUNTRIES.values() for r in regions]
VERTICALS = ["manufacturing", "wholesale", "retail", "food-beverage", "professional-services",
             "healthcare", "construction", "automotive", "logistics", "public-sector",
             "chemicals", "energy"]
PRODUCTS = [f"module-{n}" for n in range(10)]
LANGUAGES = ["de", "en", "fr", "it", "es", "nl"]
CERTS = [f"cert-{n}" for n in range(8)]
SKILLS = [f"skill-{n}" for n in range(40)]
STRATEGIES = (["round_robin"] * 45 + ["weighted"] * 30 + ["performance"] * 10
              + ["open_pool"] * 10 + ["named_accounts"] * 5)
ACCOUNTS = 2000  # known customer domains: account<n>.example


# --- the generator --------------------------------------------------------------------------

def partner_rows(count: int, rng: random.Random) -> list[dict]:
    """20 tags each: 2 of 33 regions, 3 of 12 verticals, 3 of 10 products, 2 of 6 languages,
    2 of 8 certifications, 8 of 40 skills."""
    rows = []
    for n in range(count):
        tags = ({f"region:{r.lower()}" for r in rng.sample(REGIONS, 2)}
                | {f"vertical:{v}" for v in rng.sample(VERTICALS, 3)}
                | {f"product:{p}" for p in rng.sample(PRODUCTS, 3)}
                | {f"language:{lang}" for lang in rng.sample(LANGUAGES, 2)}
                | {f"cert:{c}" for c in rng.sample(CERTS, 2)}
                | {f"skill:{s}" for s in rng.sample(SKILLS, 8)})
        rows.append({"n": n, "tags": sorted(tags), "tier_rank": rng.choice([1, 2, 2, 3, 3, 3]),
                     "weight": rng.choice([50, 100, 100, 150]),
                     "capacity": rng.choice([None, None, None, 20, 40])})
    return rows


def _weighted(rng: random.Random, shares: dict[str, int]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def _index(rng: random.Random, count: int) -> int:
    # One draw whatever `count` is (randrange's may vary), so the rules are the same at every
    # vendor size and only the partners they name differ.
    return int(rng.random() * count)


def rule_rows(count: int, partner_count: int, rng: random.Random) -> list[dict]:
    """`count - 1` rules, each one territory (a region; a country and an industry; or a
    country's postcode areas) plus up to three conditions in all, then a catch-all."""
    rules = []
    for n in range(count - 1):
        country = rng.choice(list(COUNTRIES))
        region = rng.choice(COUNTRIES[country])
        vertical = rng.choice(VERTICALS)
        shape = rng.random()
        if shape < 0.35:
            conditions = [{"field": "region", "op": "eq", "value": region}]
        elif shape < 0.85:
            conditions = [{"field": "country", "op": "eq", "value": country},
                          {"field": "industry", "op": "eq", "value": vertical}]
        else:
            prefixes = sorted(f"{p}" for p in rng.sample(range(10, 100), rng.randint(2, 4)))
            conditions = [{"field": "country", "op": "eq", "value": country},
                          {"field": "postcode", "op": "prefix", "value": prefixes}]
        fields = {c["field"] for c in conditions}
        extra = []
        if "industry" not in fields and rng.random() < 0.6:
            extra.append({"field": "industry", "op": "eq", "value": vertical})
        if rng.random() < 0.25:
            low = rng.choice([10000, 25000, 50000])
            bounds = {"min": str(low)}
            if rng.random() < 0.3:
                bounds["max"] = str(low * 4)
            extra.append({"field": "deal_size", "op": "range", **bounds})
        language = _weighted(rng, COUNTRY_LANGUAGES[country])
        if rng.random() < 0.15:
            extra.append({"field": "language", "op": "in", "value": [language]})
        conditions += extra[:3 - len(conditions)]
        fields = {c["field"] for c in conditions}

        required = []
        if "industry" in fields:
            required.append(f"vertical:{vertical}")
        if "region" in fields or "postcode" in fields:
            required.append(f"region:{region.lower()}")  # the postcode areas lie in it
        if "language" in fields and len(required) < 2:
            required.append(f"language:{language}")
        if not required:
            required.append(f"product:{rng.choice(PRODUCTS)}")
        if len(required) == 1 and rng.random() < 0.3:
            required.append(f"cert:{rng.choice(CERTS)}")

        strategy = rng.choice(STRATEGIES)
        rule = {"name": f"Rule {n}", "conditions": conditions, "required_tags": required[:2],
                "strategy": strategy, "min_tier_rank": rng.choice([None, None, 2]),
                "tier_weights": {"1": 3, "2": 2} if strategy == "weighted" else {},
                "share_cap_percent": rng.choice([None, None, None, 40]),
                "fallback": [_index(rng, partner_count) for _ in range(3)]
                if rng.random() < 0.2 else [],
                "named": {}}
        if strategy == "named_accounts":
            rule["named"] = {f"account{_index(rng, ACCOUNTS)}.example":
                             _index(rng, partner_count) for _ in range(20)}
        rules.append(rule)
    rules.append({"name": "Everything else: pre-qualify", "conditions": [], "required_tags": [],
                  "strategy": "round_robin", "min_tier_rank": None, "tier_weights": {},
                  "share_cap_percent": None, "fallback": [], "named": {}, "prequalify": True})
    return rules


def lead_rows(count: int, rng: random.Random) -> list[dict]:
    leads = []
    for n in range(count):
        country = _weighted(rng, COUNTRY_SHARE)
        digits = POSTCODE_DIGITS[country]
        leads.append({
            "country": country, "region": rng.choice(COUNTRIES[country]),
            "industry": rng.choice(VERTICALS),
            "language": _weighted(rng, COUNTRY_LANGUAGES[country]),
            "postcode": f"{rng.randrange(10 ** (digits - 1), 10 ** digits)}",
            "deal_size": str(rng.randrange(2, 200) * 1000),
            "domain": f"account{rng.randrange(ACCOUNTS)}.example" if rng.random() < 0.3
            else f"new{n}.example",
        })
    return leads


def conditions_valid(conditions: list[dict]) -> list[dict]:
    """The conditions as routing.rules stores them (validated, normalized)."""
    from routing.conditions import conditions_clean

    cleaned, errors = conditions_clean(conditions, custom_keys=set())
    if errors:
        raise ValueError(f"the generator made an invalid rule: {errors}")
    return cleaned


# --- the pure engine --------------------------------------------------------------------------

def engine_inputs(partner_count: int, seed: int):
    """Rules compiled by routing.inputs.rule_compile from stand-ins with the attributes it
    reads, partners as the engine config holds them, leads, and a busy day's live counts."""
    from routing.engine import LeadFacts, LiveCounts, PartnerFacts
    from routing.inputs import rule_compile

    # One stream each for partners, rules, leads and counts: every size gets the same rules
    # and the same leads.
    partners = {row["n"] + 1: PartnerFacts(
        id=row["n"] + 1, name=f"Partner {row['n']}", tier_rank=row["tier_rank"],
        weight=row["weight"], tags=frozenset(row["tags"]), capacity=row["capacity"])
        for row in partner_rows(partner_count, random.Random(seed))}
    rules = []
    for index, row in enumerate(rule_rows(RULES, partner_count, random.Random(seed + 1)),
                                start=1):
        model = SimpleNamespace(
            id=index, lineage=f"lineage-{index}", name=row["name"],
            conditions=conditions_valid(row["conditions"]), strategy=row["strategy"],
            required_tags=row["required_tags"], any_tag_groups=[],
            min_tier_rank=row["min_tier_rank"], tier_weights=row["tier_weights"],
            named_accounts={"domains": {d: p + 1 for d, p in row["named"].items()}},
            performance_floor=0.2, performance_window_days=90,
            share_cap_percent=row["share_cap_percent"], share_cap_days=30,
            prequalify=row.get("prequalify", False),
            fallback_partners=[p + 1 for p in row["fallback"]], sla_policy_id=None)
        rules.append(rule_compile(model, partners))
    leads = [LeadFacts(fields={k: v for k, v in row.items() if k != "domain"},
                       account_domain=row["domain"])
             for row in lead_rows(4000, random.Random(seed + 2))]
    # Live counts as a busy day would have them: some load, a share history, scores.
    rng = random.Random(seed + 3)
    live = LiveCounts(
        load={p: rng.randrange(0, 45) for p, f in partners.items() if f.capacity},
        share={p: rng.randrange(0, 20) for p in partners}, share_total=2000,
        performance={p: rng.random() for p in partners if rng.random() < 0.8})
    return rules, partners, leads, live


class EngineLoop:
    """One vendor size: its inputs, and the rotation positions fed back between decisions
    (per rule lineage, as routing/services.py stores them in RotationPosition rows)."""

    def __init__(self, partner_count: int, seed: int = 7):
        self.rules, self.partners, self.leads, self.live = engine_inputs(partner_count, seed)
        self.rotations: dict[str, dict] = {}
        self.next = 0
        self.kinds: dict[str, int] = {}
        self.positions: list[int] = []
        self.candidates = statistics.fmean(len(r.candidates) for r in self.rules[:-1])

    def one(self):
        from routing.engine import decide, rule_match

        lead = self.leads[self.next % len(self.leads)]
        self.next += 1
        # As the service does: the matched rule first (it locks that rule's rotation row),
        # then the decision with it. Together this is what decide() alone costs.
        matched = rule_match(lead, self.rules)
        key = matched[0].lineage if matched[0] else None
        outcome = decide(lead, self.rules, self.partners, self.live,
                         rotation=self.rotations.get(key), today=TODAY, matched=matched)
        if key is not None and outcome.rotation is not None:
            self.rotations[key] = outcome.rotation
        return outcome, matched

    def warm(self, decisions: int) -> None:
        for _ in range(decisions):
            outcome, matched = self.one()
            self.kinds[outcome.kind] = self.kinds.get(outcome.kind, 0) + 1
            self.positions.append(len(matched[1]))

    def round(self, decisions: int) -> dict:
        perf = time.perf_counter_ns
        one = self.one
        timings = [0] * decisions
        wall = perf()
        for n in range(decisions):
            started = perf()
            one()
            timings[n] = perf() - started
        wall = perf() - wall
        timings.sort()
        return {"mean_us": statistics.fmean(timings) / 1000,
                "p99_us": timings[min(decisions - 1, int(decisions * 0.99))] / 1000,
                "per_s": decisions / (wall / 1e9)}


def engine_run(decisions: int, rounds: int) -> dict:
    loops = {n: EngineLoop(n) for n in SIZES}
    for loop in loops.values():  # warm-up; also counts outcomes and matched positions
        loop.warm(min(4000, decisions))
    results: dict[int, list[dict]] = {n: [] for n in SIZES}
    for r in range(rounds):
        # Sizes alternate (in a changing order), so a noisy moment hurts all of them alike.
        order = SIZES if r % 2 == 0 else tuple(reversed(SIZES))
        for n in order:
            results[n].append(loops[n].round(decisions))
    out = {}
    for n in SIZES:
        best = min(results[n], key=lambda x: x["mean_us"])
        loop = loops[n]
        out[n] = {**best, "rounds_us": [round(x["mean_us"], 1) for x in results[n]],
                  "candidates": loop.candidates, "kinds": loop.kinds,
                  "position": statistics.fmean(loop.positions)}
    return out


# --- HTTP: routing on and off -------------------------------------------------------------------


def _earlier_vendors_delete() -> None:
    from partners.models import Partner
    from routing.models import Offer
    from tenancy.models import Tenant

    earlier = Tenant.objects.filter(slug__startswith="bench-routing-")
    # Offers protect their partner and partners their tier (history outlives a partner, a
    # tier in use cannot vanish): delete from the leaves up.
    Offer.objects.filter(tenant__in=earlier).delete()
    Partner.objects.filter(tenant__in=earlier).delete()
    earlier.delete()


def vendor_create(run_id: str, partner_count: int, seed: int):
    """A vendor with the generator's partners and tags (bulk writes, then a config bump) and
    its 200 rules created and activated through routing.rules, as a manager would."""
    from api.services import api_key_create
    from partners.models import Partner, PartnerTag, Tag, Tier
    from routing.rules import rule_create, ruleset_activate
    from tenancy.actors import Actor
    from tenancy.models import Tenant
    from tenancy.services import tenant_config_bump

    _earlier_vendors_delete()
    tenant = Tenant.objects.create(slug=f"bench-routing-{run_id}", name="Bench routing",
                                   currency="EUR", time_zone="Europe/Berlin")
    actor = Actor(label="bench")
    tiers = {rank: Tier.objects.create(tenant=tenant, name=f"Tier {rank}", rank=rank)
             for rank in (1, 2, 3)}
    rows = partner_rows(partner_count, random.Random(seed))
    partners = Partner.objects.bulk_create([
        Partner(tenant=tenant, name=f"Partner {row['n']}", external_id=f"BR-{row['n']}",
                tier=tiers[row["tier_rank"]], routing_weight=row["weight"],
                capacity=row["capacity"]) for row in rows])
    labels = sorted({t for row in rows for t in row["tags"]})
    tags = {f"{t.key}:{t.value}": t for t in Tag.objects.bulk_create(
        [Tag(tenant=tenant, key=label.split(":")[0], value=label.split(":")[1])
         for label in labels])}
    PartnerTag.objects.bulk_create([
        PartnerTag(tenant=tenant, partner=partner, tag=tags[label])
        for partner, row in zip(partners, rows, strict=True) for label in row["tags"]])
    tenant_config_bump(tenant_id=tenant.pk)  # bulk writes send no signals
    started = time.perf_counter()
    for row in rule_rows(RULES, partner_count, random.Random(seed + 1)):
        data = {"name": row["name"], "conditions": row["conditions"],
                "required_tags": row["required_tags"], "strategy": row["strategy"],
                "min_tier_rank": row["min_tier_rank"], "tier_weights": row["tier_weights"],
                "share_cap_percent": row["share_cap_percent"],
                "fallback_partners": [partners[p].pk for p in row["fallback"]],
                "prequalify": row.get("prequalify", False)}
        if row["named"]:
            data["named_accounts"] = {"domains": {d: partners[p].pk
                                                  for d, p in row["named"].items()}}
        rule_create(tenant=tenant, data=data, actor=actor)
    ruleset_activate(tenant=tenant, actor=actor, note="bench.routing")
    rules_s = time.perf_counter() - started
    _key, secret = api_key_create(tenant=tenant, name="bench", actor=actor)
    return tenant, secret, random.Random(seed + 2), rules_s


def lead_bodies(count: int, rng: random.Random, prefix: str) -> list[bytes]:
    """Leads over the API. Known customers (30%) write from their account's domain, so
    named-account rules and duplicates happen as in real traffic."""
    bodies = []
    for n, row in enumerate(lead_rows(count, rng)):
        domain = row["domain"] if row["domain"].startswith("account") \
            else f"{prefix}-{row['domain']}"
        bodies.append(json.dumps({
            "external_id": f"{prefix}-{n}", "contact_name": f"Person {n}",
            "contact_email": f"person-{prefix}-{n}@{domain}",
            "company_name": f"Company {n}", "country": row["country"], "region": row["region"],
            "postcode": row["postcode"], "industry": row["industry"],
            "language": row["language"], "deal_size": row["deal_size"], "currency": "EUR",
            "consent_basis": "consent", "consent_text": "I agree that a partner may contact me.",
            "consent_captured_at": "2026-11-20T09:00:00Z",
        }).encode())
    return bodies


def _post(conn, body: bytes, headers: dict) -> float:
    started = time.perf_counter()
    conn.request("POST", "/api/v1/leads/", body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 201:
        raise RuntimeError(f"create answered {response.status}: {payload[:300]!r}")
    return elapsed


def _queries_per_create(secret: str, bodies: list[bytes], run_id: str) -> tuple[int, int]:
    """Statements of a warm in-process create of a new customer's lead, BEGIN and COMMIT
    included, routed and not. Routed: the common path, the first generated lead offered to
    one partner without a capacity by a rule without a share cap (a capped partner adds its
    row lock and a second load, a share cap the window's count, the catch-all's review
    needs two fewer). The same fields every time; only the identity changes."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    serial = iter(range(10 ** 6))

    def create(fields: dict, route: bool) -> tuple[int, bool]:
        n = next(serial)
        body = {**fields, "external_id": f"q-{run_id}-{n}",
                "contact_email": f"buyer@q{n}-{run_id}.example"}
        with override_settings(ROUTE_ON_CREATE=route), \
                CaptureQueriesContext(connection) as queries:
            response = client.post("/api/v1/leads/", json.dumps(body),
                                   content_type="application/json")
        assert response.status_code == 201, response.content
        answer = response.json()
        common = answer["status"] == "offered" and len(answer["offers"]) == 1 and not any(
            ("FOR UPDATE" in q["sql"] and '"partners_partner"' in q["sql"])
            or q["sql"].startswith('SELECT "routing_decision"')
            for q in queries.captured_queries)
        return len(queries), common

    for body in bodies:
        fields = json.loads(body)
        create(fields, route=True)  # warms
        routed, common = create(fields, route=True)
        if common:
            break
    else:
        raise RuntimeError("no generated lead took the common routing path")
    create(fields, route=False)
    stored, _common = create(fields, route=False)
    return routed, stored


def http_run(database_url: str, redis_url: str, requests: int, partner_count: int) -> dict:
    var_dir = "" if redis_url else tempfile.mkdtemp(prefix="leadshare-bench-routing-")
    try:
        return _http_run(database_url, redis_url, var_dir, requests, partner_count)
    finally:
        if redis_url:
            redis_queue_clear(redis_url)
        if var_dir:
            shutil.rmtree(var_dir, ignore_errors=True)


def _http_run(database_url: str, redis_url: str, var_dir: str, requests: int,
              partner_count: int) -> dict:
    env = bench_env(database_url, redis_url, var_dir)
    database_ensure(database_url)
    django_setup(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run_id = str(int(time.time()))
    tenant, secret, rng, rules_s = vendor_create(run_id, partner_count, seed=11)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    env_on = {**env, "ROUTE_ON_CREATE": "1"}
    env_off = {**env, "ROUTE_ON_CREATE": "0"}
    on_ms, off_ms = [], []
    with Server(env_on, workers=1) as on, Server(env_off, workers=1) as off:
        conn_on = http.client.HTTPConnection("127.0.0.1", on.port, timeout=60)
        conn_off = http.client.HTTPConnection("127.0.0.1", off.port, timeout=60)
        # Warm-up: imports, connections, the compiled rules and partners, the SLA config.
        for n, body in enumerate(lead_bodies(80, rng, f"warm-{run_id}")):
            _post(conn_on if n % 2 else conn_off, body, headers)
        # Fresh statistics for the planner, as autovacuum keeps them on a live database
        # (the vendor's tables were filled a moment ago).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE leads_lead, leads_account, leads_leadevent, routing_offer, "
                           "routing_decision, routing_rotationposition, partners_partner")
        # The same leads on both sides (only their ids and new customers' domains differ).
        on_bodies = lead_bodies(requests, random.Random(12), f"on-{run_id}")
        off_bodies = lead_bodies(requests, random.Random(12), f"off-{run_id}")
        for n in range(requests):
            # Alternate which server goes first, so neither always follows the other.
            pair = [(conn_on, on_ms, on_bodies[n]), (conn_off, off_ms, off_bodies[n])]
            if n % 2:
                pair.reverse()
            for conn, sink, body in pair:
                sink.append(_post(conn, body, headers))
        conn_on.close()
        conn_off.close()
    queries_on, queries_off = _queries_per_create(
        secret, lead_bodies(40, random.Random(4), f"q-{run_id}"), run_id)
    from leads.models import Lead

    statuses: dict[str, dict[str, int]] = {"on": {}, "off": {}}
    for external_id, status in Lead.objects.filter(tenant=tenant).values_list(
            "external_id", "status"):
        mode = external_id.split("-", 1)[0]
        if mode in statuses:
            statuses[mode][status] = statuses[mode].get(status, 0) + 1
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    on_sorted, off_sorted = sorted(on_ms), sorted(off_ms)
    p99 = min(requests - 1, int(requests * 0.99))
    return {"on_ms": statistics.median(on_ms), "off_ms": statistics.median(off_ms),
            "on_p99_ms": on_sorted[p99], "off_p99_ms": off_sorted[p99],
            "queries_on": queries_on, "queries_off": queries_off,
            "statuses": statuses, "rules_s": rules_s, "pg_version": pg_version}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of well under a minute")
    parser.add_argument("--engine-only", action="store_true",
                        help="skip the HTTP part (no PostgreSQL needed)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not args.engine_only and not database_url.startswith("postgres"):
        print("bench.routing's HTTP part needs PostgreSQL: set DATABASE_URL=postgres://... "
              "(or --engine-only)", file=sys.stderr)
        return 2
    redis_url = ""
    if args.engine_only:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        os.environ.setdefault("DEBUG", "1")
        import django

        django.setup()
        web = None
    else:
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        if redis_url and not redis_reachable(redis_url):
            print(f"no Redis at {redis_url}: running with the embedded cache and broker",
                  file=sys.stderr)
            redis_url = ""
        web = http_run(database_url, redis_url, 150 if args.quick else 600, 500)

    decisions, rounds = (3000, 3) if args.quick else (20000, 5)
    engine = engine_run(decisions, rounds)
    e50, e500, e5000 = engine[50], engine[500], engine[5000]
    figures = {
        "decision_us_50": round(e50["mean_us"], 1),
        "decision_us_500": round(e500["mean_us"], 1),
        "decision_us_5000": round(e5000["mean_us"], 1),
        "decision_ratio_5000_to_500": round(e5000["mean_us"] / e500["mean_us"], 2),
        "decisions_per_s_500": round(e500["per_s"]),
        "decision_p99_us_500": round(e500["p99_us"], 1),
    }

    def rounds_note(e: dict) -> str:
        return (f"{e['candidates']:.1f} candidates/rule; rounds "
                + " ".join(f"{x}" for x in e["rounds_us"]))

    rows = [
        ("decision_us_50", f"{figures['decision_us_50']}", rounds_note(e50)),
        ("decision_us_500", f"{figures['decision_us_500']}", rounds_note(e500)),
        ("decision_us_5000", f"{figures['decision_us_5000']}", rounds_note(e5000)),
        ("decision_ratio_5000_to_500", f"{figures['decision_ratio_5000_to_500']}",
         "goal <= 2"),
        ("decisions_per_s_500", f"{figures['decisions_per_s_500']}",
         f"one core; lead matches rule #{e500['position']:.0f} on average"),
        ("decision_p99_us_500", f"{figures['decision_p99_us_500']}",
         "outcomes of the warm-up: "
         + ", ".join(f"{k} {v}" for k, v in sorted(e500["kinds"].items()))),
    ]
    if web is not None:
        figures.update({
            "ingest_ms_routing_on": round(web["on_ms"], 2),
            "ingest_ms_routing_off": round(web["off_ms"], 2),
            "ingest_ratio_on_to_off": round(web["on_ms"] / web["off_ms"], 3),
            "ingest_p99_ms_routing_on": round(web["on_p99_ms"], 2),
            "ingest_p99_ms_routing_off": round(web["off_p99_ms"], 2),
            "queries_per_create_routing_on": web["queries_on"],
            "queries_per_create_routing_off": web["queries_off"],
        })

        def statuses(mode: str) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(web["statuses"][mode].items()))

        rows += [
            ("ingest_ms_routing_on", f"{figures['ingest_ms_routing_on']}",
             "median single create, routed in the request"),
            ("ingest_ms_routing_off", f"{figures['ingest_ms_routing_off']}",
             "median single create, ROUTE_ON_CREATE=0"),
            ("ingest_ratio_on_to_off", f"{figures['ingest_ratio_on_to_off']}", "goal <= 1.25"),
            ("ingest_p99_ms_routing_on", f"{figures['ingest_p99_ms_routing_on']}",
             "leads: " + statuses("on")),
            ("ingest_p99_ms_routing_off", f"{figures['ingest_p99_ms_routing_off']}",
             "leads: " + statuses("off")),
            ("queries_per_create_routing_on", f"{web['queries_on']}",
             "common path: offered to one partner, no capacity or share cap; in-process"),
            ("queries_per_create_routing_off", f"{web['queries_off']}",
             "the same lead; warm, BEGIN/COMMIT included"),
        ]
        backend = "Redis cache and broker" if redis_url else \
            "no Redis (embedded cache and broker)"
        print(f"\nHTTP: 500 partners, 200 rules (created through routing.rules in "
              f"{web['rules_s']:.1f} s), one gunicorn sync worker per mode, one request at a "
              f"time; PostgreSQL {web['pg_version']}, {backend}")
    print(f"{os.cpu_count()} cores; engine in one process (one core), {RULES} rules, 20 tags "
          f"per partner, {rounds} rounds of {decisions} decisions per size, best round")
    report("routing", rows, figures)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are stopped by then (Server.__exit__)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
