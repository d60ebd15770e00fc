import factory
from allauth.account.models import EmailAddress

from leads.models import Lead, PipelineStage
from partners.models import Partner, PartnerTag, Tag, Tier
from tenancy.models import Membership, Tenant, User
from tenancy.roles import Role

PASSWORD = "correct-horse-battery-staple"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    time_zone = "Europe/Berlin"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n + 1)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    tenant = factory.SubFactory(TenantFactory)
    key = "region"
    value = factory.Sequence(lambda n: f"de-{n}")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Partner {n}")
    external_id = factory.Sequence(lambda n: f"P-{n}")
    contact_email = factory.Sequence(lambda n: f"leads{n}@partner.example")


class PartnerTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerTag

    partner = factory.SubFactory(PartnerFactory)
    tag = factory.SubFactory(TagFactory, tenant=factory.SelfAttribute("..partner.tenant"))
    tenant = factory.SelfAttribute("partner.tenant")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CHANNEL_MANAGER
    partner = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role in (Role.PARTNER_ADMIN, Role.PARTNER_REP)),
        yes_declaration=factory.SubFactory(
            PartnerFactory, tenant=factory.SelfAttribute("..tenant")
        ),
        no_declaration=None,
    )


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead row as the services would write it (for state set-up in tests)."""

    class Meta:
        model = Lead

    tenant = factory.SubFactory(TenantFactory)
    external_id = factory.Sequence(lambda n: f"L-{n}")
    contact_name = factory.Faker("name")
    contact_email = factory.Sequence(lambda n: f"buyer{n}@customer{n}.example")
    email_key = factory.LazyAttribute(lambda o: o.contact_email.casefold())
    company_name = factory.Sequence(lambda n: f"Customer {n} GmbH")
    country = "DE"


class PipelineStageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PipelineStage

    tenant = factory.SubFactory(TenantFactory)
    key = factory.Sequence(lambda n: f"stage_{n}")
    name = factory.Sequence(lambda n: f"Stage {n}")
    position = factory.Sequence(lambda n: n)


def api_key_for(tenant, *, read_only=False):
    """A key and its secret for `tenant` (the secret goes in `Authorization: Bearer`)."""
    from api.models import ApiKeyScope
    from api.services import api_key_create
    from tenancy.actors import Actor

    scope = ApiKeyScope.READ if read_only else ApiKeyScope.READ_WRITE
    return api_key_create(tenant=tenant, name=f"test {scope}", scope=scope, actor=Actor())


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.CustomField"

    tenant = factory.SubFactory(TenantFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"Field {n}")
    kind = "text"
    position = factory.Sequence(lambda n: n)


# --- routing (appended for tests/routing) ------------------------------------------------------

_rule_names = iter(range(10**9))


def routing_rules_activate(tenant, *specs, actor=None, note=""):
    """Add one rule per spec (rule_create data; a name is made up if missing) to the draft,
    in order, activate the draft, and return its rules in position order."""
    from routing.rules import rule_create, ruleset_activate
    from tenancy.actors import SYSTEM

    actor = actor or SYSTEM
    for spec in specs:
        rule_create(tenant=tenant, actor=actor,
                    data={"name": f"Rule {next(_rule_names)}", **spec})
    rule_set = ruleset_activate(tenant=tenant, actor=actor, note=note)
    return list(rule_set.rules.order_by("position", "id"))


def _today():
    from django.utils import timezone

    return timezone.localdate()


class OutOfOfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "partners.OutOfOffice"

    partner = factory.SubFactory(PartnerFactory)
    tenant = factory.SelfAttribute("partner.tenant")
    starts_on = factory.LazyFunction(_today)
    ends_on = factory.SelfAttribute("starts_on")
