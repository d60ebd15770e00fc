"""Races that only real row locks settle: run on PostgreSQL with real threads."""


import pytest

from tenancy.errors import DomainError
from tenancy.models import Membership
from tenancy.roles import Role
from tenancy.services import invitation_accept, invitation_create, membership_change_role
from tests.concurrency import race
from tests.factories import MembershipFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_invitation_link_clicked_twice_at_once_makes_one_membership():
    tenant = TenantFactory()
    manager = MembershipFactory(tenant=tenant, role=Role.CHANNEL_MANAGER)
    for attempt in range(5):
        email = f"racer{attempt}@example.org"
        _inv, token = invitation_create(tenant=tenant, invited_by=manager, email=email,
                                        role=Role.ANALYST)
        results = race(
            lambda token=token: invitation_accept(token=token, user=None, name="A",
                                                  password="river-stone-7781-calm"),
            lambda token=token: invitation_accept(token=token, user=None, name="B",
                                                  password="river-stone-7781-calm"),
        )
        assert sum(isinstance(r, Membership) for r in results) == 1, results
        assert all(isinstance(r, (Membership, DomainError)) for r in results), results
        assert Membership.objects.filter(user__email=email).count() == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    for _attempt in range(5):
        tenant = TenantFactory()
        first = MembershipFactory(tenant=tenant, role=Role.OWNER)
        second = MembershipFactory(tenant=tenant, role=Role.OWNER)
        results = race(
            lambda a=first, b=second: membership_change_role(
                membership=b, role=Role.ANALYST, actor=a),
            lambda a=first, b=second: membership_change_role(
                membership=a, role=Role.ANALYST, actor=b),
        )
        assert all(isinstance(r, (Membership, DomainError)) for r in results), results
        assert Membership.objects.for_tenant(tenant).filter(role=Role.OWNER).count() == 1
