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
    result = run(["-c", code], {"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_seed_demo_refuses_to_run_in_production():
    result = run(["manage.py", "seed_demo", "--customers", "2"], PRODUCTION_ENV)
    assert result.returncode != 0
    assert "seed_demo refuses to run here" in result.stderr
    assert "Traceback" not in result.stderr


def test_development_generates_a_private_key_per_checkout(tmp_path):
    env = {"DJANGO_ENV": "development", "SETTLE_VAR_DIR": str(tmp_path)}
    key = setting("SECRET_KEY", env)
    path = tmp_path / "secret_key"
    assert repr(path.read_text().strip()) == key and len(key) > 50
    assert path.stat().st_mode & 0o777 == 0o600
    assert setting("SECRET_KEY", env) == key  # the same key on the next start
    assert setting("SECRET_KEY", {**env, "SETTLE_VAR_DIR": str(tmp_path / "other")}) != key


def test_the_environment_key_wins_and_no_file_is_written(tmp_path):
    env = {"DJANGO_ENV": "development", "SETTLE_VAR_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "from-the-environment"}
    assert setting("SECRET_KEY", env) == repr("from-the-environment")
    assert not (tmp_path / "secret_key").exists()


def test_no_secret_key_is_committed():
    settings_dir = ROOT / "billing" / "settings"
    for path in settings_dir.glob("*.py"):
        assert "insecure" not in path.read_text(), path


def test_production_refuses_to_start_without_its_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = run(["-c", "import django; django.setup()"], {"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set in production" in result.stderr


def test_x_forwarded_proto_is_trusted_only_when_configured():
    assert setting("SECURE_PROXY_SSL_HEADER", PRODUCTION_ENV) == "None"
    trusting = {**PRODUCTION_ENV, "DJANGO_TRUST_X_FORWARDED_PROTO": "1"}
    assert setting("SECURE_PROXY_SSL_HEADER", trusting) == repr(("HTTP_X_FORWARDED_PROTO", "https"))


def test_production_turns_demo_data_off_whatever_the_environment_says():
    assert setting("SETTLE_DEMO_ALLOWED", {**PRODUCTION_ENV, "SETTLE_DEMO_ALLOWED": "1"}) == "False"
