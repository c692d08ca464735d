-- name: move_levels
-- Apply one document's changes to its levels, in one statement: lock the existing levels in
-- (product, location) order (so two baskets never deadlock), then add each delta (for a
-- count, the difference to the counted quantity), creating levels on first arrival. A
-- deduction applies only where enough stock is left, unless allow_negative (offline sales
-- that already happened); a change missing from the result changed nothing. The product's
-- low-stock threshold comes back with each level, so that a crossing is seen without another
-- round trip.
WITH wanted AS (
    SELECT * FROM unnest(%(product_ids)s::uuid[], %(location_ids)s::uuid[], %(deltas)s::numeric[],
                         %(counted)s::numeric[]) AS w (product_id, location_id, delta, counted)
),
locked AS (
    SELECT s.product_id, s.location_id, s.quantity
    FROM stock_levels s
    JOIN wanted w ON w.product_id = s.product_id AND w.location_id = s.location_id
    WHERE s.tenant_id = %(tenant_id)s
    ORDER BY s.product_id, s.location_id
    FOR UPDATE OF s
),
changes AS (
    SELECT w.product_id, w.location_id, l.quantity AS before,
           coalesce(w.counted - coalesce(l.quantity, 0), w.delta) AS delta
    FROM wanted w
    LEFT JOIN locked l ON l.product_id = w.product_id AND l.location_id = w.location_id
),
applied AS (
    INSERT INTO stock_levels AS s (tenant_id, product_id, location_id, quantity)
    SELECT %(tenant_id)s, c.product_id, c.location_id, c.delta
    FROM changes c
    WHERE %(allow_negative)s OR coalesce(c.before, 0) + c.delta >= 0
    ORDER BY c.product_id, c.location_id
    ON CONFLICT (tenant_id, product_id, location_id) DO UPDATE
        SET quantity = s.quantity + EXCLUDED.quantity, updated_at = now()
        WHERE %(allow_negative)s OR s.quantity + EXCLUDED.quantity >= 0
    RETURNING s.product_id, s.location_id, s.quantity
)
SELECT a.product_id, a.location_id, a.quantity, c.delta, p.low_stock_threshold
FROM applied a
JOIN changes c ON c.product_id = a.product_id AND c.location_id = a.location_id
JOIN products p ON p.tenant_id = %(tenant_id)s AND p.product_id = a.product_id;

-- name: ensure_stock_levels
-- Zero levels for products counted where they were never stocked, so that they can be locked.
INSERT INTO stock_levels (tenant_id, product_id, location_id, quantity)
SELECT %(tenant_id)s, k.product_id, k.location_id, 0
FROM unnest(%(product_ids)s::uuid[], %(location_ids)s::uuid[]) AS k (product_id, location_id)
ORDER BY k.product_id, k.location_id
ON CONFLICT (tenant_id, product_id, location_id) DO NOTHING;

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
