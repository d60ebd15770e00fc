"""API keys and idempotency records: every write of the api app."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiKey, ApiKeyScope, IdempotencyRecord
from tenancy.actors import Actor
from tenancy.models import Tenant
from tenancy.services import audit_record

KEY_PREFIX = "ls_"
_KEY_PREFIX_FORMAT = re.compile(r"[0-9a-f]{1,16}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- keys -------------------------------------------------------------------------------------

def api_key_create(
    *, tenant: Tenant, name: str, scope: str = ApiKeyScope.READ_WRITE, actor: Actor
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is shown once and never stored."""
    with transaction.atomic():
        while True:
            prefix = secrets.token_hex(6)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        key = ApiKey.objects.create(
            tenant=tenant, name=name, scope=scope, prefix=prefix, key_hash=_hash(secret),
            created_by=actor.user,
        )
        audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label,
                     action="api_key.create", target=key, after={"name": name, "scope": scope})
    return key, secret


def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        key.refresh_from_db()
        if updated:
            audit_record(tenant=key.tenant, actor=actor.user, actor_label=actor.label,
                         action="api_key.revoke", target=key, after={"revoked": True})
    return key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key for a bearer secret, or None. Constant-time comparison of the hash."""
    if not secret.startswith(KEY_PREFIX):
        return None
    prefix, sep, _rest = secret[len(KEY_PREFIX):].partition("_")
    # Prefixes are hex (api_key_create): anything else, a NUL above all, which PostgreSQL
    # refuses in a query parameter, cannot name a key and must not reach the database.
    if not sep or not _KEY_PREFIX_FORMAT.fullmatch(prefix):
        return None
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(secret)):
        return None
    if key.revoked_at is not None or not key.tenant.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):
        # At most one write a minute per key: "last used" need not cost every request a write.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


# --- idempotency keys -------------------------------------------------------------------------

@dataclass
class StoredResponse:
    status: int
    body: bytes
    content_type: str
    location: str


class IdempotencyInProgress(Exception):
    pass


class IdempotencyMismatch(Exception):
    pass


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(
    *, api_key: ApiKey, key: str, fingerprint: str
) -> tuple[IdempotencyRecord | None, StoredResponse | None]:
    """Claim `key` for this request, or return the first response to replay.

    Returns (record, None) when this request runs; (None, response) for a finished earlier
    one. Raises IdempotencyMismatch when the key came with another request, and
    IdempotencyInProgress while the first request is still running. A claim older than
    IDEMPOTENCY_STALE (its worker died) is taken over.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                tenant_id=api_key.tenant_id, api_key=api_key, key=key, fingerprint=fingerprint,
                created_at=now,
            )
        return record, None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(
        tenant_id=api_key.tenant_id, api_key=api_key, key=key
    ).first()
    if record is None:  # removed between our insert and read: the cleanup or an abandon
        return idempotency_begin(api_key=api_key, key=key, fingerprint=fingerprint)
    expired = record.created_at < now - settings.IDEMPOTENCY_TTL
    stale = record.response_status is None and (
        record.created_at < now - settings.IDEMPOTENCY_STALE
    )
    if expired or stale:
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, created_at=record.created_at
        ).update(fingerprint=fingerprint, created_at=now, response_status=None,
                 response_body=None, response_content_type="", response_location="")
        if taken:
            record.refresh_from_db()
            return record, None
        return idempotency_begin(api_key=api_key, key=key, fingerprint=fingerprint)
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch
    if record.response_status is None:
        raise IdempotencyInProgress
    return None, StoredResponse(
        status=record.response_status, body=bytes(record.response_body or b""),
        content_type=record.response_content_type, location=record.response_location,
    )


def idempotency_finish(*, record: IdempotencyRecord, response: StoredResponse) -> None:
    """Keep the response for retries; a 5xx is forgotten so that a retry runs again."""
    if response.status >= 500:
        idempotency_abandon(record=record)
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=response.status, response_body=response.body,
        response_content_type=response.content_type, response_location=response.location,
    )


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotency_purge(*, now=None) -> int:
    """Delete records past their time to live; returns how many went."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_TTL
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
