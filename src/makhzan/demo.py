"""A demo Lebanese minimarket: two locations, ~50 products in English and Arabic, unit,
case and weighed barcodes, opening stock received through the ledger like real goods."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from psycopg_pool import AsyncConnectionPool

from makhzan import catalog, inventory, tenancy
from makhzan.db import Connection, run_in_transaction
from makhzan.demo_catalog import DEMO_LBP_RATE, DEMO_LOCATIONS, DEMO_PRODUCTS
from makhzan.models import BarcodeIn, ProductIn, QuantityLineIn, ReceiptIn
from makhzan.queries import Q
from makhzan.web import accounts


async def create_tenant(pool: AsyncConnectionPool, name: str) -> dict[str, Any]:
    tenant_id = uuid4()
    return await run_in_transaction(pool, tenant_id, lambda conn: tenancy.create_tenant(conn, tenant_id, name))


async def seed_demo(pool: AsyncConnectionPool) -> dict[str, Any]:
    """Create a fresh demo tenant and return its ids and keys."""
    tenant = await create_tenant(pool, "Dekkanet Hamra (demo)")
    tenant_id: UUID = tenant["tenant_id"]
    return await run_in_transaction(pool, tenant_id, lambda conn: _seed(conn, tenant_id, tenant["admin_key"]))


async def _seed(conn: Connection, tenant_id: UUID, admin_key: str) -> dict[str, Any]:
    await conn.execute(Q.set_lbp_rate, {"tenant_id": tenant_id, "lbp_rate": DEMO_LBP_RATE})
    locations = {}
    for name, kind in DEMO_LOCATIONS:
        location = await tenancy.create_location(conn, tenant_id, name=name, kind=kind)
        locations[kind] = location["id"]
    store, warehouse = locations["store"], locations["warehouse"]
    cashier = await tenancy.create_key(conn, tenant_id, name="till 1", role="cashier", location_id=store)
    manager = await tenancy.create_key(conn, tenant_id, name="manager", role="manager", location_id=None)

    opening: dict[UUID, list[QuantityLineIn]] = {store: [], warehouse: []}
    for p in DEMO_PRODUCTS:
        product = await catalog.create_product(conn, tenant_id, ProductIn(
            sku=p.sku, name=p.name, name_ar=p.name_ar, base_unit=p.base_unit, price=p.price,
            low_stock_threshold=p.low_stock_threshold,
            barcodes=[BarcodeIn(barcode=b.barcode, factor=b.factor, unit=b.unit, kind=b.kind) for b in p.barcodes],
        ))
        for location_id, quantity in zip((store, warehouse), p.opening_stock, strict=True):
            if quantity > 0:
                opening[location_id].append(QuantityLineIn(product_id=product["id"], quantity=quantity))
    now = datetime.now(UTC)
    for location_id, lines in opening.items():
        receipt = ReceiptIn(id=uuid4(), location_id=location_id, supplier="Opening stock", lines=lines)
        await inventory.receive(conn, tenant_id, key_id=None, location_id=location_id, receipt=receipt, now=now)
    # People who sign in to the screens: the owner (admin) and a cashier at the Hamra till.
    sign_in = {"shop_code": accounts.shop_code(tenant_id), "password": secrets.token_urlsafe(9)}
    await accounts.create_user(conn, tenant_id, login="owner", password=sign_in["password"], role="admin",
                               display_name="Owner")
    await accounts.create_user(conn, tenant_id, login="cashier", password=sign_in["password"], role="cashier",
                               display_name="Cashier", location_id=store)
    return {
        "tenant_id": tenant_id,
        "admin_key": admin_key,
        "manager_key": manager["key"],
        "cashier_key": cashier["key"],
        "location_ids": {name: locations[kind] for name, kind in DEMO_LOCATIONS},
        "sign_in": {"path": "/signin", "shop_code": sign_in["shop_code"], "logins": ["owner", "cashier"],
                    "password": sign_in["password"]},
    }
