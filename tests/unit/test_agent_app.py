"""The agent's local API in process, with central unreachable (a closed loopback port: every
forward is a real refused connection) and a real SQLite store under a temporary folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from stdnum import ean
from tests.support import free_port

from makhzan.agent import catalog_sync, store
from makhzan.agent.app import create_agent_app
from makhzan.agent.config import AgentConfig

CODE = "544900000099" + ean.calc_check_digit("544900000099")
UNKNOWN = "699999999999" + ean.calc_check_digit("699999999999")
PRODUCT = str(uuid.uuid4())
LOCATION = str(uuid.uuid4())


def seeded(data: Path) -> None:
    conn = store.open_store(data)
    catalog_sync.apply_page(conn, [
        {"seq": "1", "entity": "settings", "key": "tenant",
         "data": {"base_currency": "USD", "lbp_rate": "89500.0000", "time_zone": "Asia/Beirut"}},
        {"seq": "2", "entity": "product", "key": PRODUCT,
         "data": {"id": PRODUCT, "sku": "MILK", "name": "Milk", "name_ar": "حليب", "base_unit": "piece",
                  "price": "1.250", "currency": "USD", "low_stock_threshold": "0", "active": True}},
        {"seq": "3", "entity": "barcode", "key": CODE,
         "data": {"barcode": CODE, "product_id": PRODUCT, "unit": "piece", "factor": "1.000", "kind": "gs1"}},
    ], "3")
    with store.transaction(conn):
        store.set_meta(conn, "location_id", LOCATION)
    conn.close()


def client(data: Path, *, require_key: bool = False) -> TestClient:
    config = AgentConfig(f"http://127.0.0.1:{free_port()}", "till-key", data, run_loop=False,
                         require_key=require_key)
    return TestClient(create_agent_app(config))


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[TestClient]:
    seeded(tmp_path)
    with client(tmp_path) as c:
        yield c


def test_unreachable_central_means_an_offline_sale_written_before_the_answer(agent: TestClient,
                                                                             tmp_path: Path) -> None:
    sale_id = str(uuid.uuid4())
    response = agent.post("/api/v1/sales", json={"id": sale_id, "lines": [{"barcode": CODE, "quantity": 2}]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["offline"] is True and body["total"] == "2.500" and body["location_id"] == LOCATION
    # Already on disk: a second connection (another process would do the same) sees it.
    other = store.open_store(tmp_path)
    assert store.counts(other)["pending_sales"] == 1
    again = agent.post("/api/v1/sales", json={"id": sale_id, "lines": [{"barcode": CODE, "quantity": 2}]})
    assert again.status_code == 200 and again.json() == body
    assert agent.get(f"/api/v1/sales/{sale_id}").json() == body
    # Unknown here, and central cannot be asked.
    assert agent.get(f"/api/v1/sales/{uuid.uuid4()}").status_code == 404
    assert agent.get("/api/v1/sales/not-a-uuid").status_code == 422
    reused = agent.post("/api/v1/sales", json={"id": sale_id, "lines": [{"barcode": CODE}]})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_conflict"
    status = agent.get("/agent/status").json()
    assert status["online"] is False and status["pending_sales"] == 1 and status["catalog_cursor"] == "3"
    stock = agent.get(f"/api/v1/scan/{CODE}").json()["stock"]
    # Central never sent this product's level: the estimate starts from zero, dated now.
    assert stock["location_id"] == LOCATION and stock["quantity"] == "-2.000" and stock["as_of"]


def test_bad_sales_are_refused_and_nothing_is_kept(agent: TestClient) -> None:
    cases = [
        ({"id": str(uuid.uuid4()), "lines": [{"barcode": UNKNOWN}]}, 404, "unknown_barcode"),
        ({"id": str(uuid.uuid4()), "lines": [{"barcode": CODE, "quantity": "0.0001"}]}, 422, "invalid_request"),
        ({"id": str(uuid.uuid4()), "lines": [{"product_id": str(uuid.uuid4()), "quantity": "1"}]}, 404, "not_found"),
        ({"id": str(uuid.uuid4()), "location_id": str(uuid.uuid4()), "lines": [{"barcode": CODE}]}, 403, "forbidden"),
        ({"id": str(uuid.uuid4()), "lines": [{"barcode": CODE}], "extra": 1}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = agent.post("/api/v1/sales", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (body, response.text)
    assert agent.post("/api/v1/sales", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert agent.get("/agent/status").json()["pending_sales"] == 0
    assert agent.get("/api/v1/scan/not%20a%20code!").status_code == 422


def test_no_catalog_yet_is_a_clear_503(tmp_path: Path) -> None:
    with client(tmp_path) as agent:
        response = agent.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "lines": [{"barcode": CODE}]})
        assert response.status_code == 503 and response.json()["error"]["code"] == "busy"
        assert agent.get(f"/api/v1/scan/{CODE}").status_code == 404


def test_keys(tmp_path: Path) -> None:
    seeded(tmp_path)
    with client(tmp_path) as loopback:
        assert loopback.get("/api/v1/settings").json()["lbp_rate"] == "89500.0000"
        assert loopback.get("/api/v1/settings", headers={"Authorization": "Bearer other"}).status_code == 401
    with client(tmp_path, require_key=True) as exposed:
        assert exposed.get("/api/v1/settings").status_code == 401
        assert exposed.get("/api/v1/settings", headers={"Authorization": "Bearer till-key"}).status_code == 200


def test_search_by_arabic_name_and_barcode(agent: TestClient) -> None:
    assert [p["id"] for p in agent.get("/api/v1/products", params={"q": "حلِيب"}).json()["products"]] == [PRODUCT]
    found = agent.get("/api/v1/products", params={"q": CODE[:6]}).json()["products"]
    assert found[0]["barcodes"] == [{"barcode": CODE, "unit": "piece", "factor": "1.000", "kind": "gs1"}]
    assert agent.get("/api/v1/products", params={"q": "x" * 101}).status_code == 422
