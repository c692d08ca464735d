-- People who sign in to the screens with a password, and the sessions behind the browser's
-- cookie (password or API-key sign-in alike).
--
-- How a password sign-in finds its tenant: a user name is unique only inside its tenant
-- (a global unique key would break the tenant key rules and Citus distribution), so the
-- sign-in form also asks for the shop code: the first 12 hex digits of the tenant id,
-- printed by `makhzan user create` and `serve --demo`. tenant_for_shop_code below turns
-- it into the tenant id; everything after that runs under row-level security as usual.

CREATE TABLE web_users (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    user_id uuid NOT NULL,
    -- What the person types: folded to lower case by the application.
    login text NOT NULL CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role text NOT NULL CHECK (role IN ('admin', 'manager', 'cashier')),
    -- A cashier bound to a store sells only there, like a terminal's key.
    location_id uuid,
    -- An argon2id hash in its PHC string form (the parameters travel with the hash).
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    PRIMARY KEY (tenant_id, user_id),
    UNIQUE (tenant_id, login),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, location_id)
);

CREATE TABLE web_sessions (
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    -- SHA-256 of the cookie value; the cookie itself is never stored.
    session_hash bytea NOT NULL,
    -- Who signed in: a password user or an API key (exactly one of the two).
    user_id uuid,
    key_id uuid,
    role text NOT NULL CHECK (role IN ('admin', 'manager', 'cashier')),
    location_id uuid,
    display_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, session_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES web_users (tenant_id, user_id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, key_id),
    CHECK ((user_id IS NULL) <> (key_id IS NULL))
);

CREATE INDEX web_sessions_expiry ON web_sessions (tenant_id, expires_at);

SELECT isolate_tenant_table(t) FROM unnest(ARRAY['web_users', 'web_sessions']::regclass[]) AS t;

-- The tenant whose id starts with a 12-hex-digit shop code, or NULL (unknown, or, with odds of
-- one in 2^48 per pair of tenants, ambiguous). The only cross-tenant read of the sign-in path:
-- it runs as the schema owner (SECURITY DEFINER) and returns nothing but the id, by a range
-- scan of the tenants primary key.
CREATE FUNCTION tenant_for_shop_code(code text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT CASE WHEN count(*) = 1 THEN min(tenant_id::text)::uuid END
    FROM (SELECT tenant_id FROM tenants
          -- A malformed code gives NULL bounds (no row) rather than a cast error.
          WHERE tenant_id BETWEEN (CASE WHEN code ~ '^[0-9a-f]{12}$' THEN rpad(code, 32, '0') END)::uuid
                              AND (CASE WHEN code ~ '^[0-9a-f]{12}$' THEN rpad(code, 32, 'f') END)::uuid
          LIMIT 2) AS candidates
$$;

REVOKE ALL ON FUNCTION tenant_for_shop_code(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_for_shop_code(text) TO makhzan_app;
