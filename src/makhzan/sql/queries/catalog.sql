-- name: insert_product
-- A new product; search_text is folded by the application.
INSERT INTO products (tenant_id, product_id, sku, name, name_ar, base_unit, price, currency,
                      low_stock_threshold, active, search_text)
VALUES (%(tenant_id)s, %(product_id)s, %(sku)s, %(name)s, %(name_ar)s, %(base_unit)s, %(price)s,
        %(currency)s, %(low_stock_threshold)s, %(active)s, %(search_text)s);

-- name: update_product
-- Overwrite a product's editable fields (the caller merges the patch into the current row).
UPDATE products
SET sku = %(sku)s, name = %(name)s, name_ar = %(name_ar)s, base_unit = %(base_unit)s,
    price = %(price)s, currency = %(currency)s, low_stock_threshold = %(low_stock_threshold)s,
    active = %(active)s, search_text = %(search_text)s, updated_at = now()
WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s;

-- name: get_product
-- One product, locked against concurrent edits when the caller is about to change it.
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active,
       created_at, updated_at
FROM products WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s;

-- name: get_product_for_update
-- One product, locked so that two edits of it apply one after the other.
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active,
       created_at, updated_at
FROM products WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s FOR UPDATE;

-- name: products_by_ids
-- Products for a set of ids (sale lines given by product id).
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active
FROM products WHERE tenant_id = %(tenant_id)s AND product_id = ANY(%(product_ids)s);

-- name: barcodes_of_products
-- Every barcode of a set of products.
SELECT product_id, barcode, unit, factor, kind FROM product_barcodes
WHERE tenant_id = %(tenant_id)s AND product_id = ANY(%(product_ids)s)
ORDER BY product_id, created_at, barcode;

-- name: insert_barcode
-- Attach a barcode to a product.
INSERT INTO product_barcodes (tenant_id, barcode, product_id, unit, factor, kind)
VALUES (%(tenant_id)s, %(barcode)s, %(product_id)s, %(unit)s, %(factor)s, %(kind)s);

-- name: delete_product_barcodes
-- Detach every barcode of a product (before attaching its new set).
DELETE FROM product_barcodes WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s;

-- name: resolve_barcodes
-- The product behind each scanned code (a basket's lines, in one round trip).
SELECT b.barcode, b.unit, b.factor, b.kind,
       p.product_id, p.sku, p.name, p.name_ar, p.base_unit, p.price, p.currency,
       p.low_stock_threshold, p.active
FROM product_barcodes b
JOIN products p ON p.tenant_id = b.tenant_id AND p.product_id = b.product_id
WHERE b.tenant_id = %(tenant_id)s AND b.barcode = ANY(%(barcodes)s);

-- name: scan
-- The till's hot path: product, unit and live stock at the location for one code.
SELECT b.barcode, b.unit, b.factor, b.kind,
       p.product_id, p.sku, p.name, p.name_ar, p.base_unit, p.price, p.currency,
       p.low_stock_threshold, p.active,
       s.quantity AS stock_quantity
FROM product_barcodes b
JOIN products p ON p.tenant_id = b.tenant_id AND p.product_id = b.product_id
LEFT JOIN stock_levels s
       ON s.tenant_id = b.tenant_id AND s.product_id = b.product_id AND s.location_id = %(location_id)s
WHERE b.tenant_id = %(tenant_id)s AND b.barcode = %(barcode)s;

-- name: stock_at
-- The level of one product at one location (NULL row: never stocked there).
SELECT quantity FROM stock_levels
WHERE tenant_id = %(tenant_id)s AND product_id = %(product_id)s AND location_id = %(location_id)s;

-- name: search_products
-- Products whose folded sku, names or barcodes contain the query, or a word like it (typos).
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active,
       created_at, updated_at
FROM products
WHERE tenant_id = %(tenant_id)s
  AND (search_text LIKE %(pattern)s OR %(q)s <%% search_text)
ORDER BY (search_text LIKE %(pattern)s) DESC, word_similarity(%(q)s, search_text) DESC, sku
LIMIT %(limit)s;

-- name: list_products
-- A page of the catalog in SKU order (keyset pagination).
SELECT product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active,
       created_at, updated_at
FROM products
WHERE tenant_id = %(tenant_id)s AND sku > %(after_sku)s
ORDER BY sku
LIMIT %(limit)s;
