"""Schemathesis over the live server's own OpenAPI document: every operation, with valid and
deliberately invalid input, as the admin of a fresh shop. Never a 5xx; every 4xx carries the
error shape ``{"error": {"code", "message", "details"}}``; the ledger stays consistent."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema
from stdnum import ean
from tests.support import ServerProcess, Shop, ean13, ledger_drift, new_shop

MAX_EXAMPLES = 40

# Which field of a document line carries its amount.
_AMOUNT_FIELD = {"/api/v1/sales": "quantity", "/api/v1/receipts": "quantity", "/api/v1/transfers": "quantity",
                 "/api/v1/adjustments": "delta", "/api/v1/counts": "counted"}
_LOCATION_FIELDS = {"location_id": "store", "from_location_id": "store", "to_location_id": "warehouse",
                    "after_location_id": "store"}


def _with_check_digit(body: str) -> str:
    return body + ean.calc_check_digit(body)


@dataclass
class Targets:
    """Things in the fuzzed shop that generated input can point at."""

    shop: Shop
    product_ids: list[str]
    barcodes: list[str]
    sale_ids: list[str]

    def real_ids(self, value: Any, salt: int) -> Any:
        """``value`` with each id-shaped field naming one of the shop's locations, products or sales."""
        if isinstance(value, list):
            return [self.real_ids(item, salt + i) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        result = {}
        for name, item in value.items():
            if name in _LOCATION_FIELDS and _is_uuid(item):
                item = getattr(self.shop, _LOCATION_FIELDS[name])
            elif name == "product_id" and _is_uuid(item):
                item = self.product_ids[salt % len(self.product_ids)]
            elif name == "sale_id" and _is_uuid(item):
                item = self.sale_ids[salt % len(self.sale_ids)]
            elif name == "barcode" and isinstance(item, str):
                item = self.barcodes[salt % len(self.barcodes)]
            elif isinstance(item, list | dict):
                item = self.real_ids(item, salt)
            result[name] = item
        return result

    def real_document(self, path: str, body: dict[str, Any], lines: list[dict[str, Any]],
                      document_id: uuid.UUID) -> dict[str, Any]:
        """``body`` made a well-formed document of ``path`` (its other fields as generated)."""
        document = {**self.real_ids(body, 0), "lines": lines}
        if not _is_uuid(document.get("id")):
            document["id"] = str(document_id)
        if path.endswith("/transfers"):
            document.update(from_location_id=self.shop.store, to_location_id=self.shop.warehouse)
        else:
            document["location_id"] = self.shop.store
        if path.endswith("/adjustments") and not isinstance(document.get("reason"), str):
            document["reason"] = "correction"
        return document

    def real_lines(self, path: str) -> st.SearchStrategy[list[dict[str, Any]]]:
        """Well-formed document lines for the shop's products, with amounts valid or not."""
        field = _AMOUNT_FIELD[path]
        amounts = st.one_of(st.decimals(min_value=-2, max_value=1500, places=3).map(str),
                            st.integers(min_value=-2, max_value=1500))
        by_id = st.builds(lambda product_id, amount: {"product_id": product_id, field: amount},
                          st.sampled_from(self.product_ids), amounts)
        by_code = st.builds(lambda code, amount: {"barcode": code, field: amount},
                            st.sampled_from(self.barcodes), amounts)
        return st.lists(st.one_of(by_id, by_code), min_size=1, max_size=4)


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def targets(server: ServerProcess, app_database: str) -> Targets:
    shop = new_shop(server.url, app_database)
    piece = shop.product(price="2.500", barcodes=[{"barcode": ean13()}, {"barcode": ean13(), "factor": "12",
                                                                         "unit": "case"}])
    # A product sold by weight, with a scale-label code under the default 21PPPPPWWWWWC rule.
    item_code = f"{random.randrange(10**5):05d}"
    weighed = shop.product(unit="kg", price="9.000", barcodes=[{"barcode": _with_check_digit(f"21{item_code}00000")}])
    for product in (piece, weighed):
        shop.receive(product["id"], "1000")
    sale = shop.admin.ok("POST", "/sales", {"id": str(uuid.uuid4()), "location_id": shop.store,
                                            "lines": [{"product_id": piece["id"], "quantity": "1"}]}, 201)
    codes = [b["barcode"] for b in piece["barcodes"] + weighed["barcodes"]]
    return Targets(shop=shop, product_ids=[piece["id"], weighed["id"]],
                   barcodes=[*codes, _with_check_digit(f"21{item_code}01234"), ean13()],  # label, unknown code
                   sale_ids=[sale["id"]])


@pytest.fixture(scope="module")
def fuzz_schema(server: ServerProcess, targets: Targets) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=30)

    # Random UUIDs alone only ever reach "not found": a third of the cases keep what was
    # generated, a third point its ids at the shop's real ones, and a third of the document
    # bodies also get well-formed lines, to reach the stock code behind the validation.
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
        path = context.operation.path
        choices = [st.just(body), st.integers(0, 7).map(lambda salt: targets.real_ids(body, salt))]
        if path in _AMOUNT_FIELD and isinstance(body, dict):
            choices.append(st.builds(lambda lines, document_id: targets.real_document(path, body, lines, document_id),
                                     targets.real_lines(path), st.uuids()))
        return st.one_of(choices)

    def flatmap_path_parameters(context: Any, parameters: Any) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(parameters), st.integers(0, 7).map(lambda salt: targets.real_ids(parameters, salt)))

    def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(query), st.integers(0, 7).map(lambda salt: targets.real_ids(query, salt)))

    for hook in (flatmap_body, flatmap_path_parameters, flatmap_query):
        schema.hook(hook)
    return schema


def _operations() -> list[tuple[str, bool]]:
    """(label, takes input) of every operation, from the same application the server runs.

    Listed at import because pytest parametrizes before any fixture runs (schemathesis's own
    pytest loader does not work with this pytest); the first test checks that the live
    document has exactly these, so an operation added later cannot escape the fuzzer.
    """
    from makhzan.api.app import create_app

    document = create_app("postgresql://unused").openapi()
    return [(f"{method.upper()} {path}", bool(op.get("parameters") or op.get("requestBody")))
            for path, methods in document["paths"].items() for method, op in methods.items()]


OPERATIONS = _operations()


def test_the_live_document_has_the_operations_fuzzed(fuzz_schema: OpenApiSchema) -> None:
    live = sorted(result.ok().label for result in fuzz_schema.get_all_operations())
    assert live == sorted(label for label, _ in OPERATIONS)


def check_response(case: schemathesis.Case, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    if case.operation.path.endswith("/stream"):
        # The live alert stream never ends by itself: read the status (and an error's body),
        # then hang up.
        request = case.as_transport_kwargs(headers=headers)
        with requests.request(**request, stream=True, timeout=30) as streamed:
            _check_status_and_shape(case, streamed)
        return
    _check_status_and_shape(case, case.call(headers=headers, timeout=30))


def _check_status_and_shape(case: schemathesis.Case, response: Any) -> None:
    status = response.status_code
    assert status < 500, f"{case.method} {case.formatted_path} -> {status}: {response.text[:2000]}"
    if 400 <= status < 500:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, body
        error = body["error"]
        assert set(error) >= {"code", "message", "details"}, error
        assert isinstance(error["code"], str) and error["code"], error
        assert isinstance(error["message"], str) and error["message"], error
        assert isinstance(error["details"], dict), error


@pytest.mark.parametrize(("label", "takes_input"), OPERATIONS, ids=[label for label, _ in OPERATIONS])
def test_no_server_errors_and_errors_have_one_shape(
    label: str, takes_input: bool, fuzz_schema: OpenApiSchema, targets: Targets
) -> None:
    operation = fuzz_schema.find_operation_by_label(label)
    assert operation is not None, label
    cases = operation.as_strategy(GenerationMode.POSITIVE)
    if takes_input:
        # Negative cases break the schema on purpose: wrong types, missing fields, not JSON at all.
        cases = st.one_of(cases, operation.as_strategy(GenerationMode.NEGATIVE))

    # An operation without input has nothing to vary: a few calls suffice.
    @given(case=cases)
    @settings(max_examples=MAX_EXAMPLES if takes_input else 3, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        check_response(case, targets.shop.admin.key)

    run()


def test_fuzzing_left_every_level_equal_to_its_ledger(targets: Targets, app_database: str) -> None:
    assert ledger_drift(app_database) == []


def test_requests_without_a_valid_key_are_401_in_the_error_shape(server: ServerProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer mk_00000000000000000000000000000000_x"}):
        response = httpx.get(f"{server.url}/api/v1/products", headers=headers, timeout=10)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
