import pytest
from django.urls import reverse

from tenancy.errors import DomainError, NotAllowed
from tenancy.models import AuditEntry, Membership
from tenancy.roles import Role
from tenancy.services import membership_change_role, membership_remove
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_role_change_is_audited_with_before_and_after(client, owner_a):
    analyst = MembershipFactory(tenant=owner_a.tenant, role=Role.ANALYST)
    client.force_login(owner_a.user)
    prefix = str(analyst.public_id)
    response = client.post(
        reverse("portal:member-role", args=[owner_a.tenant.slug, analyst.public_id]),
        {f"{prefix}-role": Role.CHANNEL_MANAGER},
    )
    assert response.status_code == 302
    analyst.refresh_from_db()
    assert analyst.role == Role.CHANNEL_MANAGER
    entry = AuditEntry.objects.for_tenant(owner_a.tenant).get(action="membership.change_role")
    assert entry.before["role"] == Role.ANALYST
    assert entry.after["role"] == Role.CHANNEL_MANAGER
    assert entry.actor == owner_a.user


def test_owner_demotes_another_owner_but_never_themself(owner_a):
    second = MembershipFactory(tenant=owner_a.tenant, role=Role.OWNER)
    membership_change_role(membership=second, role=Role.ANALYST, actor=owner_a)
    second.refresh_from_db()
    assert second.role == Role.ANALYST
    with pytest.raises(NotAllowed):
        membership_change_role(membership=owner_a, role=Role.ANALYST, actor=owner_a)
    with pytest.raises(NotAllowed):
        membership_remove(membership=owner_a, actor=owner_a)


def test_channel_manager_cannot_touch_an_owner(owner_a):
    manager = MembershipFactory(tenant=owner_a.tenant, role=Role.CHANNEL_MANAGER)
    with pytest.raises(NotAllowed):
        membership_change_role(membership=owner_a, role=Role.ANALYST, actor=manager)
    with pytest.raises(NotAllowed):
        membership_remove(membership=owner_a, actor=manager)


def test_partner_role_needs_a_partner_of_this_vendor(owner_a, partner_b):
    analyst = MembershipFactory(tenant=owner_a.tenant, role=Role.ANALYST)
    with pytest.raises(DomainError):
        membership_change_role(membership=analyst, role=Role.PARTNER_REP, actor=owner_a)
    with pytest.raises(NotAllowed):
        membership_change_role(membership=analyst, role=Role.PARTNER_REP, partner=partner_b,
                               actor=owner_a)


def test_partner_admin_manages_only_own_team(client, vendor_a):
    admin = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_ADMIN)
    own_rep = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_REP, partner=admin.partner)
    other_rep = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_REP)
    client.force_login(admin.user)
    page = client.get(reverse("portal:members", args=[vendor_a.slug]))
    body = page.content.decode()
    assert own_rep.user.email in body
    assert other_rep.user.email not in body
    # Another partner's rep is out of scope: 404, and nothing changes.
    response = client.post(reverse("portal:member-remove", args=[vendor_a.slug,
                                                                 other_rep.public_id]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=other_rep.pk).exists()
    response = client.post(reverse("portal:member-remove", args=[vendor_a.slug,
                                                                 own_rep.public_id]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=own_rep.pk).exists()
