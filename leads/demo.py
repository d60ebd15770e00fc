"""Demo leads, custom fields and pipeline stages (part of `manage.py seed_demo`).

Idempotent: rows are keyed by key or external id and created through the services, so the
demo history (events, accounts, duplicate links) looks exactly like real traffic.
"""

import datetime

from leads.models import CustomField, CustomFieldKind, Lead, PipelineStage
from leads.services import lead_create
from tenancy.actors import Actor
from tenancy.models import Tenant

CUSTOM_FIELDS = [
    ("employees", "Employees", CustomFieldKind.NUMBER, []),
    ("deployment", "Deployment", CustomFieldKind.CHOICE, ["cloud", "on-premise", "hybrid"]),
    ("current_system", "Current system", CustomFieldKind.TEXT, []),
    ("decision_by", "Decision by", CustomFieldKind.DATE, []),
]

STAGES = [("qualified", "Qualified"), ("demo", "Demo"), ("proposal", "Proposal"),
          ("negotiation", "Negotiation")]

_CONSENT = {
    "consent_basis": "consent",
    "consent_text": "I agree that a certified Northwind partner may contact me about my "
                    "request.",
    "consent_captured_at": datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC),
    "consent_source": "https://northwind.example/contact",
}

# external id, contact, email, company, website, country, region, industry, deal, extras
NORTHWIND_LEADS = [
    ("DEMO-1001", "Julia Berger", "j.berger@berger-maschinenbau.de", "Berger Maschinenbau GmbH",
     "https://www.berger-maschinenbau.de", "DE", "DE-BY", "manufacturing", "48000",
     {"employees": 120, "deployment": "cloud"}),
    ("DEMO-1002", "Lukas Gruber", "lukas.gruber@gruber-holz.at", "Gruber Holzbau",
     "gruber-holz.at", "AT", "", "manufacturing", "22000", {"deployment": "on-premise"}),
    ("DEMO-1003", "Mara Keller", "m.keller@keller-grosshandel.de", "Keller Großhandel KG",
     "", "DE", "DE-HH", "wholesale", "35000", {"current_system": "Excel and DATEV"}),
    ("DEMO-1004", "Sophie Meier", "sophie.meier@gmail.com", "Meier Feinkost", "", "CH", "",
     "food-beverage", "9000", {}),
    ("DEMO-1005", "Tom Fischer", "tom.fischer@fischer-logistik.de", "Fischer Logistik GmbH",
     "https://fischer-logistik.de", "DE", "DE-NW", "wholesale", "61000",
     {"employees": 340, "decision_by": "2027-03-31"}),
    # The same company as DEMO-1001 asks again: flagged as a duplicate of the earlier lead.
    ("DEMO-1006", "Peter Berger", "p.berger@berger-maschinenbau.de", "Berger Maschinenbau GmbH",
     "https://www.berger-maschinenbau.de", "DE", "DE-BY", "manufacturing", "", {}),
    ("DEMO-1007", "Emily Carter", "emily.carter@carter-foods.com", "Carter Foods Inc.",
     "carter-foods.com", "US", "US-CA", "food-beverage", "27000", {"deployment": "cloud"}),
    # No rule covers France: it waits for a manager's pre-qualification.
    ("DEMO-1009", "Claire Dubois", "c.dubois@dubois-conseil.fr", "Dubois Conseil",
     "dubois-conseil.fr", "FR", "", "professional-services", "12000", {}),
]


def demo_leads_seed(*, northwind: Tenant) -> int:
    for position, (key, label, kind, choices) in enumerate(CUSTOM_FIELDS):
        CustomField.objects.update_or_create(
            tenant=northwind, key=key,
            defaults={"label": label, "kind": kind, "choices": choices, "position": position},
        )
    for position, (key, name) in enumerate(STAGES):
        PipelineStage.objects.update_or_create(
            tenant=northwind, key=key, defaults={"name": name, "position": position}
        )
    existing = set(Lead.objects.for_tenant(northwind).values_list("external_id", flat=True))
    actor = Actor(label="demo data")
    created = 0
    rows = [(*row, _CONSENT) for row in NORTHWIND_LEADS]
    # No recorded consent: Northwind requires it, so this lead waits in `held`.
    rows.append(("DEMO-1008", "Felix Wagner", "f.wagner@wagner-metall.de", "Wagner Metall",
                 "", "DE", "DE-BW", "manufacturing", "15000", {}, {}))
    for (external_id, contact, email, company, website, country, region, industry, deal,
         custom, consent) in rows:
        if external_id in existing:
            continue
        lead_create(tenant=northwind, actor=actor, fields={
            "external_id": external_id, "source_kind": "platform", "contact_name": contact,
            "contact_email": email, "company_name": company, "company_website": website,
            "country": country, "region": region, "industry": industry,
            "deal_size": deal or None, "custom_fields": custom, "language": "de"
            if country in ("DE", "AT", "CH") else "en", **consent,
        })
        created += 1
    return created
