-- name: catalog_changes_page
-- One page of the catalog change feed after a cursor, in commit order.
SELECT seq, entity, entity_key
FROM catalog_changes
WHERE tenant_id = %(tenant_id)s AND seq > %(since)s
ORDER BY seq
LIMIT %(limit)s;

-- name: changed_products
-- The current state of products named by the feed.
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active
FROM products WHERE tenant_id = %(tenant_id)s AND product_id = ANY(%(product_ids)s);

-- name: changed_barcodes
-- The current state of barcodes named by the feed (absent: removed).
SELECT barcode, product_id, unit, factor, kind
FROM product_barcodes WHERE tenant_id = %(tenant_id)s AND barcode = ANY(%(barcodes)s);

-- name: changed_barcode_rules
-- The current state of weighed-label rules named by the feed (absent: removed).
SELECT prefix, pattern FROM barcode_rules WHERE tenant_id = %(tenant_id)s AND prefix = ANY(%(prefixes)s);

-- name: till_settings
-- What a till prices with.
SELECT base_currency, lbp_rate, time_zone FROM tenants WHERE tenant_id = %(tenant_id)s;

-- name: existing_locations
-- Which of these locations belong to the tenant.
SELECT location_id FROM locations WHERE tenant_id = %(tenant_id)s AND location_id = ANY(%(location_ids)s);

-- name: insert_synced_sales
-- The headers of a batch of offline sales, in id order (two batches sharing ids lock them in
-- the same order). An id already recorded, or being recorded by a concurrent batch, inserts
-- nothing once that batch commits: the caller reports it as a duplicate. A batch's rows travel
-- as one JSON array: cheaper to send than one array parameter per column.
INSERT INTO sales (tenant_id, sale_id, location_id, key_id, occurred_at, currency, exchange_rate,
                   total, offline, request_hash)
SELECT %(tenant_id)s, s.sale_id, s.location_id, %(key_id)s, s.occurred_at, s.currency, s.exchange_rate,
       s.total, true, decode(s.request_hash, 'hex')
FROM jsonb_to_recordset(%(sales)s::jsonb)
     AS s (sale_id uuid, location_id uuid, occurred_at timestamptz, currency text, exchange_rate numeric,
           total numeric, request_hash text)
ORDER BY s.sale_id
ON CONFLICT (tenant_id, sale_id) DO NOTHING
RETURNING sale_id;

-- name: insert_synced_sale_lines
-- The lines of a batch of offline sales (one JSON array).
INSERT INTO sale_lines (tenant_id, sale_id, line_no, product_id, barcode, quantity, unit_price,
                        line_total, stock_after)
SELECT %(tenant_id)s, l.sale_id, l.line_no, l.product_id, l.barcode, l.quantity, l.unit_price,
       l.line_total, l.stock_after
FROM jsonb_to_recordset(%(lines)s::jsonb)
     AS l (sale_id uuid, line_no int, product_id uuid, barcode text, quantity numeric, unit_price numeric,
           line_total numeric, stock_after numeric);

-- name: insert_synced_movements
-- The ledger rows of a batch of offline sales, each naming its own sale (one JSON array).
INSERT INTO stock_movements (tenant_id, product_id, location_id, delta, kind, document_id, occurred_at)
SELECT %(tenant_id)s, m.product_id, m.location_id, m.delta, 'sale', m.document_id, m.occurred_at
FROM jsonb_to_recordset(%(movements)s::jsonb)
     AS m (product_id uuid, location_id uuid, delta numeric, document_id uuid, occurred_at timestamptz);

-- name: insert_conflicts
-- The conflicts a batch of offline sales left for a manager (one JSON array).
INSERT INTO sync_conflicts (tenant_id, conflict_id, kind, sale_id, location_id, product_id, barcode, details)
SELECT %(tenant_id)s, c.conflict_id, c.kind, c.sale_id, c.location_id, c.product_id, c.barcode, c.details
FROM jsonb_to_recordset(%(conflicts)s::jsonb)
     AS c (conflict_id uuid, kind text, sale_id uuid, location_id uuid, product_id uuid, barcode text,
           details jsonb);

-- name: list_conflicts
-- Conflicts newest first, a page at a time (keyset on created_at, conflict_id).
SELECT conflict_id, kind, status, sale_id, location_id, product_id, barcode, details, created_at,
       resolved_at, resolution
FROM sync_conflicts
WHERE tenant_id = %(tenant_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(location_id)s::uuid IS NULL OR location_id = %(location_id)s)
  AND (created_at, conflict_id) < (%(before)s, %(before_id)s)
ORDER BY created_at DESC, conflict_id DESC
LIMIT %(limit)s;

-- name: get_conflict_for_update
-- One conflict, locked so that two managers resolving it apply one after the other.
SELECT conflict_id, kind, status, sale_id, location_id, product_id, barcode, details, created_at,
       resolved_at, resolution
FROM sync_conflicts WHERE tenant_id = %(tenant_id)s AND conflict_id = %(conflict_id)s
FOR UPDATE;

-- name: resolve_conflict
-- Mark one conflict resolved, with how.
UPDATE sync_conflicts
SET status = 'resolved', resolved_at = now(), resolved_by = %(key_id)s, resolution = %(resolution)s
WHERE tenant_id = %(tenant_id)s AND conflict_id = %(conflict_id)s
RETURNING conflict_id, kind, status, sale_id, location_id, product_id, barcode, details, created_at,
          resolved_at, resolution;

-- name: resolve_stock_conflicts_by_count
-- A count settles the stock question for what it counted: their open shortfalls are resolved.
UPDATE sync_conflicts
SET status = 'resolved', resolved_at = now(), resolved_by = %(key_id)s, resolution = %(resolution)s
WHERE tenant_id = %(tenant_id)s AND status = 'open' AND kind = 'insufficient_stock'
  AND location_id = %(location_id)s AND product_id = ANY(%(product_ids)s);
