from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenancy.demo import DEMO_PASSWORD, DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = "Load the demo vendors, partners and logins (idempotent; refuses when DEBUG is off)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo writes well-known passwords; it runs only with DEBUG=1.")
        counts = demo_seed()
        self.stdout.write(
            f"Demo ready: {counts['tenants']} vendors, {counts['partners']} partners, "
            f"{counts['leads']} leads, {counts['users']} logins (password: {DEMO_PASSWORD})"
        )
        for email, _name, _language, roles in DEMO_USERS:
            where = ", ".join(f"{slug}: {role.label}" for slug, (role, _p) in roles.items())
            self.stdout.write(f"  {email:32} {where}")
        self.stdout.write("API key for the demo CRM: python manage.py create_api_key northwind crm")
