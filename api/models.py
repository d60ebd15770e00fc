"""API keys and idempotency records: how the vendor's CRM authenticates and retries safely."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read only")
    READ_WRITE = "read_write", _("Read and write")


class ApiKey(TenantOwned):
    """A vendor's key for the REST API. Shown once; only a prefix and the SHA-256 are kept.

    The full key reads `ls_<prefix>_<secret>`: the prefix finds the row with one indexed
    lookup, the hash of the whole key proves it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(
        _("scope"), max_length=12, choices=ApiKeyScope.choices, default=ApiKeyScope.READ_WRITE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="api_key_public_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (ls_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.READ_WRITE


class IdempotencyRecord(TenantOwned):
    """The first response to a request with an `Idempotency-Key`, replayed to retries.

    A row with no `response_status` is a request still running. Rows live at least
    IDEMPOTENCY_TTL; the periodic cleanup removes older ones.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "api_key", "key"],
                                    name="idempotency_key_per_api_key"),
        ]
        # The cleanup deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
