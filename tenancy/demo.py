"""Demo data for `manage.py seed_demo` (DESIGN.md, Demo data). Idempotent: keyed by slugs,
emails and external ids, so running it again changes nothing."""

from django.db import transaction

from leads.models import Lead
from partners.models import Partner, PartnerTag, Tag, Tier
from tenancy.models import Membership, Tenant, User
from tenancy.roles import Role
from tenancy.services import user_mark_email_verified

DEMO_PASSWORD = "leadshare-demo"

# name, external id, tier, regions, verticals, languages, time zone
NORTHWIND_PARTNERS = [
    ("Alpine IT", "P-ALPINE", "Gold", ["AT", "DE-BY"], ["manufacturing-erp"], ["de", "en"], "Europe/Vienna"),
    ("Baltic Systems", "P-BALTIC", "Silver", ["DE-HH", "DE-SH"], ["wholesale"], ["de", "en"], "Europe/Berlin"),
    ("Bavaria ERP Consulting", "P-BAVERP", "Gold", ["DE-BY"], ["manufacturing-erp", "food-beverage"], ["de"], "Europe/Berlin"),
    ("Rhein-Ruhr Software", "P-RHEINRUHR", "Gold", ["DE-NW"], ["manufacturing-erp", "wholesale"], ["de", "en"], "Europe/Berlin"),
    ("Schwaben Solutions", "P-SCHWABEN", "Silver", ["DE-BW"], ["manufacturing-erp"], ["de"], "Europe/Berlin"),
    ("Hansa Digital", "P-HANSA", "Silver", ["DE-HH", "DE-NI"], ["retail", "wholesale"], ["de", "en"], "Europe/Berlin"),
    ("Spree Cloud Partners", "P-SPREE", "Bronze", ["DE-BE", "DE-BB"], ["professional-services"], ["de", "en"], "Europe/Berlin"),
    ("Elbe Systemhaus", "P-ELBE", "Bronze", ["DE-SN", "DE-ST"], ["manufacturing-erp"], ["de"], "Europe/Berlin"),
    ("Main Business IT", "P-MAIN", "Silver", ["DE-HE"], ["professional-services", "retail"], ["de", "en"], "Europe/Berlin"),
    ("Thüringer ERP Werk", "P-THUERINGEN", "Bronze", ["DE-TH"], ["manufacturing-erp"], ["de"], "Europe/Berlin"),
    ("Saar Lor Data", "P-SAARLOR", "Bronze", ["DE-SL", "DE-RP"], ["wholesale"], ["de", "fr"], "Europe/Berlin"),
    ("Nordlicht Consulting", "P-NORDLICHT", "Bronze", ["DE-SH", "DE-MV"], ["food-beverage"], ["de"], "Europe/Berlin"),
    ("Wiener Prozess GmbH", "P-WIEN", "Gold", ["AT"], ["professional-services", "wholesale"], ["de", "en"], "Europe/Vienna"),
    ("Tirol Business Software", "P-TIROL", "Bronze", ["AT"], ["food-beverage", "retail"], ["de", "it"], "Europe/Vienna"),
    ("Zürich ERP AG", "P-ZUERICH", "Gold", ["CH"], ["manufacturing-erp", "professional-services"], ["de", "en"], "Europe/Zurich"),
    ("Léman Solutions SA", "P-LEMAN", "Silver", ["CH"], ["retail"], ["fr", "en"], "Europe/Zurich"),
    ("Ticino Digitale", "P-TICINO", "Bronze", ["CH"], ["food-beverage"], ["it", "de"], "Europe/Zurich"),
    ("Basel Integration Partners", "P-BASEL", "Silver", ["CH", "DE-BW"], ["manufacturing-erp"], ["de", "fr"], "Europe/Zurich"),
    ("Golden Gate ERP", "P-GOLDENGATE", "Gold", ["US-CA"], ["manufacturing-erp", "wholesale"], ["en", "es"], "America/Los_Angeles"),
    ("Empire State Systems", "P-EMPIRE", "Silver", ["US-NY", "US-NJ"], ["professional-services"], ["en"], "America/New_York"),
    ("Lone Star Business Apps", "P-LONESTAR", "Silver", ["US-TX"], ["wholesale", "retail"], ["en", "es"], "America/Chicago"),
    ("Great Lakes Integrators", "P-GREATLAKES", "Bronze", ["US-IL", "US-MI"], ["manufacturing-erp"], ["en"], "America/Chicago"),
    ("Peach State Software", "P-PEACH", "Bronze", ["US-GA"], ["food-beverage"], ["en"], "America/New_York"),
    ("Cascade Cloud Group", "P-CASCADE", "Bronze", ["US-WA", "US-OR"], ["retail"], ["en"], "America/Los_Angeles"),
    ("Rocky Mountain ERP", "P-ROCKY", "Bronze", ["US-CO"], ["manufacturing-erp"], ["en"], "America/Denver"),
    ("Bay State Solutions", "P-BAYSTATE", "Silver", ["US-MA"], ["professional-services"], ["en"], "America/New_York"),
    ("Sunshine Systems", "P-SUNSHINE", "Bronze", ["US-FL"], ["retail", "food-beverage"], ["en", "es"], "America/New_York"),
    ("Donau Data", "P-DONAU", "Silver", ["DE-BY", "AT"], ["wholesale"], ["de"], "Europe/Berlin"),
    ("Westfalen Prozesse", "P-WESTFALEN", "Bronze", ["DE-NW"], ["food-beverage"], ["de"], "Europe/Berlin"),
    ("Pfalz Software Manufaktur", "P-PFALZ", "Bronze", ["DE-RP"], ["manufacturing-erp"], ["de"], "Europe/Berlin"),
]

CONTOSO_PARTNERS = [
    ("Alpine IT", "C-ALPINE", "Premier", ["AT", "DE-BY"], ["saas"], ["de", "en"], "Europe/Vienna"),
    ("Hudson Cloud Works", "C-HUDSON", "Premier", ["US-NY"], ["saas", "fintech"], ["en"], "America/New_York"),
    ("Charles River Consulting", "C-CHARLES", "Registered", ["US-MA"], ["healthcare"], ["en"], "America/New_York"),
    ("Capitol Data Group", "C-CAPITOL", "Registered", ["US-DC", "US-VA"], ["public-sector"], ["en"], "America/New_York"),
    ("Blue Ridge Apps", "C-BLUERIDGE", "Registered", ["US-NC"], ["saas"], ["en"], "America/New_York"),
]

# email, name, language, {tenant slug: (role, partner external id or None)}
DEMO_USERS = [
    ("manager@northwind.example", "Nora Manager", "en", {"northwind": (Role.CHANNEL_MANAGER, None)}),
    ("analyst@northwind.example", "Arne Analyst", "de", {"northwind": (Role.ANALYST, None)}),
    ("anna@alpine-it.example", "Anna Berger", "de",
     {"northwind": (Role.PARTNER_REP, "P-ALPINE"), "contoso": (Role.PARTNER_REP, "C-ALPINE")}),
    ("ben@baltic-systems.example", "Ben Baltic", "en", {"northwind": (Role.PARTNER_ADMIN, "P-BALTIC")}),
    ("manager@contoso.example", "Carla Contoso", "en", {"contoso": (Role.CHANNEL_MANAGER, None)}),
]


def _tenant(*, slug, name, time_zone, language, currency, consent_required=False) -> Tenant:
    tenant, _created = Tenant.objects.update_or_create(
        slug=slug,
        defaults={"name": name, "time_zone": time_zone, "default_language": language,
                  "currency": currency, "is_active": True,
                  "lead_consent_required": consent_required},
    )
    return tenant


def _partners(*, tenant: Tenant, tiers: list[str], rows) -> None:
    tier_by_name = {}
    for rank, tier_name in enumerate(tiers, start=1):
        tier, _c = Tier.objects.update_or_create(
            tenant=tenant, name=tier_name, defaults={"rank": rank}
        )
        tier_by_name[tier_name] = tier
    for name, external_id, tier_name, regions, verticals, languages, time_zone in rows:
        local = external_id.split("-", 1)[1].lower()
        partner, _c = Partner.objects.update_or_create(
            tenant=tenant, external_id=external_id,
            defaults={
                "name": name, "tier": tier_by_name[tier_name], "time_zone": time_zone,
                "contact_email": f"leads@{local}.example", "is_active": True,
                "routing_weight": {1: 150, 2: 100}.get(tier_by_name[tier_name].rank, 70),
                "capacity": {1: 40, 2: 25}.get(tier_by_name[tier_name].rank, 15),
            },
        )
        labels = ([("region", r.lower()) for r in regions]
                  + [("vertical", v) for v in verticals]
                  + [("language", lang) for lang in languages])
        for key, value in labels:
            tag, _c = Tag.objects.get_or_create(tenant=tenant, key=key, value=value)
            PartnerTag.objects.get_or_create(tenant=tenant, partner=partner, tag=tag)


def _user(*, email, name, language) -> User:
    user = User.objects.filter(email__iexact=email).first() or User(email=email)
    user.name = name
    user.language = language
    user.set_password(DEMO_PASSWORD)
    user.save()
    user_mark_email_verified(user=user)
    return user


@transaction.atomic
def demo_seed() -> dict[str, int]:
    # A German vendor: leads without recorded consent are held, not shared (GDPR).
    northwind = _tenant(slug="northwind", name="Northwind ERP", time_zone="Europe/Berlin",
                        language="de", currency="EUR", consent_required=True)
    contoso = _tenant(slug="contoso", name="Contoso Cloud", time_zone="America/New_York",
                      language="en", currency="USD")
    _partners(tenant=northwind, tiers=["Gold", "Silver", "Bronze"], rows=NORTHWIND_PARTNERS)
    _partners(tenant=contoso, tiers=["Premier", "Registered"], rows=CONTOSO_PARTNERS)
    tenants = {"northwind": northwind, "contoso": contoso}
    for email, name, language, roles in DEMO_USERS:
        user = _user(email=email, name=name, language=language)
        for slug, (role, partner_external_id) in roles.items():
            tenant = tenants[slug]
            partner = (
                Partner.objects.for_tenant(tenant).get(external_id=partner_external_id)
                if partner_external_id else None
            )
            Membership.objects.update_or_create(
                tenant=tenant, user=user, defaults={"role": role, "partner": partner}
            )
    from leads.demo import demo_leads_seed

    demo_leads_seed(northwind=northwind)
    from routing.demo import demo_routing_seed

    demo_routing_seed(northwind=northwind)
    return {
        "tenants": len(tenants),
        "leads": Lead.objects.filter(tenant__in=tenants.values()).count(),
        "partners": Partner.objects.filter(tenant__in=tenants.values()).count(),
        "users": len(DEMO_USERS),
    }
