-- Makhzan core schema: tenants, keys, locations, catalog, the stock ledger, sales and
-- stock documents.
--
-- Rules every tenant-owned table follows (tests/integration/test_schema_rules.py checks them):
--   * a tenant_id column that leads the primary key and every unique key;
--   * every foreign key includes tenant_id, so a row can only point inside its own tenant
--     (and the schema can be distributed by tenant_id with Citus);
--   * row-level security on, with the policy below.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The role that request transactions run as (SET ROLE). It owns nothing and has no
-- BYPASSRLS, so row-level security applies to it even when the server connects as a
-- superuser. Roles are cluster-wide: another database on the same cluster may have made it.
DO $$
BEGIN
    CREATE ROLE makhzan_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The tenant of the current transaction, set with set_config('makhzan.tenant_id', ..., true).
-- Unset means no tenant: every policy then hides every row.
CREATE FUNCTION current_tenant_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('makhzan.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    tenant_id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_currency text NOT NULL DEFAULT 'USD' CHECK (base_currency IN ('USD', 'LBP')),
    -- Lebanese pounds per US dollar, set by the owner daily; every sale records the rate it used.
    lbp_rate numeric(18, 4) NOT NULL DEFAULT 89500 CHECK (lbp_rate > 0),
    time_zone text NOT NULL DEFAULT 'Asia/Beirut',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE locations (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    location_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('store', 'warehouse', 'kitchen')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, location_id)
);

CREATE TABLE api_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    key_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role text NOT NULL CHECK (role IN ('admin', 'manager', 'cashier')),
    -- A terminal's key is bound to its location: other locations are refused.
    location_id uuid,
    -- SHA-256 of the secret: keys are 256-bit random, so a slow hash adds nothing.
    key_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, key_id),
    UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id)
);

CREATE TABLE products (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    product_id uuid NOT NULL,
    sku text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_ar text CHECK (length(name_ar) <= 200),
    base_unit text NOT NULL CHECK (base_unit IN ('piece', 'kg', 'g', 'l', 'ml')),
    price numeric(14, 3) NOT NULL CHECK (price >= 0),
    currency text NOT NULL DEFAULT 'USD' CHECK (currency IN ('USD', 'LBP')),
    low_stock_threshold numeric(14, 3) NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    active boolean NOT NULL DEFAULT true,
    -- sku, names and barcodes folded for search (Arabic variants unified, diacritics removed);
    -- written by the application with makhzan.text.normalize_for_search.
    search_text text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product_id),
    UNIQUE (tenant_id, sku)
);

CREATE INDEX products_search_trgm ON products USING gin (search_text gin_trgm_ops);

CREATE TABLE product_barcodes (
    tenant_id uuid NOT NULL,
    barcode text NOT NULL,
    product_id uuid NOT NULL,
    -- What one scan of this code is: a piece, a case of 24, a kilogram of a weighed item...
    unit text NOT NULL DEFAULT 'piece' CHECK (length(unit) BETWEEN 1 AND 32),
    factor numeric(14, 3) NOT NULL DEFAULT 1 CHECK (factor > 0),
    kind text NOT NULL DEFAULT 'gs1' CHECK (kind IN ('gs1', 'internal')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, barcode),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id)
);

CREATE INDEX product_barcodes_product ON product_barcodes (tenant_id, product_id);

-- Weighed and priced EAN-13 labels printed by in-store scales (prefixes 20-29).
CREATE TABLE barcode_rules (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    prefix text NOT NULL CHECK (prefix ~ '^2[0-9]{1,5}$'),
    pattern text NOT NULL CHECK (length(pattern) = 13),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, prefix)
);

-- The materialized level: always equal to the sum of the movements (makhzan reconcile).
CREATE TABLE stock_levels (
    tenant_id uuid NOT NULL,
    product_id uuid NOT NULL,
    location_id uuid NOT NULL,
    -- No CHECK (quantity >= 0): offline sales that already happened may take it below zero.
    -- Online paths never do, by their conditional UPDATE.
    quantity numeric(14, 3) NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product_id, location_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id)
);

-- The ledger. Append-only (triggers below); no running balance on the rows, so a late
-- offline sale never forces re-posting.
CREATE TABLE stock_movements (
    tenant_id uuid NOT NULL,
    movement_id bigint GENERATED ALWAYS AS IDENTITY,
    product_id uuid NOT NULL,
    location_id uuid NOT NULL,
    delta numeric(14, 3) NOT NULL CHECK (delta <> 0),
    kind text NOT NULL
        CHECK (kind IN ('sale', 'receipt', 'transfer_out', 'transfer_in', 'adjustment', 'count')),
    -- The sale or stock document that moved the stock.
    document_id uuid NOT NULL,
    reason text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, movement_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id)
);

CREATE INDEX stock_movements_product ON stock_movements (tenant_id, product_id, location_id, movement_id);

CREATE FUNCTION forbid_ledger_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only: record a new movement instead'
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER stock_movements_append_only
    BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION forbid_ledger_change();

CREATE TRIGGER stock_movements_no_truncate
    BEFORE TRUNCATE ON stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_change();

CREATE TABLE sales (
    tenant_id uuid NOT NULL,
    -- Generated by the client: a retried sale hits this key and is answered, not re-applied.
    sale_id uuid NOT NULL,
    location_id uuid NOT NULL,
    key_id uuid,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    currency text NOT NULL CHECK (currency IN ('USD', 'LBP')),
    -- LBP per USD at the time of the sale, whatever the sale's currency.
    exchange_rate numeric(18, 4) NOT NULL CHECK (exchange_rate > 0),
    total numeric(18, 3) NOT NULL,
    offline boolean NOT NULL DEFAULT false,
    -- SHA-256 of the request: the same id with a different basket is refused, not answered.
    request_hash bytea NOT NULL,
    PRIMARY KEY (tenant_id, sale_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id)
);

CREATE TABLE sale_lines (
    tenant_id uuid NOT NULL,
    sale_id uuid NOT NULL,
    line_no integer NOT NULL,
    product_id uuid NOT NULL,
    barcode text,
    quantity numeric(14, 3) NOT NULL CHECK (quantity > 0),
    unit_price numeric(14, 3) NOT NULL,
    line_total numeric(18, 3) NOT NULL,
    stock_after numeric(14, 3) NOT NULL,
    PRIMARY KEY (tenant_id, sale_id, line_no),
    FOREIGN KEY (tenant_id, sale_id) REFERENCES sales (tenant_id, sale_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id)
);

-- Receipts, transfers, adjustments and counts: one table, since they share their shape.
CREATE TABLE stock_documents (
    tenant_id uuid NOT NULL,
    document_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('receipt', 'transfer', 'adjustment', 'count')),
    location_id uuid NOT NULL,
    -- Transfers only: where the goods went.
    to_location_id uuid,
    supplier text,
    reason text,
    key_id uuid,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    request_hash bytea NOT NULL,
    PRIMARY KEY (tenant_id, document_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id),
    FOREIGN KEY (tenant_id, to_location_id) REFERENCES locations (tenant_id, location_id),
    CHECK ((kind = 'transfer') = (to_location_id IS NOT NULL))
);

CREATE TABLE stock_document_lines (
    tenant_id uuid NOT NULL,
    document_id uuid NOT NULL,
    line_no integer NOT NULL,
    product_id uuid NOT NULL,
    -- What the client sent: the quantity received or moved, the signed delta, the count.
    quantity numeric(14, 3) NOT NULL,
    -- What it did to the level at location_id, and the level after.
    delta numeric(14, 3) NOT NULL,
    quantity_after numeric(14, 3) NOT NULL,
    PRIMARY KEY (tenant_id, document_id, line_no),
    FOREIGN KEY (tenant_id, document_id) REFERENCES stock_documents (tenant_id, document_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id)
);

-- Row-level security: one tenant's rows are invisible to another tenant's requests. Every
-- migration that adds a tenant table calls this for it.
CREATE FUNCTION isolate_tenant_table(t regclass) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = current_tenant_id())'
                   ' WITH CHECK (tenant_id = current_tenant_id())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO makhzan_app', t);
END
$$;

SELECT isolate_tenant_table(t)
FROM unnest(ARRAY['tenants', 'locations', 'api_keys', 'products', 'product_barcodes', 'barcode_rules',
                  'stock_levels', 'stock_movements', 'sales', 'sale_lines', 'stock_documents',
                  'stock_document_lines']::regclass[]) AS t;

-- The ledger is append-only for the application too (the trigger also stops the owner).
REVOKE UPDATE, DELETE ON stock_movements FROM makhzan_app;
GRANT USAGE ON SCHEMA public TO makhzan_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO makhzan_app;
