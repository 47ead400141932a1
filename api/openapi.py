"""The committed OpenAPI document (api/openapi.json): written by `manage.py api_schema`, compared in CI."""

import json
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parent / "openapi.json"


def current_schema() -> str:
    from api.api import api

    return (
        json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
