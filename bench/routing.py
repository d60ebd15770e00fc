"""Routing: the pure engine at 50, 500 and 5,000 partners, and what routing adds to an HTTP
lead create.

    python -m bench.routing [--quick]

A seeded generator builds a vendor like a large real one: partners with 20 `key:value` tags
each (regions, verticals, products, languages, certifications, skills), three tiers, weights
and some capacities; 200 rules with one to three conditions and one or two required tags, in
a strategy mix of round robin, weighted, performance-based, open pool and named accounts,
ending in a pre-qualified catch-all; and leads spread so they match rules at every position.

Figures:
- decision_us_50, decision_us_500, decision_us_5000: mean time of one `routing.engine.decide`
  call on one core (inputs ready, rotations fed back per rule as the service does);
  decisions_per_s_500 and decision_p99_us_500 at 500 partners. Goal: 5,000 <= 2 x 500.
- ingest_ms_routing_on / ingest_ms_routing_off: median latency of a single-lead
  POST /api/v1/leads/ for the same vendor (500 partners, 200 active rules) on two gunicorn
  servers started in the same run, one with ROUTE_ON_CREATE=1 (the lead is routed inside the
  request; the answer holds its offer) and one with ROUTE_ON_CREATE=0 (the lead is stored and
  left for the sweeper). Requests alternate between them, one at a time. Goal: on <= 1.25 x
  off. Needs PostgreSQL (DATABASE_URL, default a `leadshare_bench` database).
"""

import argparse
import datetime
import http.client
import json
import os
import random
import statistics
import sys
import time
from types import SimpleNamespace

from bench._harness import (
    DEFAULT_DATABASE_URL,
    Server,
    bench_env,
    database_ensure,
    exit_on_sigterm,
    report,
)

TODAY = datetime.date(2026, 11, 25)
COUNTRIES = {
    "DE": ["DE-BY", "DE-BW", "DE-NW", "DE-HE", "DE-NI", "DE-HH", "DE-BE", "DE-SN", "DE-RP",
           "DE-SH", "DE-TH", "DE-ST", "DE-MV", "DE-SL", "DE-BB", "DE-HB"],
    "AT": ["AT-9", "AT-3", "AT-6", "AT-4", "AT-5"],
    "CH": ["CH-ZH", "CH-BE", "CH-GE", "CH-BS"],
    "US": ["US-CA", "US-NY", "US-TX", "US-IL", "US-WA", "US-MA", "US-FL", "US-GA"],
}
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


# --- the generator --------------------------------------------------------------------------

def partner_rows(count: int, rng: random.Random) -> list[dict]:
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


def rule_rows(count: int, partner_count: int, rng: random.Random) -> list[dict]:
    rules = []
    for n in range(count - 1):
        country = rng.choice(list(COUNTRIES))
        region = rng.choice(COUNTRIES[country])
        vertical = rng.choice(VERTICALS)
        conditions = [{"field": "country", "op": "eq", "value": country},
                      {"field": "industry", "op": "eq", "value": vertical}]
        if rng.random() < 0.5:
            conditions.insert(1, {"field": "region", "op": "eq", "value": region})
        if rng.random() < 0.3:
            conditions.append({"field": "deal_size", "op": "range",
                               "min": str(rng.choice([10000, 25000, 50000]))})
        strategy = rng.choice(STRATEGIES)
        required = [f"vertical:{vertical}"]
        if "region" in {c["field"] for c in conditions} or rng.random() < 0.5:
            required.append(f"region:{region.lower()}")
        rule = {"name": f"Rule {n}", "conditions": conditions, "required_tags": required,
                "strategy": strategy, "min_tier_rank": rng.choice([None, None, 2]),
                "tier_weights": {"1": 3, "2": 2} if strategy == "weighted" else {},
                "share_cap_percent": rng.choice([None, None, None, 40]),
                "fallback": rng.sample(range(partner_count), 3) if rng.random() < 0.2 else [],
                "named": {}}
        if strategy == "named_accounts":
            rule["named"] = {f"account{rng.randrange(2000)}.example": rng.randrange(partner_count)
                             for _ in range(20)}
        rules.append(rule)
    rules.append({"name": "Everything else: pre-qualify", "conditions": [], "required_tags": [],
                  "strategy": "round_robin", "min_tier_rank": None, "tier_weights": {},
                  "share_cap_percent": None, "fallback": [], "named": {}, "prequalify": True})
    return rules


def lead_rows(count: int, rng: random.Random) -> list[dict]:
    leads = []
    for n in range(count):
        country = rng.choice(list(COUNTRIES))
        leads.append({
            "country": country, "region": rng.choice(COUNTRIES[country]),
            "industry": rng.choice(VERTICALS),
            "language": {"DE": "de", "AT": "de", "CH": rng.choice(["de", "fr"])}.get(
                country, "en"),
            "deal_size": str(rng.randrange(2, 200) * 1000),
            "domain": f"account{rng.randrange(2000)}.example" if rng.random() < 0.3
            else f"new{n}.example",
        })
    return leads


# --- the pure engine --------------------------------------------------------------------------

def engine_inputs(partner_count: int, seed: int):
    from routing.engine import LeadFacts, LiveCounts, PartnerFacts
    from routing.inputs import rule_compile

    rng = random.Random(seed)
    partners = {row["n"] + 1: PartnerFacts(
        id=row["n"] + 1, name=f"Partner {row['n']}", tier_rank=row["tier_rank"],
        weight=row["weight"], tags=frozenset(row["tags"]), capacity=row["capacity"])
        for row in partner_rows(partner_count, rng)}
    rules = []
    for index, row in enumerate(rule_rows(200, partner_count, rng), start=1):
        model = SimpleNamespace(
            id=index, lineage=f"lineage-{index}", name=row["name"],
            conditions=row["conditions"], strategy=row["strategy"],
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
             for row in lead_rows(4000, rng)]
    # Live counts as a busy day would have them: some load, a share history, scores.
    live = LiveCounts(
        load={p: rng.randrange(0, 45) for p, f in partners.items() if f.capacity},
        share={p: rng.randrange(0, 20) for p in partners}, share_total=2000,
        performance={p: rng.random() for p in partners if rng.random() < 0.8})
    return rules, partners, leads, live


def engine_run(partner_count: int, decisions: int, seed: int = 7) -> dict:
    from routing.engine import decide, rule_match

    rules, partners, leads, live = engine_inputs(partner_count, seed)
    rotations: dict[str, dict] = {}

    def one(lead):
        matched = rule_match(lead, rules)  # as the service does: it locks the rule's rotation
        key = matched[0].lineage if matched[0] else None
        outcome = decide(lead, rules, partners, live, rotation=rotations.get(key), today=TODAY,
                         matched=matched)
        if key is not None and outcome.rotation is not None:
            rotations[key] = outcome.rotation
        return outcome

    for lead in leads[:500]:  # warm-up
        one(lead)
    timings = []
    kinds: dict[str, int] = {}
    perf = time.perf_counter_ns
    for n in range(decisions):
        lead = leads[n % len(leads)]
        started = perf()
        outcome = one(lead)
        timings.append(perf() - started)
        kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
    timings.sort()
    candidates = statistics.mean(len(r.candidates) for r in rules)
    return {"mean_us": statistics.fmean(timings) / 1000,
            "p99_us": timings[int(len(timings) * 0.99) - 1] / 1000,
            "per_s": 1e9 / statistics.fmean(timings), "kinds": kinds,
            "candidates_per_rule": candidates}


# --- HTTP: routing on and off -------------------------------------------------------------------

def _django_setup(env: dict) -> None:
    for key, value in env.items():
        if key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "SECRET_KEY",
                   "ALLOWED_HOSTS", "LEADSHARE_INSECURE_HTTP", "API_RATE_LIMIT", "LOG_LEVEL",
                   "LEADSHARE_VAR_DIR"):
            os.environ[key] = value
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def vendor_create(run_id: str, partner_count: int, seed: int):
    """A vendor with the generator's partners, tags and 200 active rules (bulk writes)."""
    from api.services import api_key_create
    from partners.models import Partner, PartnerTag, Tag, Tier
    from routing.models import Offer, RoutingRule, RuleSet, RuleSetStatus
    from tenancy.actors import Actor
    from tenancy.models import Tenant
    from tenancy.services import tenant_config_bump

    earlier = Tenant.objects.filter(slug__startswith="bench-routing-")
    # Offers protect their partner and partners their tier (history outlives a partner, a
    # tier in use cannot vanish): delete from the leaves up.
    Offer.objects.filter(tenant__in=earlier).delete()
    Partner.objects.filter(tenant__in=earlier).delete()
    earlier.delete()
    tenant = Tenant.objects.create(slug=f"bench-routing-{run_id}", name="Bench routing",
                                   currency="EUR", time_zone="Europe/Berlin")
    rng = random.Random(seed)
    tiers = {rank: Tier.objects.create(tenant=tenant, name=f"Tier {rank}", rank=rank)
             for rank in (1, 2, 3)}
    rows = partner_rows(partner_count, rng)
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
    rule_set = RuleSet.objects.create(tenant=tenant, version=1, status=RuleSetStatus.ACTIVE)
    RoutingRule.objects.bulk_create([
        RoutingRule(tenant=tenant, rule_set=rule_set, position=n, name=row["name"],
                    conditions=row["conditions"], required_tags=row["required_tags"],
                    strategy=row["strategy"], min_tier_rank=row["min_tier_rank"],
                    tier_weights=row["tier_weights"],
                    named_accounts={"domains": {d: partners[p].pk
                                                for d, p in row["named"].items()}},
                    share_cap_percent=row["share_cap_percent"],
                    fallback_partners=[partners[p].pk for p in row["fallback"]],
                    prequalify=row.get("prequalify", False))
        for n, row in enumerate(rule_rows(200, partner_count, rng))])
    tenant_config_bump(tenant_id=tenant.pk)  # bulk writes send no signals
    _key, secret = api_key_create(tenant=tenant, name="bench", actor=Actor(label="bench"))
    return tenant, secret, rng


def lead_bodies(count: int, rng: random.Random, prefix: str) -> list[bytes]:
    bodies = []
    for n, row in enumerate(lead_rows(count, rng)):
        bodies.append(json.dumps({
            "external_id": f"{prefix}-{n}", "contact_name": f"Person {n}",
            "contact_email": f"person{n}@{prefix}-{row['domain']}",
            "company_name": f"Company {n}", "country": row["country"], "region": row["region"],
            "industry": row["industry"], "language": row["language"],
            "deal_size": row["deal_size"], "currency": "EUR", "consent_basis": "consent",
            "consent_text": "I agree that a partner may contact me.",
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


def http_run(database_url: str, requests: int, partner_count: int) -> dict:
    import tempfile

    var_dir = tempfile.mkdtemp(prefix="leadshare-bench-routing-")
    env = bench_env(database_url, "", var_dir)
    database_ensure(database_url)
    _django_setup(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run_id = str(int(time.time()))
    tenant, secret, rng = vendor_create(run_id, partner_count, seed=11)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    env_on = {**env, "ROUTE_ON_CREATE": "1"}
    env_off = {**env, "ROUTE_ON_CREATE": "0"}
    on_ms, off_ms = [], []
    with Server(env_on, workers=1) as on, Server(env_off, workers=1) as off:
        conn_on = http.client.HTTPConnection("127.0.0.1", on.port, timeout=60)
        conn_off = http.client.HTTPConnection("127.0.0.1", off.port, timeout=60)
        warm = lead_bodies(60, rng, f"warm-{run_id}")
        for n, body in enumerate(warm):
            _post(conn_on if n % 2 else conn_off, body, headers)
        bodies = lead_bodies(2 * requests, rng, f"r-{run_id}")
        for n in range(requests):
            # Alternate which server goes first, so neither always follows the other.
            pair = [(conn_on, on_ms, bodies[2 * n]), (conn_off, off_ms, bodies[2 * n + 1])]
            if n % 2:
                pair.reverse()
            for conn, sink, body in pair:
                sink.append(_post(conn, body, headers))
    from leads.models import Lead

    statuses: dict[str, int] = {}
    for status in Lead.objects.filter(tenant=tenant).values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    return {"on_ms": statistics.median(on_ms), "off_ms": statistics.median(off_ms),
            "on_p99_ms": sorted(on_ms)[int(len(on_ms) * 0.99) - 1], "statuses": statuses}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of a minute or two")
    parser.add_argument("--engine-only", action="store_true",
                        help="skip the HTTP part (no PostgreSQL needed)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not args.engine_only and not database_url.startswith("postgres"):
        print("bench.routing's HTTP part needs PostgreSQL: set DATABASE_URL=postgres://... "
              "(or --engine-only)", file=sys.stderr)
        return 2
    if args.engine_only:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        os.environ.setdefault("DEBUG", "1")
        import django

        django.setup()
        http = None
    else:
        http = http_run(database_url, 150 if args.quick else 500, 500)

    decisions = 5000 if args.quick else 30000
    engine = {n: engine_run(n, decisions) for n in (50, 500, 5000)}
    figures = {
        "decision_us_50": round(engine[50]["mean_us"], 1),
        "decision_us_500": round(engine[500]["mean_us"], 1),
        "decision_us_5000": round(engine[5000]["mean_us"], 1),
        "decision_ratio_5000_to_500": round(engine[5000]["mean_us"] / engine[500]["mean_us"], 2),
        "decisions_per_s_500": round(engine[500]["per_s"]),
        "decision_p99_us_500": round(engine[500]["p99_us"], 1),
    }
    rows = [
        ("decision_us_50", f"{figures['decision_us_50']}",
         f"{engine[50]['candidates_per_rule']:.1f} candidates per rule"),
        ("decision_us_500", f"{figures['decision_us_500']}",
         f"{engine[500]['candidates_per_rule']:.1f} candidates per rule"),
        ("decision_us_5000", f"{figures['decision_us_5000']}",
         f"{engine[5000]['candidates_per_rule']:.1f} candidates per rule"),
        ("decision_ratio_5000_to_500", f"{figures['decision_ratio_5000_to_500']}", "goal <= 2"),
        ("decisions_per_s_500", f"{figures['decisions_per_s_500']}", "one core"),
        ("decision_p99_us_500", f"{figures['decision_p99_us_500']}",
         "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(engine[500]["kinds"].items()))),
    ]
    if http is not None:
        figures.update({
            "ingest_ms_routing_on": round(http["on_ms"], 2),
            "ingest_ms_routing_off": round(http["off_ms"], 2),
            "ingest_ratio_on_to_off": round(http["on_ms"] / http["off_ms"], 3),
            "ingest_p99_ms_routing_on": round(http["on_p99_ms"], 2),
        })
        rows += [
            ("ingest_ms_routing_on", f"{figures['ingest_ms_routing_on']}",
             "median single create, routed in the request"),
            ("ingest_ms_routing_off", f"{figures['ingest_ms_routing_off']}",
             "median single create, ROUTE_ON_CREATE=0"),
            ("ingest_ratio_on_to_off", f"{figures['ingest_ratio_on_to_off']}", "goal <= 1.25"),
            ("ingest_p99_ms_routing_on", f"{figures['ingest_p99_ms_routing_on']}",
             "lead statuses: " + ", ".join(f"{k} {v}"
                                           for k, v in sorted(http["statuses"].items()))),
        ]
    print(f"\n{os.cpu_count()} cores; engine on one core, 200 rules, 20 tags per partner; "
          "HTTP: 500 partners, one gunicorn worker per mode, one request at a time")
    report("routing", rows, figures)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
