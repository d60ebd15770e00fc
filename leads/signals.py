"""Configuration changes bump the tenant's config_version, invalidating per-process caches."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from leads.models import CustomField
from tenancy.services import tenant_config_bump


@receiver([post_save, post_delete], sender=CustomField)
def custom_field_changed(sender, instance, **kwargs):
    tenant_config_bump(tenant_id=instance.tenant_id)
