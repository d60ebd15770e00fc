"""Configuration changes bump the tenant's config_version, invalidating per-process caches."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from leads.models import CustomField
from tenancy.models import Tenant


@receiver([post_save, post_delete], sender=CustomField)
def custom_field_changed(sender, instance, **kwargs):
    Tenant.objects.filter(pk=instance.tenant_id).update(config_version=F("config_version") + 1)
