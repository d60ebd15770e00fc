"""Settings for the test suite: the main settings plus what DESIGN.md "Tests" asks for."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijklmnop")
os.environ.setdefault("LEADSHARE_INSECURE_HTTP", "1")

from config.settings import *  # noqa: E402,F403
from config.settings import REDIS_URL  # noqa: E402

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Tests use Redis database 15, so a running `make run` (database 0) never takes their tasks.
if REDIS_URL:
    _base = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") > 2 else REDIS_URL
    CELERY_BROKER_URL = f"{_base}/15"
    CACHES = {**CACHES, "default": {**CACHES["default"], "LOCATION": f"{_base}/15"}}  # noqa: F405
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}

# Rate limits would make repeated logins in tests flaky; one test turns them back on.
ACCOUNT_RATE_LIMITS = False

# Test receivers listen on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
