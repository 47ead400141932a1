"""Property-based tests from the OpenAPI document (schemathesis) against a live server on 127.0.0.1.

Every operation gets a few generated requests with a finance token (so writes run too): no 5xx,
every status and content type documented, every body matching its schema. The budget is small
(EXAMPLES per operation) so the whole run stays around a minute on the 2-core CI machine.
"""

import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi import DOCUMENT
from tests.api.conftest import client_for
from tests.factories import CustomerFactory, ProviderFactory, make_invoice

EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BUDGET_SECONDS = 150


@pytest.mark.django_db(transaction=True)
def test_the_api_holds_to_its_openapi_document(live_server):
    provider = ProviderFactory(code="ACME")
    customer = CustomerFactory(reference="C-1")
    make_invoice(customer=customer, provider=provider, total="40.00")
    token = client_for("finance", "fuzzer").token
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS, timeout=30)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert time.monotonic() - started < BUDGET_SECONDS
    assert not failures, "\n\n".join(failures)
