-- The terminal agent's SQLite store: a copy of the tenant's catalog, the last known stock of the
-- terminal's location, and the outbox of sales that central has not acknowledged yet.
--
-- Decimals are stored as TEXT (exact; SQLite's REAL would be a float) and parsed with Decimal.

CREATE TABLE IF NOT EXISTS meta (
    key text PRIMARY KEY,
    value text NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS products (
    product_id text PRIMARY KEY,
    sku text NOT NULL,
    name text NOT NULL,
    name_ar text,
    base_unit text NOT NULL,
    price text NOT NULL,
    currency text NOT NULL,
    low_stock_threshold text NOT NULL,
    active integer NOT NULL,
    -- makhzan.text.normalize_for_search of sku, names and barcodes: what ?q= matches.
    search_text text NOT NULL
);

CREATE TABLE IF NOT EXISTS barcodes (
    barcode text PRIMARY KEY,
    product_id text NOT NULL,
    unit text NOT NULL,
    factor text NOT NULL,
    kind text NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS barcodes_product ON barcodes (product_id);

CREATE TABLE IF NOT EXISTS barcode_rules (
    prefix text PRIMARY KEY,
    pattern text NOT NULL
) WITHOUT ROWID;

-- The tenant's settings as central last sent them (base_currency, lbp_rate, time_zone).
CREATE TABLE IF NOT EXISTS settings (
    key text PRIMARY KEY,
    value text NOT NULL
) WITHOUT ROWID;

-- The terminal location's levels: central's last known level minus the local sales central has
-- not applied yet (the outbox), so a scan shows the best estimate the till has.
CREATE TABLE IF NOT EXISTS stock (
    product_id text PRIMARY KEY,
    quantity text NOT NULL,
    as_of text NOT NULL
) WITHOUT ROWID;

-- Every sale this agent answered, keyed by the POS program's id, so that a retry gets the same
-- answer whether or not the link is up at the time of the retry. request_hash tells a retry from
-- a different sale reusing an id.
CREATE TABLE IF NOT EXISTS answered_sales (
    sale_id text PRIMARY KEY,
    request_hash text NOT NULL,
    status integer NOT NULL,
    body text NOT NULL,
    answered_at text NOT NULL
) WITHOUT ROWID;

-- Sales taken offline, oldest first (seq), until central acknowledged them (applied or
-- duplicate). payload is the sale exactly as it will be sent to POST /api/v1/sync/sales.
CREATE TABLE IF NOT EXISTS outbox (
    seq integer PRIMARY KEY AUTOINCREMENT,
    sale_id text NOT NULL UNIQUE,
    payload text NOT NULL,
    created_at text NOT NULL,
    attempts integer NOT NULL DEFAULT 0
);

-- The base quantities each pending sale takes, by product: subtracted from central's level when
-- the stock is refreshed, so a refresh never makes the unsynced sales reappear on the shelf.
CREATE TABLE IF NOT EXISTS outbox_lines (
    sale_id text NOT NULL,
    product_id text NOT NULL,
    quantity text NOT NULL
);

CREATE INDEX IF NOT EXISTS outbox_lines_sale ON outbox_lines (sale_id);
CREATE INDEX IF NOT EXISTS outbox_lines_product ON outbox_lines (product_id);

-- Sales central refused outright (rejected): kept with central's error for a manager, never
-- silently dropped, and reported by /agent/status.
CREATE TABLE IF NOT EXISTS dead_letters (
    sale_id text PRIMARY KEY,
    payload text NOT NULL,
    error text NOT NULL,
    rejected_at text NOT NULL
) WITHOUT ROWID;
