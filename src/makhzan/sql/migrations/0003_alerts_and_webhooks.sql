-- Low-stock alerts raised in the sale's (or document's) own transaction, and webhook delivery
-- through a transactional outbox: the delivery rows commit with the alert, and a worker sends
-- them afterwards, so a rolled-back sale sends nothing and a crash loses nothing.
--
-- Same key rules as 0001: tenant_id leads every key, every foreign key carries it, RLS on.

CREATE TABLE alerts (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    alert_id uuid NOT NULL DEFAULT gen_random_uuid(),
    kind text NOT NULL DEFAULT 'low_stock' CHECK (kind IN ('low_stock')),
    product_id uuid NOT NULL,
    location_id uuid NOT NULL,
    quantity_after numeric(14, 3) NOT NULL,
    threshold numeric(14, 3) NOT NULL,
    -- The sale or stock document whose move crossed the threshold.
    document_id uuid NOT NULL,
    -- The clock at the insert, which the pipeline sends with the COMMIT, rather than the
    -- transaction's start: closer to commit order, which GET /alerts?since= pages by.
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    acknowledged_at timestamptz,
    -- The API key that acknowledged it.
    acknowledged_by uuid,
    PRIMARY KEY (tenant_id, alert_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, product_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id),
    FOREIGN KEY (tenant_id, acknowledged_by) REFERENCES api_keys (tenant_id, key_id)
);

CREATE INDEX alerts_created ON alerts (tenant_id, created_at, alert_id);

CREATE TABLE webhooks (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    webhook_id uuid NOT NULL,
    url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    -- Kept in clear: it is the HMAC key every delivery is signed with.
    secret text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
    events text[] NOT NULL
        CHECK (cardinality(events) > 0 AND events <@ ARRAY['low_stock', 'daily_report']::text[]),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, webhook_id)
);

-- The outbox: one row per (event, webhook), written in the transaction that raised the event.
CREATE TABLE webhook_deliveries (
    tenant_id uuid NOT NULL,
    delivery_id uuid NOT NULL DEFAULT gen_random_uuid(),
    webhook_id uuid NOT NULL,
    event text NOT NULL CHECK (event IN ('low_stock', 'daily_report')),
    payload jsonb NOT NULL,
    -- Attempts made so far; the backoff before the next one doubles with each.
    attempts integer NOT NULL DEFAULT 0,
    -- When a worker may (re)try it. A worker that claims a delivery pushes this into the
    -- future (a lease) so that no other process sends it meanwhile, without holding a lock
    -- during the HTTP call; a worker killed mid-send leaves it to be retried when the lease ends.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, delivery_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, webhook_id)
);

-- The worker's scan across tenants: only pending rows, by due time. Not unique, so it need not
-- lead with tenant_id (and, distributed, each shard keeps its own).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    tenant_id uuid NOT NULL,
    attempt_id bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id uuid NOT NULL,
    -- The receiver's HTTP status, or NULL with the error when no answer came.
    status_code integer,
    error text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, attempt_id),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, delivery_id)
);

CREATE INDEX webhook_attempts_delivery ON webhook_attempts (tenant_id, delivery_id, attempt_id);

SELECT isolate_tenant_table(t) FROM unnest(ARRAY['alerts', 'webhooks', 'webhook_deliveries', 'webhook_attempts']::regclass[]) AS t;

-- The attempt log is written by the delivery worker (as the owner); requests only read it.
REVOKE INSERT, UPDATE, DELETE ON webhook_attempts FROM makhzan_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO makhzan_app;
