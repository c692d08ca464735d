"""The agent's SQLite store on a real file: catalog changes, local scans, offline pricing, the outbox."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from stdnum import ean

from makhzan import errors
from makhzan.agent import catalog_sync, outbox, pricing, scan, store
from makhzan.models import SaleIn


def with_check(body: str) -> str:
    return body + ean.calc_check_digit(body)


MILK, MILK_CASE, CHEESE_BASE = with_check("544900000099"), with_check("1544900000099"), with_check("210000100000")
MILK_ID, CHEESE_ID, OLD_ID = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def product(pid: str, sku: str, price: str, *, unit: str = "piece", active: bool = True,
            name_ar: str | None = None) -> dict[str, Any]:
    return {"seq": "1", "entity": "product", "key": pid,
            "data": {"id": pid, "sku": sku, "name": f"Item {sku}", "name_ar": name_ar, "base_unit": unit,
                     "price": price, "currency": "USD", "low_stock_threshold": "0.000", "active": active}}


def barcode(code: str, pid: str | None, factor: str = "1.000", unit: str = "piece") -> dict[str, Any]:
    data = None if pid is None else {"barcode": code, "product_id": pid, "unit": unit, "factor": factor, "kind": "gs1"}
    return {"seq": "2", "entity": "barcode", "key": code, "data": data}


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    conn = store.open_store(tmp_path)
    catalog_sync.apply_page(conn, [
        {"seq": "1", "entity": "settings", "key": "tenant",
         "data": {"base_currency": "USD", "lbp_rate": "89500.0000", "time_zone": "Asia/Beirut"}},
        {"seq": "2", "entity": "barcode_rule", "key": "21", "data": {"prefix": "21", "pattern": "21PPPPPWWWWWC"}},
        product(MILK_ID, "MILK-1L", "1.250", name_ar="حليب طازج"),
        product(CHEESE_ID, "CHEESE", "8.000", unit="kg"),
        product(OLD_ID, "OLD", "2.000", active=False),
        barcode(MILK, MILK_ID), barcode(MILK_CASE, MILK_ID, factor="24.000", unit="case"),
        barcode(CHEESE_BASE, CHEESE_ID), barcode(with_check("500000000001"), OLD_ID),
    ], "9")
    return conn


def test_store_is_wal_and_fully_synchronous(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_catalog_page_and_cursor_land_together(conn: sqlite3.Connection, tmp_path: Path) -> None:
    assert catalog_sync.cursor(conn) == "9"
    assert store.settings(conn)["lbp_rate"] == "89500.0000"
    # A page that fails half-way leaves neither its changes nor its cursor.
    with pytest.raises(KeyError):
        catalog_sync.apply_page(conn, [product(MILK_ID, "MILK-1L", "9.990"),
                                       {"seq": "11", "entity": "product", "key": "x", "data": {"id": "x"}}], "11")
    assert catalog_sync.cursor(conn) == "9"
    assert store.product_by_id(conn, MILK_ID)["price"] == Decimal("1.250")  # type: ignore[index]
    # Another connection (the handlers') sees the committed state.
    other = store.open_store(tmp_path)
    assert catalog_sync.cursor(other) == "9"


def test_reassigned_and_removed_barcodes(conn: sqlite3.Connection) -> None:
    rules = scan.RuleCache()
    assert scan.resolve(conn, MILK_CASE, rules).product["product_id"] == MILK_ID
    catalog_sync.apply_page(conn, [barcode(MILK_CASE, CHEESE_ID, factor="5.000"), barcode(MILK, None)], "12")
    assert scan.resolve(conn, MILK_CASE, rules).product["product_id"] == CHEESE_ID
    with pytest.raises(errors.UnknownBarcode):
        scan.resolve(conn, MILK, rules)
    assert catalog_sync.cursor(conn) == "12"


def test_local_scan_decodes_cases_labels_and_refuses_like_central(conn: sqlite3.Connection) -> None:
    rules = scan.RuleCache()
    case = scan.scan_answer(conn, MILK_CASE, rules, "loc")
    assert case["unit"] == "case" and case["quantity"] == Decimal("24.000")
    assert case["stock"] == {"location_id": "loc", "quantity": Decimal("0.000"), "as_of": None}
    # The GTIN-14 form with indicator 0 is the same trade item.
    assert scan.resolve(conn, "0" + MILK, rules).barcode == MILK
    label = with_check("210000102750")
    weighed = scan.resolve(conn, label, rules)
    assert weighed.product["product_id"] == CHEESE_ID and weighed.quantity == Decimal("2.750")
    with pytest.raises(errors.InvalidBarcode):
        scan.resolve(conn, MILK[:-1] + str((int(MILK[-1]) + 1) % 10), rules)
    with pytest.raises(errors.UnknownBarcode):
        scan.resolve(conn, with_check("699999999999"), rules)
    with pytest.raises(errors.ProductInactive):
        scan.resolve(conn, with_check("500000000001"), rules)
    # A rule removed at central stops decoding labels at the till.
    catalog_sync.apply_page(conn, [{"seq": "13", "entity": "barcode_rule", "key": "21", "data": None}], "13")
    with pytest.raises(errors.UnknownBarcode):
        scan.resolve(conn, label, rules)


def sale(*lines: dict[str, Any], currency: str = "USD", sale_id: uuid.UUID | None = None) -> SaleIn:
    return SaleIn.model_validate({"id": str(sale_id or uuid.uuid4()), "currency": currency, "lines": list(lines)})


def test_offline_sale_priced_like_central_and_kept_in_the_outbox(conn: sqlite3.Connection) -> None:
    rules = scan.RuleCache()
    with store.transaction(conn):
        outbox.set_levels(conn, [(MILK_ID, Decimal("100.000"))], "2026-01-01T00:00:00+00:00")
    body = sale({"barcode": MILK, "quantity": "2"}, {"barcode": MILK_CASE},
                {"barcode": with_check("210000102750")}, {"product_id": MILK_ID, "quantity": "1"})
    priced = pricing.price_offline(conn, body, rules, location_id="loc")
    lines = priced.answer["lines"]
    assert [ln["quantity"] for ln in lines] == [Decimal("2.000"), Decimal("24.000"), Decimal("2.750"), Decimal("1.000")]
    assert [ln["line_total"] for ln in lines] == [Decimal("2.500"), Decimal("30.000"), Decimal("22.000"),
                                                   Decimal("1.250")]
    assert priced.answer["total"] == Decimal("55.750") and priced.answer["offline"] is True
    # Every line reports the level after the whole sale, like central.
    assert lines[0]["stock_after"] == Decimal("73.000")
    assert priced.payload["lines"][0] == {"barcode": MILK, "quantity": Decimal("2"), "price": Decimal("1.250")}
    assert priced.payload["lines"][3] == {"product_id": MILK_ID, "quantity": Decimal("1.000"),
                                          "price": Decimal("1.250")}

    first = outbox.record_offline(conn, body, priced)
    assert first.status == 201
    assert store.stock_of(conn, MILK_ID) == (Decimal("73.000"), "2026-01-01T00:00:00+00:00")
    assert store.counts(conn)["pending_sales"] == 1
    replay = outbox.answered(conn, body)
    assert replay is not None and replay.status == 200 and replay.body == first.body
    # The same id for another sale is refused, not answered with the first one.
    with pytest.raises(errors.IdempotencyConflict):
        outbox.answered(conn, sale({"barcode": MILK}, sale_id=body.id))
    # A refresh from central keeps the unsynced sale off the shelf...
    with store.transaction(conn):
        outbox.set_levels(conn, [(MILK_ID, Decimal("90.000"))], "2026-01-02T00:00:00+00:00")
    assert store.stock_of(conn, MILK_ID)[0] == Decimal("63.000")
    # ...until central acknowledged it.
    assert outbox.acknowledge(conn, [{"id": str(body.id), "status": "applied"}])["applied"] == 1
    assert store.counts(conn)["pending_sales"] == 0
    with store.transaction(conn):
        outbox.set_levels(conn, [(MILK_ID, Decimal("63.000"))], "2026-01-03T00:00:00+00:00")
    assert store.stock_of(conn, MILK_ID)[0] == Decimal("63.000")


def test_lbp_sale_uses_the_local_rate(conn: sqlite3.Connection) -> None:
    priced = pricing.price_offline(conn, sale({"barcode": MILK}, currency="LBP"), scan.RuleCache(), location_id=None)
    assert priced.answer["lines"][0]["unit_price"] == Decimal("111875.000")
    assert priced.payload["exchange_rate"] == Decimal("89500.0000")


def test_bad_lines_write_nothing(conn: sqlite3.Connection) -> None:
    with pytest.raises(errors.UnknownBarcode):
        pricing.price_offline(conn, sale({"barcode": MILK}, {"barcode": with_check("699999999999")}),
                              scan.RuleCache(), location_id=None)
    with pytest.raises(errors.NotFound):
        pricing.price_offline(conn, sale({"product_id": str(uuid.uuid4()), "quantity": "1"}), scan.RuleCache(),
                              location_id=None)
    assert store.counts(conn)["pending_sales"] == 0


def test_rejected_sale_is_set_aside_and_unknown_answers_keep_it(conn: sqlite3.Connection) -> None:
    rules = scan.RuleCache()
    bodies = [sale({"barcode": MILK}) for _ in range(3)]
    for body in bodies:
        outbox.record_offline(conn, body, pricing.price_offline(conn, body, rules, location_id=None))
    batch = outbox.next_batch(conn, 10)
    assert [s["id"] for s in batch] == [str(b.id) for b in bodies]
    done = outbox.acknowledge(conn, [
        {"id": str(bodies[0].id), "status": "duplicate"},
        {"id": str(bodies[1].id), "status": "rejected", "error": {"code": "not_found"}},
        {"id": str(bodies[2].id), "status": "something new"},
    ])
    assert done == {"applied": 0, "duplicate": 1, "rejected": 1}
    assert [s["id"] for s in outbox.next_batch(conn, 10)] == [str(bodies[2].id)]
    letters = outbox.dead_letters(conn)
    assert [d["id"] for d in letters] == [str(bodies[1].id)] and letters[0]["error"] == {"code": "not_found"}


def test_local_search_is_arabic_aware(conn: sqlite3.Connection) -> None:
    from makhzan.text import normalize_for_search

    found = store.search_products(conn, normalize_for_search("حليب طازجة"[:9]), 10)
    assert [p["product_id"] for p in found] == [MILK_ID]
    assert [p["product_id"] for p in store.search_products(conn, normalize_for_search("حلیب"), 10)] == [MILK_ID]
    by_code = store.search_products(conn, MILK_CASE[:8], 10)
    assert [p["product_id"] for p in by_code] == [MILK_ID]
    assert {b["barcode"] for b in by_code[0]["barcodes"]} == {MILK, MILK_CASE}
    # LIKE metacharacters are literal.
    assert store.search_products(conn, "%", 10) == []


def test_fifty_thousand_products_load_within_ten_seconds(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "big")
    pages = []
    for start in range(0, 50_000, 2_500):
        changes = []
        for i in range(start, start + 2_500):
            pid = str(uuid.UUID(int=i + 1))
            changes.append(product(pid, f"SKU-{i:07d}", f"{1 + i % 50}.250", name_ar=f"صنف {i}"))
            changes.append(barcode(with_check(f"5{i:011d}"), pid))
        pages.append(changes)
    started = time.monotonic()
    for n, changes in enumerate(pages, start=1):
        catalog_sync.apply_page(conn, changes, str(n * 5_000))
    elapsed = time.monotonic() - started
    assert store.counts(conn)["products"] == 50_000
    assert elapsed < 10, elapsed
    print(f"applied 50,000 products and barcodes in {elapsed:.2f} s")


def test_outbox_holds_a_hundred_thousand_sales(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "full")
    catalog_sync.apply_page(conn, [
        {"seq": "1", "entity": "settings", "key": "tenant", "data": {"base_currency": "USD", "lbp_rate": "89500"}},
        product(MILK_ID, "MILK-1L", "1.250"), barcode(MILK, MILK_ID)], "2")
    template = json.dumps({"id": "", "occurred_at": "2026-01-01T00:00:00+00:00", "currency": "USD",
                           "offline": True, "lines": [{"barcode": MILK, "price": "1.250"}]})
    with store.transaction(conn):
        conn.executemany("INSERT INTO outbox (sale_id, payload, created_at) VALUES (?, ?, ?)",
                         ((str(uuid.uuid4()), template, "now") for _ in range(outbox.CAPACITY - 1)))
    body = sale({"barcode": MILK})
    assert outbox.record_offline(conn, body, pricing.price_offline(conn, body, scan.RuleCache(),
                                                                   location_id=None)).status == 201
    # Past capacity the till hears it; nothing is half-written.
    extra = sale({"barcode": MILK})
    with pytest.raises(errors.ServiceBusy):
        outbox.record_offline(conn, extra, pricing.price_offline(conn, extra, scan.RuleCache(), location_id=None))
    assert outbox.answered(conn, extra) is None
    started = time.monotonic()
    assert len(outbox.next_batch(conn, 200)) == 200
    assert store.counts(conn)["pending_sales"] == outbox.CAPACITY
    assert time.monotonic() - started < 1


def test_old_answers_are_forgotten_but_never_a_pending_sales(conn: sqlite3.Connection) -> None:
    rules = scan.RuleCache()
    pending, synced = sale({"barcode": MILK}), sale({"barcode": MILK})
    for body in (pending, synced):
        outbox.record_offline(conn, body, pricing.price_offline(conn, body, rules, location_id=None))
    outbox.acknowledge(conn, [{"id": str(synced.id), "status": "applied"}])
    assert outbox.forget_old_answers(conn, "2000-01-01T00:00:00+00:00") == 0
    assert outbox.forget_old_answers(conn, "2999-01-01T00:00:00+00:00") == 1
    assert outbox.answered(conn, synced) is None
    assert outbox.answered(conn, pending) is not None


def test_backoff_is_full_jitter_under_a_cap() -> None:
    from makhzan.agent.loop import backoff_delay

    for failures in (1, 3, 10, 100):
        delays = [backoff_delay(failures, 0.5, 30.0) for _ in range(2000)]
        ceiling = min(30.0, 0.5 * 2**failures)
        assert min(delays) >= 0 and max(delays) <= ceiling
        # Spread over the whole range, not bunched at the ceiling: tills that failed together retry apart.
        assert min(delays) < ceiling * 0.05 and max(delays) > ceiling * 0.95
