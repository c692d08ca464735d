-- name: deduct_stock
-- Take stock only if there is enough: zero rows back means insufficient, and nothing changed.
UPDATE stock_levels
SET quantity = quantity - %(quantity)s, updated_at = now()
WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s AND location_id = %(location_id)s
  AND quantity >= %(quantity)s
RETURNING quantity;

-- name: add_stock
-- Put stock in, creating the level the first time a product reaches a location.
INSERT INTO stock_levels AS s (tenant_id, product_id, location_id, quantity)
VALUES (%(tenant_id)s, %(product_id)s, %(location_id)s, %(quantity)s)
ON CONFLICT (tenant_id, product_id, location_id)
DO UPDATE SET quantity = s.quantity + EXCLUDED.quantity, updated_at = now()
RETURNING quantity;

-- name: ensure_stock_level
-- A zero level to lock, for a count of a product never stocked at the location.
INSERT INTO stock_levels (tenant_id, product_id, location_id, quantity)
VALUES (%(tenant_id)s, %(product_id)s, %(location_id)s, 0)
ON CONFLICT (tenant_id, product_id, location_id) DO NOTHING;

-- name: set_stock
-- Set a level to a counted quantity, returning what it was (locked first, so the
-- difference is exact even with sales running during the count).
WITH before AS (
    SELECT quantity FROM stock_levels
    WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s AND location_id = %(location_id)s
    FOR UPDATE
)
UPDATE stock_levels s
SET quantity = %(quantity)s, updated_at = now()
FROM before
WHERE s.tenant_id = %(tenant_id)s AND s.product_id = %(product_id)s AND s.location_id = %(location_id)s
RETURNING before.quantity AS before, s.quantity AS quantity;

-- name: stock_levels_of
-- Current levels of some products at one location (to tell a refused client what is left).
SELECT product_id, quantity FROM stock_levels
WHERE tenant_id = %(tenant_id)s AND location_id = %(location_id)s AND product_id = ANY(%(product_ids)s);

-- name: insert_movements
-- Append the ledger rows of one sale or document.
INSERT INTO stock_movements (tenant_id, product_id, location_id, delta, kind, document_id, reason, occurred_at)
SELECT %(tenant_id)s, m.product_id, m.location_id, m.delta, m.kind, %(document_id)s, %(reason)s, %(occurred_at)s
FROM unnest(%(product_ids)s::uuid[], %(location_ids)s::uuid[], %(deltas)s::numeric[], %(kinds)s::text[])
     AS m (product_id, location_id, delta, kind);

-- name: insert_sale
-- The sale header at today's exchange rate; a replayed id conflicts and inserts nothing
-- (waiting for an in-flight twin to commit or roll back). The total is set with the lines.
INSERT INTO sales (tenant_id, sale_id, location_id, key_id, occurred_at, currency, exchange_rate,
                   total, offline, request_hash)
SELECT %(tenant_id)s, %(sale_id)s, %(location_id)s, %(key_id)s, %(occurred_at)s, %(currency)s,
       t.lbp_rate, 0, %(offline)s, %(request_hash)s
FROM tenants t WHERE t.tenant_id = %(tenant_id)s
ON CONFLICT (tenant_id, sale_id) DO NOTHING
RETURNING sale_id, exchange_rate, recorded_at;

-- name: set_sale_total
-- The sale's total, once its lines are priced.
UPDATE sales SET total = %(total)s WHERE tenant_id = %(tenant_id)s AND sale_id = %(sale_id)s;

-- name: insert_sale_lines
-- The lines of one sale, with the level each left behind.
INSERT INTO sale_lines (tenant_id, sale_id, line_no, product_id, barcode, quantity, unit_price,
                        line_total, stock_after)
SELECT %(tenant_id)s, %(sale_id)s, l.line_no, l.product_id, l.barcode, l.quantity, l.unit_price,
       l.line_total, l.stock_after
FROM unnest(%(line_nos)s::int[], %(product_ids)s::uuid[], %(barcodes)s::text[], %(quantities)s::numeric[],
            %(unit_prices)s::numeric[], %(line_totals)s::numeric[], %(stock_afters)s::numeric[])
     AS l (line_no, product_id, barcode, quantity, unit_price, line_total, stock_after);

-- name: get_sale
-- A recorded sale's header.
SELECT sale_id, location_id, occurred_at, recorded_at, currency, exchange_rate, total, offline, request_hash
FROM sales WHERE tenant_id = %(tenant_id)s AND sale_id = %(sale_id)s;

-- name: get_sale_lines
-- A recorded sale's lines, in the order they were sent.
SELECT line_no, product_id, barcode, quantity, unit_price, line_total, stock_after
FROM sale_lines WHERE tenant_id = %(tenant_id)s AND sale_id = %(sale_id)s ORDER BY line_no;

-- name: insert_document
-- A receipt, transfer, adjustment or count header; a replayed id inserts nothing.
INSERT INTO stock_documents (tenant_id, document_id, kind, location_id, to_location_id, supplier,
                             reason, key_id, occurred_at, request_hash)
VALUES (%(tenant_id)s, %(document_id)s, %(kind)s, %(location_id)s, %(to_location_id)s, %(supplier)s,
        %(reason)s, %(key_id)s, %(occurred_at)s, %(request_hash)s)
ON CONFLICT (tenant_id, document_id) DO NOTHING
RETURNING document_id;

-- name: insert_document_lines
-- The lines of one stock document with what each did to the level.
INSERT INTO stock_document_lines (tenant_id, document_id, line_no, product_id, quantity, delta, quantity_after)
SELECT %(tenant_id)s, %(document_id)s, l.line_no, l.product_id, l.quantity, l.delta, l.quantity_after
FROM unnest(%(line_nos)s::int[], %(product_ids)s::uuid[], %(quantities)s::numeric[],
            %(deltas)s::numeric[], %(quantities_after)s::numeric[])
     AS l (line_no, product_id, quantity, delta, quantity_after);

-- name: get_document
-- A recorded stock document's header.
SELECT document_id, kind, location_id, to_location_id, supplier, reason, occurred_at, recorded_at, request_hash
FROM stock_documents WHERE tenant_id = %(tenant_id)s AND document_id = %(document_id)s;

-- name: get_document_lines
-- A recorded stock document's lines.
SELECT line_no, product_id, quantity, delta, quantity_after
FROM stock_document_lines WHERE tenant_id = %(tenant_id)s AND document_id = %(document_id)s
ORDER BY line_no;

-- name: list_stock
-- Levels, optionally for one location and/or one product.
SELECT s.product_id, s.location_id, s.quantity, s.updated_at, p.sku, p.name, p.base_unit
FROM stock_levels s
JOIN products p ON p.tenant_id = s.tenant_id AND p.product_id = s.product_id
WHERE s.tenant_id = %(tenant_id)s
  AND (%(location_id)s::uuid IS NULL OR s.location_id = %(location_id)s)
  AND (%(product_id)s::uuid IS NULL OR s.product_id = %(product_id)s)
  AND (p.sku, s.location_id) > (%(after_sku)s, %(after_location)s::uuid)
ORDER BY p.sku, s.location_id
LIMIT %(limit)s;

-- name: list_movements
-- A product's ledger, newest first, a page at a time (keyset on movement_id).
SELECT movement_id, product_id, location_id, delta, kind, document_id, reason, occurred_at, recorded_at
FROM stock_movements
WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s
  AND (%(location_id)s::uuid IS NULL OR location_id = %(location_id)s)
  AND movement_id < %(before)s
ORDER BY movement_id DESC
LIMIT %(limit)s;
