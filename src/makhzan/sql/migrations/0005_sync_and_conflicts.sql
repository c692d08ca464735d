-- Terminal sync: the catalog change feed the agents pull, and the conflicts that offline sales
-- leave for a manager to resolve.
--
-- Same key rules as 0001: tenant_id leads every key, every foreign key carries it, RLS on.

-- The catalog change feed. Every change to a product, a barcode, a weighed-label rule or the
-- tenant's settings (the LBP rate) appends one row, numbered by a per-tenant counter kept on the
-- tenant's row. Taking the next number locks that row until commit, so a tenant's catalog
-- changes commit in the order of their numbers: an agent that has read up to N never later
-- finds an N-1 that committed after it looked (which a sequence or a timestamp would allow).
-- Catalog edits are rare next to sales, which never touch this row, so the lock costs nothing
-- at the till.
ALTER TABLE tenants ADD COLUMN catalog_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE catalog_changes (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    seq bigint NOT NULL,
    entity text NOT NULL CHECK (entity IN ('product', 'barcode', 'barcode_rule', 'settings')),
    -- The product id, the barcode, the rule's prefix, or 'tenant'.
    entity_key text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq)
);

CREATE FUNCTION note_catalog_changes(p_tenant uuid, p_entity text, p_keys text[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    last_seq bigint;
BEGIN
    UPDATE tenants SET catalog_seq = catalog_seq + cardinality(p_keys)
    WHERE tenant_id = p_tenant
    RETURNING catalog_seq INTO last_seq;
    INSERT INTO catalog_changes (tenant_id, seq, entity, entity_key)
    SELECT p_tenant, last_seq - cardinality(p_keys) + k.n, p_entity, k.entity_key
    FROM unnest(p_keys) WITH ORDINALITY AS k (entity_key, n);
END
$$;

-- Statement-level triggers with transition tables: a bulk import of 50,000 products bumps the
-- counter once, not 50,000 times. TG_ARGV[0] names the entity, TG_ARGV[1] its key column.
CREATE FUNCTION catalog_rows_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    batch record;
BEGIN
    FOR batch IN EXECUTE format(
        'SELECT tenant_id, array_agg(DISTINCT %I::text) AS entity_keys FROM changed_rows GROUP BY tenant_id',
        TG_ARGV[1])
    LOOP
        PERFORM note_catalog_changes(batch.tenant_id, TG_ARGV[0], batch.entity_keys);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_inserted AFTER INSERT ON products
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('product', 'product_id');
CREATE TRIGGER products_updated AFTER UPDATE ON products
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('product', 'product_id');

-- Barcodes: a removed or reassigned code is a change of that code (the feed sends its current
-- state: gone, or on its new product).
CREATE TRIGGER product_barcodes_inserted AFTER INSERT ON product_barcodes
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode', 'barcode');
CREATE TRIGGER product_barcodes_updated AFTER UPDATE ON product_barcodes
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode', 'barcode');
CREATE TRIGGER product_barcodes_deleted AFTER DELETE ON product_barcodes
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode', 'barcode');

CREATE TRIGGER barcode_rules_inserted AFTER INSERT ON barcode_rules
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode_rule', 'prefix');
CREATE TRIGGER barcode_rules_updated AFTER UPDATE ON barcode_rules
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode_rule', 'prefix');
CREATE TRIGGER barcode_rules_deleted AFTER DELETE ON barcode_rules
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_rows_changed('barcode_rule', 'prefix');

-- The settings a till prices with. Row-level, and only when they change: bumping catalog_seq
-- updates the same row, and must not count as a settings change.
CREATE FUNCTION tenant_settings_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM note_catalog_changes(NEW.tenant_id, 'settings', ARRAY['tenant']);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_inserted AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenant_settings_changed();
CREATE TRIGGER tenants_settings_updated AFTER UPDATE ON tenants
    FOR EACH ROW
    WHEN (OLD.lbp_rate IS DISTINCT FROM NEW.lbp_rate OR OLD.base_currency IS DISTINCT FROM NEW.base_currency
          OR OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION tenant_settings_changed();

-- What existed before the feed: every tenant's catalog as changes 1..n, so an agent starting
-- from cursor 0 receives all of it.
INSERT INTO catalog_changes (tenant_id, seq, entity, entity_key)
SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY ord, entity_key), entity, entity_key
FROM (
    SELECT tenant_id, 1 AS ord, 'settings' AS entity, 'tenant' AS entity_key FROM tenants
    UNION ALL SELECT tenant_id, 2, 'barcode_rule', prefix FROM barcode_rules
    UNION ALL SELECT tenant_id, 3, 'product', product_id::text FROM products
    UNION ALL SELECT tenant_id, 4, 'barcode', barcode FROM product_barcodes
) AS existing;

UPDATE tenants t SET catalog_seq = c.last_seq
FROM (SELECT tenant_id, max(seq) AS last_seq FROM catalog_changes GROUP BY tenant_id) AS c
WHERE c.tenant_id = t.tenant_id;

-- Conflicts left by offline sales that already happened: the sale was applied (the goods are
-- gone), and what did not match the central ledger waits here for a manager, who resolves it,
-- typically with a count.
CREATE TABLE sync_conflicts (
    tenant_id uuid NOT NULL,
    conflict_id uuid NOT NULL DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('insufficient_stock', 'price_changed', 'unknown_barcode')),
    sale_id uuid NOT NULL,
    location_id uuid NOT NULL,
    -- NULL for an unknown barcode.
    product_id uuid,
    barcode text,
    -- What the till and the ledger said: requested/available, till_price/price, quantity...
    details jsonb NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by uuid,
    -- {"action": "count" | "adjustment" | "accept", "note", "document_id"}
    resolution jsonb,
    PRIMARY KEY (tenant_id, conflict_id),
    FOREIGN KEY (tenant_id, sale_id) REFERENCES sales (tenant_id, sale_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

CREATE INDEX sync_conflicts_open ON sync_conflicts (tenant_id, status, created_at DESC);
CREATE INDEX sync_conflicts_product ON sync_conflicts (tenant_id, product_id, location_id) WHERE status = 'open';

SELECT isolate_tenant_table(t) FROM unnest(ARRAY['catalog_changes', 'sync_conflicts']::regclass[]) AS t;

-- The feed is written by the triggers only, and never rewritten.
REVOKE UPDATE, DELETE ON catalog_changes FROM makhzan_app;
