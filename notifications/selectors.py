"""Reads of a person's notifications, shared by the portal views and the header."""

from django.db.models import QuerySet
from django.http import Http404

from notifications.models import Notification, NotificationKind, NotificationPreference
from tenancy.models import Tenant, User

# Counting stops here; the header shows "99+" (templates/portal/partials/notification_count.html).
UNREAD_COUNT_CAP = 100


def notifications_for_user(*, tenant: Tenant, user: User) -> QuerySet[Notification]:
    """The person's own notifications at one vendor, newest first."""
    return Notification.objects.for_tenant(tenant).filter(recipient=user)


def notifications_unread_count(*, tenant: Tenant, user: User) -> int:
    """Unread notifications, counted up to UNREAD_COUNT_CAP.

    One query on the partial index `notification_unread` (recipient, tenant WHERE read_at IS
    NULL); the LIMIT keeps it bounded for someone who never reads them.
    """
    return notifications_for_user(tenant=tenant, user=user).filter(
        read_at__isnull=True
    ).order_by()[:UNREAD_COUNT_CAP].count()


def notification_get_for_user(*, tenant: Tenant, user: User, public_id) -> Notification:
    """The person's own notification, or 404: another vendor's or another person's
    notification answers exactly like one that does not exist."""
    notification = notifications_for_user(tenant=tenant, user=user).filter(
        public_id=public_id
    ).first()
    if notification is None:
        raise Http404("No such notification")
    return notification


def notification_email_preferences(*, user: User) -> dict[str, bool]:
    """Whether the person wants email, per kind; a kind never chosen sends email."""
    chosen = dict(
        NotificationPreference.objects.filter(user=user).values_list("kind", "email")
    )
    return {kind.value: chosen.get(kind.value, True) for kind in NotificationKind}
