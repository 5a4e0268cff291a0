"""The OpenAPI document checked with schemathesis against the app (bounded examples).

For every documented operation, generated requests with a valid token must get a
status code and body the document declares, and never a 500. (Schemathesis's pytest
plugin does not run on this pytest; its strategies are driven by Hypothesis directly.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from newsletter import admins  # noqa: E402
from newsletter.context import Context  # noqa: E402
from newsletter.web import create_app  # noqa: E402

SKIP = ("/collect", "/send")  # side effects with their own tests
EXAMPLES = int(os.environ.get("NEWSLETTER_API_EXAMPLES", "20"))  # `make fuzz`: 300


def test_api_conforms_to_its_openapi_document(ctx: Context) -> None:
    admins.create(ctx, "schema", "", "ein-langes-passwort", actor="test")
    token = admins.new_api_token(ctx, "schema", actor="test")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(ctx))
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(SKIP):
            continue
        _check(operation, token)
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 3, checked


def _check(operation: Any, token: str) -> None:
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        # Region keys and item ids come from the config and the store, not the schema:
        # a schema-valid unknown region is a documented 400, so that one check is off.
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            excluded_checks=[positive_data_acceptance],
        )

    run()
