from django.core.management.base import BaseCommand, CommandError

from api.models import ApiKeyScope
from api.services import api_key_create
from tenancy.actors import Actor
from tenancy.selectors import tenant_get_by_slug


class Command(BaseCommand):
    help = "Create an API key for a vendor; the key alone is printed on the last line."

    def add_arguments(self, parser):
        parser.add_argument("tenant_slug")
        parser.add_argument("key_name")
        parser.add_argument("--read-only", action="store_true",
                            help="the key may read but not write")

    def handle(self, *args, tenant_slug, key_name, read_only, **options):
        tenant = tenant_get_by_slug(slug=tenant_slug)
        if tenant is None:
            raise CommandError(f"No active vendor with slug “{tenant_slug}”.")
        name = key_name.strip()
        if not name or len(name) > 100:
            raise CommandError("The key name must be 1 to 100 characters.")
        scope = ApiKeyScope.READ if read_only else ApiKeyScope.READ_WRITE
        key, secret = api_key_create(tenant=tenant, name=name, scope=scope,
                                     actor=Actor(label="manage.py create_api_key"))
        self.stderr.write(
            f"API key “{key.name}” ({key.get_scope_display()}) for {tenant.name}. "
            "It is shown only now:"
        )
        self.stdout.write(secret)
