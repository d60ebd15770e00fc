"""Anything the routing engine reads bumps the tenant's config_version, so every process
drops its compiled rules and partners (routing/inputs.py) on its next decision."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from partners.models import OutOfOffice, Partner, PartnerTag, Tag, Tier
from routing.models import RoutingRule, RuleSet
from tenancy.services import tenant_config_bump

ROUTING_INPUTS = (Partner, PartnerTag, Tag, Tier, OutOfOffice, RuleSet, RoutingRule)


def routing_input_changed(sender, instance, **kwargs):
    tenant_config_bump(tenant_id=instance.tenant_id)


for model in ROUTING_INPUTS:
    post_save.connect(routing_input_changed, sender=model,
                      dispatch_uid=f"routing_input_saved_{model.__name__}")
    post_delete.connect(routing_input_changed, sender=model,
                        dispatch_uid=f"routing_input_deleted_{model.__name__}")


@receiver(m2m_changed, sender=Partner.tags.through)
def partner_tags_changed(sender, instance, **kwargs):
    tenant_config_bump(tenant_id=instance.tenant_id)
