"""Notification emails: text and HTML, in the recipient's language, with a direct link."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from notifications.models import Notification


def notification_email_render(notification: Notification) -> tuple[str, str, str]:
    recipient = notification.recipient
    language = (recipient.language or notification.tenant.default_language
                or settings.LANGUAGE_CODE)
    context = {
        "notification": notification,
        "recipient": recipient,
        "tenant": notification.tenant,
        "url": settings.BASE_URL.rstrip("/") + notification.link if notification.link else "",
        "preferences_url": settings.BASE_URL.rstrip("/") + "/me/",
    }
    with translation.override(language):
        subject = f"[{notification.tenant.name}] {notification.text}"[:200]
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    return subject, text, html
