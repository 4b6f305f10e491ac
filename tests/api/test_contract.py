"""The published contract, api/openapi.json, is the app's own OpenAPI document."""

from __future__ import annotations

import json

from vardekedja.api.contract import CONTRACT, document, render


def test_the_committed_contract_matches_the_app() -> None:
    assert CONTRACT.read_text(encoding="utf-8") == render(), (
        "api/openapi.json has drifted from the code: run python -m vardekedja.api.contract"
    )


def test_every_path_and_verb_of_the_spec_is_in_the_contract() -> None:
    paths = json.loads(CONTRACT.read_text(encoding="utf-8"))["paths"]
    expected = {
        ("post", "/v1/organisations"), ("get", "/v1/me"), ("get", "/v1/organisations/{organisation_id}"),
        ("post", "/v1/organisations/{organisation_id}/api-keys"),
        ("delete", "/v1/organisations/{organisation_id}/api-keys/{key_id}"),
        ("post", "/v1/designs"), ("put", "/v1/designs/{design_id}"), ("post", "/v1/designs/{design_id}/publish"),
        ("post", "/v1/designs/{design_id}/retire"), ("get", "/v1/designs/{design_id}"), ("get", "/v1/catalogue"),
        ("post", "/v1/orders"), ("get", "/v1/orders"), ("get", "/v1/orders/{order_id}"),
        ("post", "/v1/orders/{order_id}/checkout"), ("post", "/v1/orders/{order_id}/cancel"),
        ("post", "/v1/payments/stripe/webhook"), ("get", "/v1/production-orders"),
        ("get", "/v1/production-orders/{production_order_id}"),
        *[("post", f"/v1/production-orders/{{production_order_id}}/{verb}")
          for verb in ("accept", "start", "complete", "release")],
        ("get", "/v1/deliveries"), ("get", "/v1/deliveries/{delivery_id}"),
        *[("post", f"/v1/deliveries/{{delivery_id}}/{verb}")
          for verb in ("schedule", "dispatch", "deliver", "fail", "install")],
        ("get", "/v1/payouts"), ("get", "/v1/audit/events"), ("get", "/v1/audit/streams/{stream_id}"),
        ("get", "/v1/audit/verify"), ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"),
    }  # fmt: skip
    present = {(verb, path) for path, operations in paths.items() for verb in operations}
    assert expected <= present, sorted(expected - present)


def test_every_authenticated_operation_documents_401_and_the_rest_are_deliberately_public() -> None:
    public = {("post", "/v1/payments/stripe/webhook"), ("get", "/v1/audit/public-key")}
    for path, operations in document()["paths"].items():
        for verb, operation in operations.items():
            if not path.startswith("/v1/"):
                continue
            if (verb, path) in public:
                assert "security" not in operation, (verb, path)
            else:
                assert "security" in operation and "401" in operation["responses"], (verb, path)
