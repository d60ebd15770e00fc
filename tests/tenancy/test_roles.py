"""The role matrix of DESIGN.md, enforced by the base views: each role against each page."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from partners.models import Partner
from tenancy.models import Membership
from tenancy.roles import ROLE_PERMISSIONS, Perm, Role, roles_grantable_by
from tenancy.views import TenantListView, TenantObjectView
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

PAGES = ["portal:home", "portal:partners", "portal:members", "portal:invitations", "portal:audit"]

# role -> pages it may open (200); every other page is 403 in its own tenant.
ALLOWED = {
    Role.OWNER: set(PAGES),
    Role.CHANNEL_MANAGER: set(PAGES),
    Role.ANALYST: {"portal:home", "portal:partners", "portal:members"},
    Role.PARTNER_ADMIN: {"portal:home", "portal:members", "portal:invitations"},
    Role.PARTNER_REP: {"portal:home"},
}


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_pages(client, vendor_a, role):
    membership = MembershipFactory(tenant=vendor_a, role=role)
    client.force_login(membership.user)
    for page in PAGES:
        status = client.get(reverse(page, args=[vendor_a.slug])).status_code
        expected = 200 if page in ALLOWED[role] else 403
        assert status == expected, f"{role} on {page}: {status}"


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_REP, Role.ANALYST])
def test_only_managers_write_members(client, vendor_a, role):
    membership = MembershipFactory(tenant=vendor_a, role=role)
    victim = MembershipFactory(tenant=vendor_a, role=Role.CHANNEL_MANAGER)
    client.force_login(membership.user)
    response = client.post(reverse("portal:member-remove", args=[vendor_a.slug, victim.public_id]))
    # Analysts and reps lack the permission (403); a partner admin cannot see vendor staff (404).
    assert response.status_code in (403, 404)
    assert Membership.objects.filter(pk=victim.pk).exists()


def test_grants_follow_the_matrix():
    assert set(roles_grantable_by(Role.OWNER)) == set(Role.values)
    assert Role.OWNER not in roles_grantable_by(Role.CHANNEL_MANAGER)
    assert set(roles_grantable_by(Role.PARTNER_ADMIN)) == {Role.PARTNER_ADMIN, Role.PARTNER_REP}
    assert roles_grantable_by(Role.PARTNER_REP) == []
    assert roles_grantable_by(Role.ANALYST) == []
    assert all(Perm.VIEW_PORTAL in perms for perms in ROLE_PERMISSIONS.values())


def test_non_member_gets_404_not_403(client, vendor_a, vendor_b):
    outsider = MembershipFactory(tenant=vendor_b, role=Role.OWNER)
    client.force_login(outsider.user)
    assert client.get(reverse("portal:home", args=[vendor_a.slug])).status_code == 404
    assert client.get(reverse("portal:home", args=["no-such-vendor"])).status_code == 404


def test_anonymous_is_sent_to_login(client, vendor_a):
    response = client.get(reverse("portal:partners", args=[vendor_a.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_scoped_views_may_not_override_get_queryset():
    with pytest.raises(ImproperlyConfigured):
        class Leaky(TenantListView):  # noqa: F841
            model = Partner

            def get_queryset(self):
                return Partner.objects.all()

    with pytest.raises(ImproperlyConfigured):
        class LeakyObject(TenantObjectView):  # noqa: F841
            model = Partner

            def get_object(self, queryset=None):
                return Partner.objects.first()


def test_tenant_queryset_hook_is_narrowed_to_the_tenant_even_when_it_forgets(rf, vendor_a,
                                                                            vendor_b):
    PartnerFactory(tenant=vendor_a, name="Mine")
    PartnerFactory(tenant=vendor_b, name="Theirs")

    class Forgetful(TenantListView):
        model = Partner
        template_name = "portal/partner_list.html"

        def tenant_queryset(self):
            return Partner.objects.all()  # forgets the tenant on purpose

    view = Forgetful()
    view.tenant = vendor_a
    assert [p.name for p in view.get_queryset()] == ["Mine"]


def test_for_tenant_needs_a_saved_tenant():
    from tenancy.models import Tenant

    with pytest.raises(ValueError):
        Partner.objects.for_tenant(Tenant(slug="unsaved"))
