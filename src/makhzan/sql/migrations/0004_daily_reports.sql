-- The morning report: each tenant's low-stock report, made once a day at a local hour and kept.
--
-- The primary key (tenant_id, report_date) is the whole scheduler's exactly-once rule: every
-- server process tries to insert a due report with ON CONFLICT DO NOTHING, and only the one
-- whose insert wins queues its webhook deliveries, in the same statement (makhzan.daily_report).
--
-- Same key rules as 0001: tenant_id leads every key, every foreign key carries it, RLS on.

-- The local hour (in tenants.time_zone) at which the morning report is made.
ALTER TABLE tenants ADD COLUMN report_hour smallint NOT NULL DEFAULT 7 CHECK (report_hour BETWEEN 0 AND 23);

CREATE TABLE daily_reports (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    -- The tenant's local date the report is for.
    report_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The rows of the low-stock report (every location) when it was made; quantities as text.
    rows jsonb NOT NULL,
    PRIMARY KEY (tenant_id, report_date)
);

SELECT isolate_tenant_table(t) FROM unnest(ARRAY['daily_reports']::regclass[]) AS t;

-- Reports are written by the scheduler (as the owner); requests only read them.
REVOKE INSERT, UPDATE, DELETE ON daily_reports FROM makhzan_app;
