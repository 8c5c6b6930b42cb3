"""Schemathesis against the live service: whatever the OpenAPI schema allows, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.server import live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service_url(synthesized_site, tmp_path_factory) -> Iterator[str]:
    env = {
        "TTHC_CORPUS_PATH": str(synthesized_site / "procedures.jsonl"),
        "TTHC_PROMPTS_DIR": str(synthesized_site / "prompts"),
        "TTHC_USE_EMBEDDINGS": "false",
        "TTHC_ASR_ENGINE": "whisper",
        "TTHC_RATE_LIMIT_PER_MINUTE": "0",
        "TTHC_ADMIN_API_KEY_SHA256": "0" * 64,  # enabled, with a key nobody has
    }
    with live_server(env, tmp_path_factory.mktemp("fuzz")) as base:
        yield base


def test_no_input_makes_the_service_fail(service_url):
    """Every operation, 40 generated requests each (valid and invalid by the schema)."""
    api = schemathesis.openapi.from_url(f"{service_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
    metrics = httpx.get(f"{service_url}/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("tthc_http_requests_total{")
    )
    assert served >= 10 * len(operations)  # the requests really reached the service
    server_errors = [line for line in metrics.splitlines() if 'status="5' in line and "/readyz" not in line]
    assert server_errors == []  # (/readyz answers 503 while the models load, by design)
