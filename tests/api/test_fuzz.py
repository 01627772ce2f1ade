"""OpenAPI-driven fuzzing (schemathesis) of every route through the real HTTP server: valid and invalid
requests generated from /openapi.json, each with the token its route needs. No answer may be a 5xx,
have a status the document does not declare for its operation, or break its declared schema,
content type or headers. Deterministic (derandomized) and bounded, so CI runs the same requests."""

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Operator routes that do real, slow work on every call (a full backup, every maintenance task):
# they are exercised in tests/ops and tests/api/test_openapi.py, not thousands of times here.
SLOW = {("POST", "/admin/backups"), ("POST", "/admin/maintenance/run")}
# Per operation (28 of them: 5,040 requests). A negative case costs about three times the CPU of a positive one
# (about 23 ms per positive request, server included, measured on this machine), so most are positive.
EXAMPLES = {GenerationMode.POSITIVE: 160, GenerationMode.NEGATIVE: 20}
MIN_REQUESTS = 5_000


@pytest.mark.timeout(900)  # about 140 s of CPU (one core: the server shares the process); margin for a loaded machine
def test_fuzz_every_operation_finds_no_5xx_and_no_undeclared_status(worker):
    document = worker.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.generation.update(with_security_parameters=False)  # each call carries its route's token
    session = requests.Session()
    tokens = {"apiToken": worker.api_token, "adminToken": worker.admin_token}
    sent = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SLOW:
            continue
        security = document["paths"][operation.path][operation.method.lower()]["security"]
        auth = {"authorization": f"Bearer {tokens[next(iter(security[0]))]}"} if security else {}
        for mode, examples in EXAMPLES.items():
            sent += _fuzz(operation, mode, examples, worker.base_url, session, auth)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {sent} requests in {elapsed:.1f} s")
    assert sent >= MIN_REQUESTS, sent


def _fuzz(operation, mode: GenerationMode, examples: int, base_url: str, session, auth: dict) -> int:
    """Run ``examples`` generated cases of ``operation``; returns how many requests were sent."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case) -> None:
        nonlocal sent
        headers = {**(case.headers or {}), **auth}
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        sent += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    call()
    return sent
