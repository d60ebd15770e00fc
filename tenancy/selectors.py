from django.db.models import QuerySet
from django.http import Http404

from tenancy.models import Membership, Tenant, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .select_related("tenant", "partner")
        .order_by("tenant__name")
    )


def membership_get_for_user(*, user: User, tenant_slug: str) -> Membership:
    """The user's membership in the tenant named by the URL, or 404.

    A tenant the user does not belong to answers exactly like one that does not exist.
    """
    membership = (
        Membership.objects.filter(user=user, tenant__slug=tenant_slug, tenant__is_active=True)
        .select_related("tenant", "partner")
        .first()
    )
    if membership is None:
        raise Http404("No such vendor")
    return membership


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug, is_active=True).first()
