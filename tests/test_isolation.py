"""The tenant-isolation harness.

Resolves every URL pattern of the project and requests it with every method its view accepts,
as a member (owner: the widest role) of vendor A against vendor B's objects, which a registry
of factories keyed by URL name creates. A pattern without a registry entry fails the test, so
every new view and endpoint must join the registry.

Kinds of entry:
- TENANT: reads or writes tenant data. Expected 404 for every method, both with B's slug and
  with A's own slug in front of B's object ids; B's data never changes.
- USER: signed-in user's own pages (auth, MFA, profile, start): no tenant data of B appears.
- PUBLIC: no tenant data at all (health, schema, language switch): no data of B appears.
- ADMIN: the Django admin; a tenant member who is not staff is sent to the admin login.
- API: a REST endpoint naming one of B's objects, called with a read-write API key of A:
  404 for every method, and B's data never changes.
- API_LIST: a REST collection, called with A's key: it holds only A's rows (no marker of B
  appears), whatever the method answers.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from notifications.webhooks import secret_new
from tenancy.roles import Role
from tenancy.services import invitation_create
from tests.factories import (
    LeadFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerTagFactory,
    api_key_for,
)

TENANT, USER, PUBLIC, ADMIN = "tenant", "user", "public", "admin"
API, API_LIST = "api", "api_list"


@dataclass
class Entry:
    kind: str
    # Builds vendor B's objects and returns the URL kwargs that point at them.
    make: Callable[[dict], dict] = field(default=lambda world: {})
    # For USER/PUBLIC entries: statuses a member of A may see (never 5xx).
    expect: tuple[int, ...] = (200, 302, 400, 403, 404, 405)


def _slug(world):
    return {"tenant_slug": world["b"].slug}


def _partner(world):
    return {"tenant_slug": world["b"].slug, "public_id": world["partner_b"].public_id}


def _member(world):
    return {"tenant_slug": world["b"].slug, "public_id": world["member_b"].public_id}


def _invitation(world):
    return {"tenant_slug": world["b"].slug, "public_id": world["invitation_b"].public_id}


def _lead_api(world):
    return {"id": world["lead_b"].public_id}


API_LIST_EXPECT = (200, 201, 207, 400, 409)

REGISTRY: dict[str, Entry] = {
    "api:leads": Entry(API_LIST, expect=API_LIST_EXPECT),
    "api:leads-bulk": Entry(API_LIST, expect=API_LIST_EXPECT),
    "api:lead": Entry(API, _lead_api),
    "api:lead-by-external-id": Entry(API, lambda w: {"external_id": w["lead_b"].external_id}),
    "api:lead-activities": Entry(API, _lead_api),
    "api:lead-won": Entry(API, _lead_api),
    "api:lead-lost": Entry(API, _lead_api),
    "api:lead-decisions": Entry(API, _lead_api),
    "api:lead-reassign": Entry(API, _lead_api),
    "api:lead-route": Entry(API, _lead_api),
    "api:lead-review-release": Entry(API, _lead_api),
    "api:lead-reject": Entry(API, _lead_api),
    "api:lead-resolve-conflict": Entry(API, _lead_api),
    "api:lead-unlink-duplicate": Entry(API, _lead_api),
    "api:partners": Entry(API_LIST, expect=API_LIST_EXPECT),
    "api:partner": Entry(API, lambda w: {"id": w["partner_b"].public_id}),
    "api:partner-by-external-id": Entry(
        API, lambda w: {"external_id": w["partner_b"].external_id}),
    "api:custom-fields": Entry(API_LIST, expect=(200,)),
    "api:events": Entry(API_LIST, expect=(200,)),
    "api:pipeline-stages": Entry(API_LIST, expect=(200,)),
    "api:webhook-endpoints": Entry(API_LIST, expect=API_LIST_EXPECT),
    "api:webhook-endpoint": Entry(API, lambda w: {"id": w["endpoint_b"].public_id}),
    "api:webhook-endpoint-rotate-secret": Entry(API, lambda w: {"id": w["endpoint_b"].public_id}),
    "api:webhook-endpoint-test": Entry(API, lambda w: {"id": w["endpoint_b"].public_id}),
    "api:webhook-endpoint-deliveries": Entry(API, lambda w: {"id": w["endpoint_b"].public_id}),
    "api:webhook-delivery-redeliver": Entry(API, lambda w: {"id": w["delivery_b"].public_id}),
    "portal:home": Entry(TENANT, _slug),
    "portal:partners": Entry(TENANT, _slug),
    "portal:partner": Entry(TENANT, _partner),
    "portal:members": Entry(TENANT, _slug),
    "portal:member-role": Entry(TENANT, _member),
    "portal:member-remove": Entry(TENANT, _member),
    "portal:invitations": Entry(TENANT, _slug),
    "portal:invitation-revoke": Entry(TENANT, _invitation),
    "portal:audit": Entry(TENANT, _slug),
    "portal:notifications": Entry(TENANT, _slug),
    "portal:notifications-panel": Entry(TENANT, _slug),
    "portal:notifications-read-all": Entry(TENANT, _slug),
    "portal:notification": Entry(TENANT, lambda w: {
        "tenant_slug": w["b"].slug, "public_id": w["notification_b"].public_id}),
    "portal:notification-read": Entry(TENANT, lambda w: {
        "tenant_slug": w["b"].slug, "public_id": w["notification_b"].public_id}),
    "portal:lead": Entry(TENANT, lambda w: {
        "tenant_slug": w["b"].slug, "public_id": w["lead_b"].public_id}),
    # B's invitation link, opened by A's signed-in member (another address): refused, no data.
    "invitation_accept": Entry(USER, lambda w: {"token": w["invitation_b_token"]}, (403,)),
    "start": Entry(USER, expect=(200, 302)),
    "profile": Entry(USER, expect=(200, 302)),
    "healthz": Entry(PUBLIC, expect=(200,)),
    "set_language": Entry(PUBLIC, expect=(302, 405)),
    "api-schema": Entry(PUBLIC, expect=(200,)),
    "api-docs": Entry(PUBLIC, expect=(200, 405)),
}

# Whole families, each handled the same way by its own framework.
PREFIX_RULES: list[tuple[str, Entry]] = [
    ("admin:", Entry(ADMIN)),
    ("route:admin/", Entry(ADMIN)),
    ("account_", Entry(USER)),
    ("mfa_", Entry(USER)),
]

SAMPLE_KWARGS = {
    "key": "abc-123", "uidb36": "1", "url": "nothing/here/", "object_id": "1",
    "app_label": "partners", "content_type_id": "1", "id": "1",
}


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield name, prefix + str(pattern.pattern), pattern.callback


def all_patterns():
    return list(_walk(get_resolver().url_patterns))


def entry_for(name, route):
    key = name or f"route:{route}"
    if key in REGISTRY:
        return REGISTRY[key]
    for prefix, entry in PREFIX_RULES:
        if key.startswith(prefix):
            return entry
    return None


def methods_for(callback) -> list[str]:
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        return ["get", "post"]
    methods = [m for m in view_class.http_method_names if hasattr(view_class, m)]
    if "get" in methods and "head" not in methods:
        methods.append("head")
    return methods


def sample_path(route: str) -> str:
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_KWARGS.get(m.group(1), "x"), path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_KWARGS.get(m.group(1), "x"), path)
    return "/" + path


def test_every_url_pattern_has_a_registry_entry():
    missing = [
        name or route for name, route, _cb in all_patterns() if entry_for(name, route) is None
    ]
    assert not missing, f"URL patterns without an isolation entry: {missing}"


@pytest.fixture
def world(db, vendor_a, vendor_b):
    owner_a = MembershipFactory(tenant=vendor_a, role=Role.OWNER)
    owner_b = MembershipFactory(tenant=vendor_b, role=Role.OWNER)
    partner_b = PartnerFactory(tenant=vendor_b, name="Bravo Secret Reseller")
    PartnerTagFactory(partner=partner_b)
    member_b = MembershipFactory(tenant=vendor_b, role=Role.PARTNER_REP, partner=partner_b)
    invitation_b, token = invitation_create(
        tenant=vendor_b, invited_by=owner_b, email="bravo-invitee@example.org",
        role=Role.PARTNER_REP, partner=partner_b,
    )
    lead_b = LeadFactory(tenant=vendor_b, company_name="Bravo Secret Customer AG",
                         contact_email="secret.buyer@bravo-customer.example", partner=partner_b)
    LeadFactory(tenant=vendor_b, duplicate_of=lead_b, external_id="B-DUP")
    # A's own objects with the same shape, so "A's slug + B's id" is a real cross-object probe.
    PartnerFactory(tenant=vendor_a)
    lead_a = LeadFactory(tenant=vendor_a)
    notification_b = Notification.objects.create(
        tenant=vendor_b, recipient=owner_b.user, kind="lead_held", lead=lead_b,
        text="Bravo secret notification", link=f"/{vendor_b.slug}/leads/{lead_b.public_id}/",
        dedupe_key="isolation-b")
    Notification.objects.create(
        tenant=vendor_a, recipient=owner_a.user, kind="lead_held", lead=lead_a,
        text="Alpha notification", link=f"/{vendor_a.slug}/leads/{lead_a.public_id}/",
        dedupe_key="isolation-a")
    _key, secret_a = api_key_for(vendor_a)
    endpoint_b = WebhookEndpoint.objects.create(
        tenant=vendor_b, url="https://bravo-secret-crm.example/hooks", secret=secret_new())
    delivery_b = WebhookDelivery.objects.create(
        tenant=vendor_b, endpoint=endpoint_b, event_type="webhook.test", msg_id="test_bravo",
        payload={"type": "webhook.test"}, status="delivered")
    return {
        "lead_b": lead_b, "api_secret_a": secret_a, "notification_b": notification_b,
        "endpoint_b": endpoint_b, "delivery_b": delivery_b,
        "a": vendor_a, "b": vendor_b, "owner_a": owner_a, "partner_b": partner_b,
        "member_b": member_b, "invitation_b": invitation_b, "invitation_b_token": token,
    }


def _b_markers(world) -> list[str]:
    return [
        world["b"].name, world["partner_b"].name, str(world["partner_b"].public_id),
        str(world["member_b"].public_id), world["member_b"].user.email,
        world["invitation_b"].email, str(world["lead_b"].public_id),
        world["lead_b"].company_name, world["lead_b"].contact_email,
        world["endpoint_b"].url, str(world["endpoint_b"].public_id),
        world["notification_b"].text, str(world["notification_b"].public_id),
        world["endpoint_b"].secret, str(world["delivery_b"].public_id),
    ]


def _b_state(world):
    from leads.models import Activity, Lead, LeadEvent
    from partners.models import Partner
    from tenancy.models import Invitation, Membership

    b = world["b"]
    return (
        sorted(Membership.objects.for_tenant(b).values_list("pk", "role")),
        sorted(Invitation.objects.for_tenant(b).values_list("pk", "revoked_at")),
        sorted(Lead.objects.for_tenant(b).values_list("pk", "status", "updated_at",
                                                       "duplicate_of")),
        sorted(Partner.objects.for_tenant(b).values_list("pk", "is_active", "updated_at")),
        LeadEvent.objects.for_tenant(b).count(), Activity.objects.for_tenant(b).count(),
        sorted(WebhookEndpoint.objects.for_tenant(b).values_list(
            "pk", "url", "secret", "is_active", "event_types", "updated_at")),
        sorted(Notification.objects.for_tenant(b).values_list("pk", "read_at")),
        sorted(WebhookDelivery.objects.for_tenant(b).values_list(
            "pk", "status", "next_attempt_at", "attempts")),
    )


@pytest.mark.django_db
def test_member_of_a_never_reaches_data_of_b(client, world):
    client.force_login(world["owner_a"].user)
    markers = _b_markers(world)
    state_before = _b_state(world)
    checked = 0
    failures = []
    for name, route, callback in all_patterns():
        entry = entry_for(name, route)
        for method in methods_for(callback):
            if entry.kind in (API, API_LIST):
                kwargs = entry.make(world)
                url = reverse(name, kwargs=kwargs)
                response = getattr(client, method)(
                    url, data="{}", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {world['api_secret_a']}",
                ) if method in ("post", "put", "patch") else getattr(client, method)(
                    url, HTTP_AUTHORIZATION=f"Bearer {world['api_secret_a']}")
                checked += 1
                body = response.content.decode(errors="replace")
                expected = (404,) if entry.kind == API else entry.expect
                leaked = [m for m in markers if m in body and m not in url]
                if response.status_code not in expected or leaked:
                    failures.append((method.upper(), url, response.status_code, leaked))
                continue
            if entry.kind == TENANT:
                kwargs = entry.make(world)
                urls = [reverse(name, kwargs=kwargs)]
                if set(kwargs) - {"tenant_slug"}:
                    urls.append(reverse(name, kwargs={**kwargs, "tenant_slug": world["a"].slug}))
                expected = (404,)
            elif name and not route.startswith("admin/"):
                kwargs = entry.make(world)
                urls = [reverse(name, kwargs=kwargs) if kwargs else sample_path(route)]
                expected = entry.expect
            else:
                urls = [sample_path(route)]
                expected = entry.expect
            for url in urls:
                # Re-sign in each time: the logout views are among the patterns probed.
                client.force_login(world["owner_a"].user)
                response = getattr(client, method)(url)
                checked += 1
                body = response.content.decode(errors="replace")
                if entry.kind == ADMIN:
                    ok = (response.status_code == 302
                          and response["Location"].startswith("/admin/login/")) or (
                        name in ("admin:login", "admin:logout")
                        and response.status_code in (200, 302))
                else:
                    ok = response.status_code in expected
                # An id the request itself carried may be echoed (the language form's "next").
                leaked = [m for m in markers if m in body and m not in url]
                if not ok or leaked:
                    failures.append((method.upper(), url, response.status_code, leaked))
    assert not failures, "\n".join(map(str, failures))
    assert _b_state(world) == state_before
    assert checked > 100
