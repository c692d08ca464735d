-- name: raise_low_stock_alerts
-- The alerts of the levels sales or documents took down across their threshold (active
-- products), each naming the document that crossed it, and their outbox rows: one delivery
-- per active webhook subscribed to low_stock.
WITH crossed AS (
    SELECT c.product_id, c.location_id, c.quantity_after, c.threshold, c.document_id
    FROM unnest(%(product_ids)s::uuid[], %(location_ids)s::uuid[], %(quantities_after)s::numeric[],
                %(thresholds)s::numeric[], %(document_ids)s::uuid[])
         AS c (product_id, location_id, quantity_after, threshold, document_id)
),
raised AS (
    INSERT INTO alerts (tenant_id, product_id, location_id, quantity_after, threshold, document_id)
    SELECT %(tenant_id)s, c.product_id, c.location_id, c.quantity_after, c.threshold, c.document_id
    FROM crossed c
    JOIN products p ON p.tenant_id = %(tenant_id)s AND p.product_id = c.product_id
    WHERE p.active
    RETURNING alert_id, product_id, location_id, quantity_after, threshold, document_id, created_at
)
INSERT INTO webhook_deliveries (tenant_id, webhook_id, event, payload)
SELECT %(tenant_id)s, w.webhook_id, 'low_stock',
       jsonb_build_object(
           'event', 'low_stock', 'tenant_id', %(tenant_id)s::uuid,
           'alert', jsonb_build_object(
               'id', r.alert_id, 'product_id', r.product_id, 'sku', p.sku, 'name', p.name,
               'location_id', r.location_id,
               -- Decimal strings, like every quantity the API writes.
               'quantity_after', r.quantity_after::text, 'threshold', r.threshold::text,
               'document_id', r.document_id, 'created_at', r.created_at))
FROM raised r
JOIN products p ON p.tenant_id = %(tenant_id)s AND p.product_id = r.product_id
CROSS JOIN webhooks w
WHERE w.tenant_id = %(tenant_id)s AND w.active AND 'low_stock' = ANY (w.events);

-- name: list_alerts
-- A tenant's alerts raised after a moment, oldest first (a client polls with the last one's created_at).
SELECT a.alert_id AS id, a.kind, a.product_id, p.sku, p.name, a.location_id, a.quantity_after, a.threshold,
       a.document_id, a.created_at, a.acknowledged_at, a.acknowledged_by
FROM alerts a
JOIN products p ON p.tenant_id = a.tenant_id AND p.product_id = a.product_id
WHERE a.tenant_id = %(tenant_id)s AND a.created_at > %(since)s
  AND (%(location_id)s::uuid IS NULL OR a.location_id = %(location_id)s)
ORDER BY a.created_at, a.alert_id
LIMIT %(limit)s;

-- name: acknowledge_alert
-- Mark an alert seen (optionally only at one location); acknowledging it again keeps the first acknowledgement.
WITH acknowledged AS (
    UPDATE alerts
    SET acknowledged_at = coalesce(acknowledged_at, now()),
        acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN %(key_id)s::uuid ELSE acknowledged_by END
    WHERE tenant_id = %(tenant_id)s AND alert_id = %(alert_id)s
      AND (%(location_id)s::uuid IS NULL OR location_id = %(location_id)s)
    RETURNING *
)
SELECT a.alert_id AS id, a.kind, a.product_id, p.sku, p.name, a.location_id, a.quantity_after, a.threshold,
       a.document_id, a.created_at, a.acknowledged_at, a.acknowledged_by
FROM acknowledged a
JOIN products p ON p.tenant_id = a.tenant_id AND p.product_id = a.product_id;

-- name: insert_webhook
-- Register a webhook.
INSERT INTO webhooks (tenant_id, webhook_id, url, secret, events)
VALUES (%(tenant_id)s, %(webhook_id)s, %(url)s, %(secret)s, %(events)s)
RETURNING webhook_id AS id, url, events, active, created_at;

-- name: list_webhooks
-- A tenant's webhooks, without their secrets.
SELECT webhook_id AS id, url, events, active, created_at
FROM webhooks WHERE tenant_id = %(tenant_id)s
ORDER BY created_at, webhook_id;

-- name: claim_deliveries
-- Due deliveries of every tenant (the worker runs as the owner, outside RLS), leased to this
-- worker: next_attempt_at moves past the lease so that no other process sends them meanwhile.
-- SKIP LOCKED lets several processes claim at once without waiting on each other.
WITH due AS (
    SELECT d.tenant_id, d.delivery_id
    FROM webhook_deliveries d
    WHERE d.delivered_at IS NULL AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = now() + make_interval(secs => %(lease_seconds)s)
FROM due, webhooks w
WHERE d.tenant_id = due.tenant_id AND d.delivery_id = due.delivery_id
  AND w.tenant_id = d.tenant_id AND w.webhook_id = d.webhook_id
RETURNING d.tenant_id, d.delivery_id, d.event, d.payload, d.attempts, w.url, w.secret;

-- name: record_attempt
-- What one attempt got: logged, then the delivery is done or rescheduled after a backoff that
-- doubles with each failed attempt (base, 2 x base, 4 x base...) up to a cap.
WITH logged AS (
    INSERT INTO webhook_attempts (tenant_id, delivery_id, status_code, error)
    VALUES (%(tenant_id)s, %(delivery_id)s, %(status_code)s::integer, %(error)s::text)
)
UPDATE webhook_deliveries
SET attempts = attempts + 1,
    delivered_at = CASE WHEN %(delivered)s::boolean THEN coalesce(delivered_at, now()) ELSE delivered_at END,
    next_attempt_at = CASE
        WHEN %(delivered)s::boolean THEN next_attempt_at
        ELSE now() + make_interval(secs => least(%(backoff_seconds)s * power(2, least(attempts, 30)),
                                                 %(max_backoff_seconds)s))
    END,
    last_error = CASE WHEN %(delivered)s::boolean THEN NULL ELSE %(error)s::text END
WHERE tenant_id = %(tenant_id)s AND delivery_id = %(delivery_id)s;

-- name: stream_alerts
-- The next alerts of a live stream: stamped from a moment on, after the client's resume point, not sent yet.
SELECT a.alert_id AS id, a.kind, a.product_id, p.sku, p.name, a.location_id, a.quantity_after, a.threshold,
       a.document_id, a.created_at, a.acknowledged_at, a.acknowledged_by
FROM alerts a
JOIN products p ON p.tenant_id = a.tenant_id AND p.product_id = a.product_id
WHERE a.tenant_id = %(tenant_id)s AND a.created_at >= %(window_start)s
  AND (a.created_at, a.alert_id) > (%(after)s::timestamptz, %(after_id)s::uuid)
  AND a.alert_id <> ALL (%(sent)s::uuid[])
  AND (%(location_id)s::uuid IS NULL OR a.location_id = %(location_id)s)
ORDER BY a.created_at, a.alert_id
LIMIT %(limit)s;

-- name: database_clock
-- The database's clock, which stamps alerts: where a stream with nothing to replay starts.
SELECT clock_timestamp() AS now;
