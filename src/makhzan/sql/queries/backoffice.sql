-- name: products_by_skus
-- The products an import's rows name by SKU, to update rather than create them.
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active
FROM products WHERE tenant_id = %(tenant_id)s AND sku = ANY(%(skus)s);

-- name: barcode_owners
-- Which product (and SKU) already holds each of a set of codes, to name it in an import's report.
SELECT b.barcode, b.product_id, p.sku
FROM product_barcodes b
JOIN products p ON p.tenant_id = b.tenant_id AND p.product_id = b.product_id
WHERE b.tenant_id = %(tenant_id)s AND b.barcode = ANY(%(barcodes)s);

-- name: product_level_by_location
-- A product's level at every location of the tenant (zero where it never moved), for its ledger page.
SELECT l.location_id, l.name AS location_name, COALESCE(s.quantity, 0) AS quantity
FROM locations l
LEFT JOIN stock_levels s
       ON s.tenant_id = l.tenant_id AND s.location_id = l.location_id AND s.product_id = %(product_id)s
WHERE l.tenant_id = %(tenant_id)s
ORDER BY l.created_at, l.location_id;

-- name: repeatable_read
-- The first statement of a read that must see one snapshot (a ledger page and the level it ends at).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- name: levels_of_products
-- The levels of a set of products (the stock page's search), optionally at one location.
SELECT s.product_id, s.location_id, s.quantity, s.updated_at, p.sku, p.name, p.base_unit
FROM stock_levels s
JOIN products p ON p.tenant_id = s.tenant_id AND p.product_id = s.product_id
WHERE s.tenant_id = %(tenant_id)s AND s.product_id = ANY(%(product_ids)s)
  AND (%(location_id)s::uuid IS NULL OR s.location_id = %(location_id)s)
ORDER BY p.sku, s.location_id;
