-- name: get_email_settings
-- A tenant's SMTP set-up, without the password (only whether one is set).
SELECT smtp_host, smtp_port, security, username, password IS NOT NULL AS password_set, from_address,
       alert_recipients, report_recipients, enabled, updated_at
FROM email_settings
WHERE tenant_id = %(tenant_id)s;

-- name: put_email_settings
-- Set a tenant's SMTP set-up; the password is replaced only when the request gave one (or null).
INSERT INTO email_settings (tenant_id, smtp_host, smtp_port, security, username, password, from_address,
                            alert_recipients, report_recipients, enabled)
VALUES (%(tenant_id)s, %(smtp_host)s, %(smtp_port)s, %(security)s, %(username)s, %(password)s, %(from_address)s,
        %(alert_recipients)s, %(report_recipients)s, %(enabled)s)
ON CONFLICT (tenant_id) DO UPDATE
SET smtp_host = excluded.smtp_host, smtp_port = excluded.smtp_port, security = excluded.security,
    username = excluded.username,
    password = CASE WHEN %(keep_password)s::boolean THEN email_settings.password ELSE excluded.password END,
    from_address = excluded.from_address, alert_recipients = excluded.alert_recipients,
    report_recipients = excluded.report_recipients, enabled = excluded.enabled, updated_at = now()
RETURNING smtp_host, smtp_port, security, username, password IS NOT NULL AS password_set, from_address,
          alert_recipients, report_recipients, enabled, updated_at;

-- name: claim_emails
-- Due e-mail of every tenant (the worker runs as the owner, outside RLS), leased to this worker
-- as in claim_deliveries, with what sending needs: the tenant's SMTP set-up as it is now, and
-- for a morning report its kept rows.
WITH due AS (
    SELECT d.tenant_id, d.delivery_id
    FROM email_deliveries d
    WHERE d.delivered_at IS NULL AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
),
leased AS (
    UPDATE email_deliveries d
    SET next_attempt_at = now() + make_interval(secs => %(lease_seconds)s)
    FROM due
    WHERE d.tenant_id = due.tenant_id AND d.delivery_id = due.delivery_id
    RETURNING d.tenant_id, d.delivery_id, d.event, d.recipients, d.payload, d.attempts, d.created_at
)
SELECT l.tenant_id, l.delivery_id, l.event, l.recipients, l.payload, l.attempts, l.created_at,
       t.name AS tenant_name, t.time_zone, s.smtp_host, s.smtp_port, s.security, s.username, s.password,
       s.from_address, s.enabled, r.rows AS report_rows
FROM leased l
JOIN tenants t ON t.tenant_id = l.tenant_id
LEFT JOIN email_settings s ON s.tenant_id = l.tenant_id
LEFT JOIN daily_reports r
       ON l.event = 'daily_report' AND r.tenant_id = l.tenant_id AND r.report_date = (l.payload ->> 'date')::date;

-- name: record_email_attempts
-- What one batch of SMTP attempts got, in one statement: each logged, then its e-mail done or
-- rescheduled after a backoff that doubles with each failed attempt, up to a cap.
WITH outcome AS (
    SELECT o.tenant_id, o.delivery_id, o.delivered, o.smtp_code, o.error
    FROM unnest(%(tenant_ids)s::uuid[], %(delivery_ids)s::uuid[], %(delivered)s::boolean[],
                %(smtp_codes)s::integer[], %(errors)s::text[]) AS o (tenant_id, delivery_id, delivered, smtp_code, error)
),
logged AS (
    INSERT INTO email_attempts (tenant_id, delivery_id, smtp_code, error)
    SELECT tenant_id, delivery_id, smtp_code, error FROM outcome
)
UPDATE email_deliveries d
SET attempts = d.attempts + 1,
    delivered_at = CASE WHEN o.delivered THEN coalesce(d.delivered_at, now()) ELSE d.delivered_at END,
    next_attempt_at = CASE
        WHEN o.delivered THEN d.next_attempt_at
        ELSE now() + make_interval(secs => least(%(backoff_seconds)s * power(2, least(d.attempts, 30)),
                                                 %(max_backoff_seconds)s))
    END,
    last_error = o.error
FROM outcome o
WHERE d.tenant_id = o.tenant_id AND d.delivery_id = o.delivery_id;
