"""Bearer API keys: authentication and the read/write scope."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from api.models import ApiKey
from api.services import api_key_authenticate


class ApiClient:
    """The authenticated party of an API request: a vendor's CRM holding a key."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.tenant = key.tenant

    def __str__(self) -> str:
        return f"api key: {self.key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as `Authorization: Bearer <key>`.")
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        key = api_key_authenticate(secret=secret)
        if key is None:
            # Wrong, revoked and unknown keys look the same to the caller.
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return ApiClient(key), key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without a valid key.
        return 'Bearer realm="api"'


class HasApiKeyScope(permissions.BasePermission):
    """Any active key reads; writing needs a read-write key (else 403)."""

    message = _("This API key is read-only.")

    def has_permission(self, request, view):
        client = request.user
        if not isinstance(client, ApiClient):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return client.key.can_write


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A vendor API key (`ls_…`), created in the admin or with "
                           "`manage.py create_api_key`.",
        }
