from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenancy.services import password_set_link, tenant_create


class Command(BaseCommand):
    help = "Create a vendor (tenant) and its first owner; prints a one-time set-password link."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="the owner's email address")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--language", default="en", choices=["en", "de"])
        parser.add_argument("--currency", default="EUR")

    def handle(self, *args, slug, name, owner, time_zone, language, currency, **options):
        try:
            tenant, user, created = tenant_create(
                slug=slug, name=name, owner_email=owner, time_zone=time_zone,
                default_language=language, currency=currency,
            )
        except ValidationError as exc:
            details = "; ".join(
                f"{field}: {' '.join(str(m) for m in messages)}"
                for field, messages in exc.message_dict.items()
            ) if hasattr(exc, "message_dict") else " ".join(exc.messages)
            raise CommandError(details) from None
        self.stdout.write(f"Created vendor {tenant.name} at /{tenant.slug}/")
        if created:
            self.stdout.write(f"Owner {user.email} sets a password once here:")
            self.stdout.write(password_set_link(user=user))
        else:
            self.stdout.write(f"Existing user {user.email} is now its owner.")
