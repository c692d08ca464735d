-- name: daily_report_tenants
-- Every tenant's schedule and its latest kept report (the scheduler runs as the owner, outside RLS).
SELECT t.tenant_id, t.time_zone, t.report_hour, t.created_at,
       (SELECT max(d.report_date) FROM daily_reports d WHERE d.tenant_id = t.tenant_id) AS last_report_date
FROM tenants t
WHERE %(tenant_ids)s::uuid[] IS NULL OR t.tenant_id = ANY (%(tenant_ids)s::uuid[])
ORDER BY t.tenant_id;

-- name: keep_daily_report
-- Keep one day's report unless another process already did; only the insert that wins queues
-- one delivery per active webhook subscribed to daily_report, and one e-mail to the report's
-- recipients when the tenant's e-mail is enabled, in the same statement.
WITH kept AS (
    INSERT INTO daily_reports (tenant_id, report_date, rows)
    VALUES (%(tenant_id)s, %(report_date)s, %(rows)s)
    ON CONFLICT (tenant_id, report_date) DO NOTHING
    RETURNING tenant_id, report_date, created_at, rows
),
queued AS (
    INSERT INTO webhook_deliveries (tenant_id, webhook_id, event, payload)
    SELECT k.tenant_id, w.webhook_id, 'daily_report',
           jsonb_build_object('event', 'daily_report', 'tenant_id', k.tenant_id,
                              'report', jsonb_build_object('date', k.report_date, 'created_at', k.created_at,
                                                           'rows', k.rows))
    FROM kept k
    JOIN webhooks w ON w.tenant_id = k.tenant_id
    WHERE w.active AND 'daily_report' = ANY (w.events)
),
-- The rows stay in daily_reports; the e-mail worker reads them from there when it sends.
emailed AS (
    INSERT INTO email_deliveries (tenant_id, event, recipients, payload)
    SELECT k.tenant_id, 'daily_report', s.report_recipients,
           jsonb_build_object('event', 'daily_report', 'date', k.report_date)
    FROM kept k
    JOIN email_settings s ON s.tenant_id = k.tenant_id
    WHERE s.enabled AND cardinality(s.report_recipients) > 0
)
SELECT report_date FROM kept;

-- name: list_daily_reports
-- A tenant's kept morning reports, newest first, without their rows.
SELECT report_date AS date, created_at, jsonb_array_length(rows) AS row_count
FROM daily_reports
WHERE tenant_id = %(tenant_id)s
ORDER BY report_date DESC
LIMIT %(limit)s;

-- name: get_daily_report
-- One kept morning report.
SELECT report_date AS date, created_at, rows
FROM daily_reports
WHERE tenant_id = %(tenant_id)s AND report_date = %(report_date)s;
