-- The terminal agent's queries on its SQLite store (schema.sql), used as ``AQ.name``.

-- name: get_meta
-- One of the agent's own values (catalog cursor, location, last sync).
SELECT value FROM meta WHERE key = ?;

-- name: set_meta
-- Set one of the agent's own values.
INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: product_by_barcode
-- The till's lookup: a code and the product it belongs to.
SELECT b.barcode, b.unit, b.factor, b.kind, p.*
FROM barcodes b JOIN products p ON p.product_id = b.product_id
WHERE b.barcode = ?;

-- name: product_by_id
-- A product named by id (a sale line without a barcode).
SELECT * FROM products WHERE product_id = ?;

-- name: barcode_patterns
-- The tenant's weighed and priced label rules.
SELECT pattern FROM barcode_rules ORDER BY prefix;

-- name: settings
-- The tenant's settings as central last sent them.
SELECT key, value FROM settings;

-- name: stock_of
-- The local estimate of one product's level.
SELECT quantity, as_of FROM stock WHERE product_id = ?;

-- name: search_products
-- Products whose folded text, or one of whose barcodes, contains the pattern; sku order.
SELECT * FROM products
WHERE search_text LIKE :pattern ESCAPE '\'
   OR product_id IN (SELECT product_id FROM barcodes WHERE barcode LIKE :pattern ESCAPE '\')
ORDER BY sku
LIMIT :limit;

-- name: first_products
-- The catalog in sku order (an empty search).
SELECT * FROM products ORDER BY sku LIMIT ?;

-- name: barcodes_of_products
-- The barcodes of a list of products, given as a JSON array of ids.
SELECT barcode, product_id, unit, factor, kind FROM barcodes
WHERE product_id IN (SELECT value FROM json_each(?))
ORDER BY barcode;

-- name: counts
-- What /agent/status reports.
SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM products);

-- name: upsert_product
-- A product as the feed sends it.
INSERT INTO products (product_id, sku, name, name_ar, base_unit, price, currency, low_stock_threshold, active,
                      search_text)
VALUES (:id, :sku, :name, :name_ar, :base_unit, :price, :currency, :low_stock_threshold, :active, :search_text)
ON CONFLICT (product_id) DO UPDATE SET
    sku = excluded.sku, name = excluded.name, name_ar = excluded.name_ar, base_unit = excluded.base_unit,
    price = excluded.price, currency = excluded.currency, low_stock_threshold = excluded.low_stock_threshold,
    active = excluded.active, search_text = excluded.search_text;

-- name: upsert_barcode
-- A barcode as the feed sends it (possibly moved to another product).
INSERT INTO barcodes (barcode, product_id, unit, factor, kind) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (barcode) DO UPDATE SET
    product_id = excluded.product_id, unit = excluded.unit, factor = excluded.factor, kind = excluded.kind;

-- name: delete_barcode
-- A barcode central removed.
DELETE FROM barcodes WHERE barcode = ?;

-- name: upsert_barcode_rule
-- A weighed or priced label rule.
INSERT OR REPLACE INTO barcode_rules (prefix, pattern) VALUES (?, ?);

-- name: delete_barcode_rule
-- A label rule central removed.
DELETE FROM barcode_rules WHERE prefix = ?;

-- name: upsert_setting
-- One of the tenant's settings.
INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?);

-- name: answered_sale
-- The answer given for a sale id, and the request it answered.
SELECT request_hash, body FROM answered_sales WHERE sale_id = ?;

-- name: insert_answer
-- Keep an answer for retries; nothing when the id was answered already.
INSERT OR IGNORE INTO answered_sales (sale_id, request_hash, status, body, answered_at) VALUES (?, ?, 201, ?, ?);

-- name: forget_old_answers
-- Answers no POS program will retry any more, never a pending sale's.
DELETE FROM answered_sales WHERE answered_at < ? AND sale_id NOT IN (SELECT sale_id FROM outbox);

-- name: insert_outbox
-- A sale taken offline, as it will be sent.
INSERT INTO outbox (sale_id, payload, created_at) VALUES (?, ?, ?);

-- name: insert_outbox_line
-- What a pending sale takes of one product.
INSERT INTO outbox_lines (sale_id, product_id, quantity) VALUES (?, ?, ?);

-- name: outbox_span
-- An upper bound of the pending sales, from two index probes.
SELECT coalesce(max(seq) - min(seq) + 1, 0) FROM outbox;

-- name: outbox_count
-- The pending sales, counted.
SELECT count(*) FROM outbox;

-- name: pending_of_product
-- What the pending sales take of one product.
SELECT quantity FROM outbox_lines WHERE product_id = ?;

-- name: all_pending_lines
-- What the pending sales take, every product.
SELECT product_id, quantity FROM outbox_lines;

-- name: set_stock
-- The local estimate of one product's level.
INSERT INTO stock (product_id, quantity, as_of) VALUES (?, ?, ?)
ON CONFLICT (product_id) DO UPDATE SET quantity = excluded.quantity, as_of = excluded.as_of;

-- name: next_batch
-- The oldest pending sales.
SELECT payload FROM outbox ORDER BY seq LIMIT ?;

-- name: outbox_payload
-- One pending sale, as sent.
SELECT payload FROM outbox WHERE sale_id = ?;

-- name: insert_dead_letter
-- A sale central rejected, kept with its error.
INSERT OR REPLACE INTO dead_letters (sale_id, payload, error, rejected_at) VALUES (?, ?, ?, ?);

-- name: delete_outbox
-- A sale central acknowledged.
DELETE FROM outbox WHERE sale_id = ?;

-- name: delete_outbox_lines
-- The quantities of a sale central acknowledged.
DELETE FROM outbox_lines WHERE sale_id = ?;

-- name: count_attempts
-- One more push of these sales (a JSON array of ids).
UPDATE outbox SET attempts = attempts + 1 WHERE sale_id IN (SELECT value FROM json_each(?));

-- name: dead_letters
-- The latest rejected sales.
SELECT sale_id, error, rejected_at FROM dead_letters ORDER BY rejected_at DESC LIMIT ?;
