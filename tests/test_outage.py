"""A database outage answers a clean 503, never a stack trace (DESIGN.md)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
for path in ["/healthz", "/invitations/some-token/", "/vendor/"]:
    response = client.get(path)
    print(path, response.status_code, response.get("Retry-After"),
          "Traceback" in response.content.decode())
response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION="Bearer ls_abc_def")
print("api", response.status_code, response.get("Retry-After"), response["Content-Type"])
"""


def test_requests_answer_503_while_postgres_is_unreachable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        # Nothing listens on port 9: the database is "down".
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/leadshare",
        "LEADSHARE_VAR_DIR": str(tmp_path),
    })
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["/healthz"].split()[0] == "503", result.stdout + result.stderr
    assert lines["/invitations/some-token/"] == "503 30 False", result.stdout + result.stderr
    # API clients get the same answer as problem+json.
    assert lines["api"] == "503 30 application/problem+json", result.stdout + result.stderr
    # Anonymous visitors of a portal page are sent to the login without touching the database.
    assert lines["/vendor/"].split()[0] in ("302", "503")
