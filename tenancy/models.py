import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.roles import PARTNER_ROLES, Role

# Top-level URL segments a tenant slug may not take. tests/tenancy/test_slugs.py fails when a
# new top-level route is added to config/urls.py without being listed here.
RESERVED_SLUGS = frozenset(
    {
        "accounts", "admin", "api", "app", "assets", "favicon.ico", "healthz", "help", "i18n",
        "invitations", "login", "logout", "me", "media", "robots.txt", "settings", "signup",
        "static", "status", "support", "www",
    }
)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("“%(value)s” is not a known time zone."), params={"value": value}
        ) from None


def validate_tenant_slug(value: str) -> None:
    if value.lower() in RESERVED_SLUGS:
        raise ValidationError(
            _("“%(value)s” is reserved; choose another."), params={"value": value}
        )


slug_format = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    _("Use 1 to 50 lower-case letters, digits and hyphens, not starting or ending with a hyphen."),
)


def language_choices():
    return settings.LANGUAGES


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Email is the login; what they may do per vendor comes from Membership."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=10, blank=True, choices=settings.LANGUAGES,
        help_text=_("Empty: follow the browser."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone],
        help_text=_("Empty: the vendor's time zone."),
    )
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Tenant(models.Model):
    """A vendor: the unit of isolation. Everything a vendor owns carries its tenant_id."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("slug"), max_length=50, unique=True, validators=[slug_format, validate_tenant_slug],
        help_text=_("Appears in portal addresses: /<slug>/."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    default_language = models.CharField(
        _("default language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="EUR",
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code."))],
    )
    lead_consent_required = models.BooleanField(
        _("leads need recorded consent"), default=False,
        help_text=_("Leads without a legal basis are held instead of routed."),
    )
    protection_days = models.PositiveSmallIntegerField(
        _("protection period (days)"), default=90,
        help_text=_("How long a partner-registered account stays with that partner."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Bumped whenever the vendor's configuration (custom fields, and later rules and
    # policies) changes: processes cache what they derive from it per (tenant, version), and
    # the tenant row every request loads anyway tells them when that cache is stale.
    config_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("vendor")
        verbose_name_plural = _("vendors")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> "TenantQuerySet":
        if tenant is None or tenant.pk is None:
            raise ValueError("for_tenant() needs a saved tenant")
        return self.filter(tenant=tenant)


TenantManager = models.Manager.from_queryset(TenantQuerySet)


class TenantOwned(models.Model):
    """Base of every tenant-owned table: a non-null tenant_id and the for_tenant() entry point.

    Unique constraints that identify a row within a tenant start with tenant_id, so the schema
    can be distributed by Citus on that column.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True


class Membership(TenantOwned):
    """A user's role at one vendor; partner roles also name the partner they work for."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, null=True, blank=True,
        related_name="memberships",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "public_id"], name="membership_public_id"),
            # Partner roles belong to exactly one partner; vendor roles to none.
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=sorted(PARTNER_ROLES), partner__isnull=False)
                    | (~models.Q(role__in=sorted(PARTNER_ROLES))
                       & models.Q(partner__isnull=True))
                ),
                name="membership_partner_matches_role",
            ),
        ]
        indexes = [models.Index(fields=["public_id"])]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant_id}: {self.role}"

    @property
    def is_partner_side(self) -> bool:
        return self.role in PARTNER_ROLES


class Invitation(TenantOwned):
    """A single-use, email-bound, expiring invitation into a role.

    Only the SHA-256 of the token is stored; the token itself lives in the emailed link.
    """

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, null=True, blank=True,
        related_name="invitations",
    )
    token_hash = models.CharField(max_length=64, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="invitation_public_id"),
            models.UniqueConstraint(fields=["tenant", "token_hash"], name="invitation_token"),
        ]
        # The accept link carries only the token: looked up by its hash across tenants.
        indexes = [models.Index(fields=["token_hash"]), models.Index(fields=["public_id"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.role}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_open(self) -> bool:
        return self.status == "pending"


class AuditEntry(TenantOwned):
    """Who did what to which object, with a before/after summary. Append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept even if the user is deleted later, and used for non-user actors (API key, command).
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-id"]
        # The audit page lists a tenant's newest entries first.
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_repr}"
