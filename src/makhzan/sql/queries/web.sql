-- name: tenant_for_shop_code
-- The tenant a sign-in form's shop code names (a range scan of the tenants key; see 0007).
SELECT tenant_for_shop_code(%(code)s) AS tenant_id;

-- name: insert_web_user
-- A person who signs in with a password.
INSERT INTO web_users (tenant_id, user_id, login, display_name, role, location_id, password_hash)
VALUES (%(tenant_id)s, %(user_id)s, %(login)s, %(display_name)s, %(role)s, %(location_id)s, %(password_hash)s)
RETURNING user_id, login, display_name, role, location_id, created_at, disabled_at;

-- name: find_web_user_by_login
-- The live user with this login, with the hash to verify.
SELECT user_id, login, display_name, role, location_id, password_hash FROM web_users
WHERE tenant_id = %(tenant_id)s AND login = %(login)s AND disabled_at IS NULL;

-- name: list_web_users
-- Every user of the tenant, by login.
SELECT user_id, login, display_name, role, location_id, created_at, disabled_at FROM web_users
WHERE tenant_id = %(tenant_id)s ORDER BY login;

-- name: set_web_user_password
-- A new password hash (also when argon2's parameters were raised since the last sign-in).
UPDATE web_users SET password_hash = %(password_hash)s
WHERE tenant_id = %(tenant_id)s AND user_id = %(user_id)s
RETURNING user_id;

-- name: disable_web_user
-- Stop a user signing in, and end their sessions (below).
UPDATE web_users SET disabled_at = now()
WHERE tenant_id = %(tenant_id)s AND user_id = %(user_id)s AND disabled_at IS NULL
RETURNING user_id;

-- name: delete_user_sessions
-- Every session of a user (disabled or password changed).
DELETE FROM web_sessions WHERE tenant_id = %(tenant_id)s AND user_id = %(user_id)s;

-- name: insert_web_session
-- A signed-in browser; the cookie holds the secret, the row its hash.
INSERT INTO web_sessions (tenant_id, session_hash, user_id, key_id, role, location_id, display_name, expires_at)
VALUES (%(tenant_id)s, %(session_hash)s, %(user_id)s, %(key_id)s, %(role)s, %(location_id)s, %(display_name)s,
        now() + make_interval(secs => %(lifetime_seconds)s));

-- name: find_web_session
-- The live session behind a cookie, and who it is (a revoked key or disabled user ends it).
SELECT s.user_id, s.key_id, s.role, s.location_id, s.display_name, s.expires_at
FROM web_sessions s
LEFT JOIN web_users u ON u.tenant_id = s.tenant_id AND u.user_id = s.user_id
LEFT JOIN api_keys k ON k.tenant_id = s.tenant_id AND k.key_id = s.key_id
WHERE s.tenant_id = %(tenant_id)s AND s.session_hash = %(session_hash)s AND s.expires_at > now()
  AND (s.user_id IS NULL OR u.disabled_at IS NULL)
  AND (s.key_id IS NULL OR k.revoked_at IS NULL);

-- name: delete_web_session
-- Sign-out.
DELETE FROM web_sessions WHERE tenant_id = %(tenant_id)s AND session_hash = %(session_hash)s;

-- name: delete_expired_web_sessions
-- Housekeeping at sign-in, so the table holds live sessions only.
DELETE FROM web_sessions WHERE tenant_id = %(tenant_id)s AND expires_at <= now();

-- name: find_key_for_sign_in
-- The live key a person pasted into the sign-in form, with its name.
SELECT key_id, name, role, location_id FROM api_keys
WHERE tenant_id = %(tenant_id)s AND key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: list_api_keys
-- The tenant's keys for the settings page (never the secret: only its hash is stored).
SELECT key_id, name, role, location_id, created_at, revoked_at FROM api_keys
WHERE tenant_id = %(tenant_id)s ORDER BY created_at, key_id;

-- name: todays_sales
-- Count and totals per currency of the sales since the tenant's local midnight.
SELECT s.currency, count(*) AS sales, coalesce(sum(s.total), 0) AS total
FROM sales s JOIN tenants t ON t.tenant_id = s.tenant_id
WHERE s.tenant_id = %(tenant_id)s
  AND s.occurred_at >= date_trunc('day', now() AT TIME ZONE t.time_zone) AT TIME ZONE t.time_zone
GROUP BY s.currency ORDER BY s.currency;

-- name: open_conflicts_count
-- How many offline-sale conflicts wait for a manager.
SELECT count(*) AS open FROM sync_conflicts WHERE tenant_id = %(tenant_id)s AND status = 'open';

-- name: arabic_names
-- The Arabic names of some products (the dashboard's alerts carry the English name only).
SELECT product_id, name_ar FROM products
WHERE tenant_id = %(tenant_id)s AND product_id = ANY(%(product_ids)s::uuid[]) AND name_ar IS NOT NULL;
