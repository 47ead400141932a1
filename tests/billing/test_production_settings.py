"""Development defaults cannot leak into production: each check loads the real settings in a fresh process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/x",  # nothing listens there: nothing may need the database
    "DJANGO_SECRET_KEY": "production-secret-from-the-environment-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "settle.example.com",
}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SETTLE_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def setting(name: str, env: dict[str, str]) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"
    result = run(["-c", code], {"DJANGO_SETTINGS_MODULE": "billing.settings", **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_seed_demo_refuses_to_run_in_production():
    result = run(["manage.py", "seed_demo", "--customers", "2"], PRODUCTION_ENV)
    assert result.returncode != 0
    assert "seed_demo refuses to run here" in result.stderr
    assert "Traceback" not in result.stderr
