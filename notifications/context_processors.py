from functools import cache

from notifications.selectors import notifications_unread_count


def notifications(request):
    """The header bell's unread count on tenant pages.

    A callable, so the query runs only when a template shows the bell (htmx partials that
    do not never pay for it), and at most once per render.
    """
    membership = getattr(request, "membership", None)
    if membership is None or not request.user.is_authenticated:
        return {}

    @cache
    def unread() -> int:
        return notifications_unread_count(tenant=membership.tenant, user=request.user)

    return {"notifications_unread": unread}
