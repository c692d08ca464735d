-- E-mail over SMTP for low-stock alerts and the morning report, through a transactional outbox
-- like webhook_deliveries: the e-mail row commits with the alert (or the kept report), and a
-- worker sends it afterwards, so a rolled-back sale sends nothing and a crash loses nothing.
--
-- Also a safe cursor for GET /alerts and the live stream: each alert records the id of the
-- transaction that raised it (see alerts.xid below).
--
-- Same key rules as 0001: tenant_id leads every key, every foreign key carries it, RLS on.

-- One SMTP set-up per tenant. The password is kept in clear because the worker must log in
-- with it; the API never sends it back.
CREATE TABLE email_settings (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    smtp_host text NOT NULL CHECK (length(smtp_host) BETWEEN 1 AND 253),
    smtp_port integer NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535),
    -- none: plain SMTP; starttls: upgrade after connecting (port 587); tls: TLS from the start (465).
    security text NOT NULL CHECK (security IN ('none', 'starttls', 'tls')),
    username text CHECK (length(username) <= 200),
    password text CHECK (length(password) <= 200),
    from_address text NOT NULL CHECK (length(from_address) BETWEEN 3 AND 320),
    alert_recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(alert_recipients) <= 50),
    report_recipients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(report_recipients) <= 50),
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

-- The outbox: one e-mail per alert-raising document (all its crossed levels in one message) or
-- per kept morning report, with the recipients as they were when it was queued. The SMTP
-- server is read from email_settings at send time, so fixing a wrong password fixes the retries.
CREATE TABLE email_deliveries (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    delivery_id uuid NOT NULL DEFAULT gen_random_uuid(),
    event text NOT NULL CHECK (event IN ('low_stock', 'daily_report')),
    recipients text[] NOT NULL CHECK (cardinality(recipients) > 0),
    -- What the message says (alerts with product names in both languages, or the report's date);
    -- the text itself is composed by the worker (makhzan.mail_messages).
    payload jsonb NOT NULL,
    -- Attempts made so far; the backoff before the next one doubles with each.
    attempts integer NOT NULL DEFAULT 0,
    -- A lease as in webhook_deliveries: a worker that claims the row pushes this past the send.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, delivery_id)
);

-- The worker's scan across tenants: only pending rows, by due time (not unique, see 0003).
CREATE INDEX email_deliveries_due ON email_deliveries (next_attempt_at) WHERE delivered_at IS NULL;

-- The delivery log: one row per SMTP attempt.
CREATE TABLE email_attempts (
    tenant_id uuid NOT NULL,
    attempt_id bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id uuid NOT NULL,
    -- The SMTP server's reply code when it refused (e.g. 451), NULL when it accepted or never answered.
    smtp_code integer,
    error text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, attempt_id),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES email_deliveries (tenant_id, delivery_id)
);

CREATE INDEX email_attempts_delivery ON email_attempts (tenant_id, delivery_id, attempt_id);

SELECT isolate_tenant_table(t)
FROM unnest(ARRAY['email_settings', 'email_deliveries', 'email_attempts']::regclass[]) AS t;

-- The attempt log is written by the delivery worker (as the owner); requests only read it.
REVOKE INSERT, UPDATE, DELETE ON email_attempts FROM makhzan_app;

-- A cursor that never skips an alert. created_at is stamped before commit, so a transaction
-- that commits later can hold an earlier stamp than one a client has already paged past. The
-- id of the raising transaction (xid8, never reused) says instead whether an alert can still
-- appear: every transaction still running has an id at or above the snapshot's xmin, so the
-- alerts below it are final, and paging in (xid, alert_id) order below that horizon never
-- skips one. Alerts raised before this migration get 0: final, and first.
ALTER TABLE alerts ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE alerts ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX alerts_xid ON alerts (tenant_id, xid, alert_id);
