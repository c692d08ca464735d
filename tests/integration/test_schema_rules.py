"""The key rules of DESIGN.md point 7, checked on the live catalog so that a new table that
breaks them fails here: tenant_id leads every primary and unique key, every foreign key
carries it, and row-level security is on with a policy. Also: the ledger is append-only."""

from __future__ import annotations

import psycopg
import pytest
from tests.support import Databases

# Tables that belong to no tenant.
GLOBAL_TABLES = {"schema_migrations"}


@pytest.fixture(scope="module")
def schema(databases: Databases) -> psycopg.Connection:
    conn = psycopg.connect(databases.fresh(), autocommit=True)
    yield conn
    conn.close()


def tenant_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"
    ).fetchall()
    tables = [r[0] for r in rows if r[0] not in GLOBAL_TABLES]
    assert "stock_movements" in tables and "sales" in tables
    return tables


def test_every_table_has_tenant_id_leading_every_key(schema: psycopg.Connection) -> None:
    problems = []
    for table in tenant_tables(schema):
        keys = schema.execute(
            """
            SELECT i.indexrelid::regclass::text, i.indisprimary,
                   (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = i.indkey[0])
            FROM pg_index i WHERE i.indrelid = %s::regclass AND (i.indisunique OR i.indisprimary)
            """,
            (table,),
        ).fetchall()
        if not any(primary for _, primary, _ in keys):
            problems.append(f"{table}: no primary key")
        for name, _, first_column in keys:
            if first_column != "tenant_id":
                problems.append(f"{table}: key {name} starts with {first_column}")
    assert problems == []


def test_every_foreign_key_includes_tenant_id(schema: psycopg.Connection) -> None:
    rows = schema.execute(
        """
        SELECT conrelid::regclass::text, conname,
               (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                 WHERE attrelid = conrelid AND attnum = ANY(conkey)),
               (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                 WHERE attrelid = confrelid AND attnum = ANY(confkey))
        FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
        """
    ).fetchall()
    assert rows, "expected foreign keys"
    problems = [f"{t}.{name}: {cols} -> {ref}" for t, name, cols, ref in rows
                if "tenant_id" not in cols or "tenant_id" not in ref]
    assert problems == []


def test_row_level_security_on_every_tenant_table(schema: psycopg.Connection) -> None:
    problems = []
    for table in tenant_tables(schema):
        enabled = schema.execute("SELECT relrowsecurity FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
        policies = schema.execute("SELECT count(*) FROM pg_policies WHERE tablename = %s", (table,)).fetchone()
        if not (enabled and enabled[0]) or not (policies and policies[0]):
            problems.append(table)
    assert problems == []


def test_rls_hides_other_tenants_even_without_a_filter(schema: psycopg.Connection) -> None:
    with schema.transaction():
        schema.execute("SET LOCAL ROLE makhzan_app")
        schema.execute("SELECT set_config('makhzan.tenant_id', gen_random_uuid()::text, true)")
        schema.execute("INSERT INTO tenants (tenant_id, name) VALUES (current_tenant_id(), 'A')")
        assert schema.execute("SELECT count(*) FROM tenants").fetchone() == (1,)
        schema.execute("SELECT set_config('makhzan.tenant_id', gen_random_uuid()::text, true)")
        assert schema.execute("SELECT count(*) FROM tenants").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            # Writing another tenant's row is refused by the policy's WITH CHECK.
            schema.execute("INSERT INTO tenants (tenant_id, name) VALUES (gen_random_uuid(), 'B')")


def test_stock_movements_are_append_only(schema: psycopg.Connection) -> None:
    # As the owner (RLS does not apply): one real movement to try to change.
    schema.execute(
        """
        WITH t AS (INSERT INTO tenants (tenant_id, name) VALUES (gen_random_uuid(), 'Ledger') RETURNING tenant_id),
             l AS (INSERT INTO locations (tenant_id, location_id, name, kind)
                   SELECT tenant_id, gen_random_uuid(), 'Store', 'store' FROM t RETURNING tenant_id, location_id),
             p AS (INSERT INTO products (tenant_id, product_id, sku, name, base_unit, price)
                   SELECT tenant_id, gen_random_uuid(), 'SKU', 'Salt', 'piece', 1 FROM t
                   RETURNING tenant_id, product_id)
        INSERT INTO stock_movements (tenant_id, product_id, location_id, delta, kind, document_id, occurred_at)
        SELECT p.tenant_id, p.product_id, l.location_id, 5, 'receipt', gen_random_uuid(), now() FROM p, l
        """
    )
    for statement in ("UPDATE stock_movements SET delta = 1", "DELETE FROM stock_movements",
                      "TRUNCATE stock_movements"):
        with pytest.raises(psycopg.errors.RestrictViolation):
            schema.execute(statement)
