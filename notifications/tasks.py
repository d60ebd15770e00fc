"""Thin tasks: each calls one service that handles one batch and says how much it did."""

from celery import shared_task

from notifications.services import events_dispatch, notification_emails_send


@shared_task(name="notifications.events_dispatch")
def events_dispatch_task() -> int:
    return events_dispatch()


@shared_task(name="notifications.emails_send")
def notification_emails_send_task() -> int:
    return notification_emails_send()


@shared_task(name="notifications.webhooks_send")
def webhook_deliveries_send_task() -> int:
    from notifications.webhooks import webhook_deliveries_send

    return webhook_deliveries_send()
