-- name: set_tenant
-- Scope the connection to one tenant; row-level security reads this setting.
SELECT set_config('makhzan.tenant_id', %s, false);

-- name: insert_tenant
-- A new business.
INSERT INTO tenants (tenant_id, name) VALUES (%(tenant_id)s, %(name)s)
RETURNING tenant_id, name, base_currency, lbp_rate, time_zone, created_at;

-- name: get_tenant
-- The current tenant's settings.
SELECT tenant_id, name, base_currency, lbp_rate, time_zone, created_at
FROM tenants WHERE tenant_id = %(tenant_id)s;

-- name: insert_location
-- A store, warehouse or kitchen of the tenant.
INSERT INTO locations (tenant_id, location_id, name, kind)
VALUES (%(tenant_id)s, %(location_id)s, %(name)s, %(kind)s)
RETURNING location_id, name, kind, created_at;

-- name: list_locations
-- Every location of the tenant, oldest first.
SELECT location_id, name, kind, created_at FROM locations
WHERE tenant_id = %(tenant_id)s ORDER BY created_at, location_id;

-- name: location_exists
-- Whether a location belongs to the tenant.
SELECT 1 AS found FROM locations WHERE tenant_id = %(tenant_id)s AND location_id = %(location_id)s;

-- name: insert_api_key
-- A key's hash, never the key itself.
INSERT INTO api_keys (tenant_id, key_id, name, role, location_id, key_hash)
VALUES (%(tenant_id)s, %(key_id)s, %(name)s, %(role)s, %(location_id)s, %(key_hash)s)
RETURNING key_id, name, role, location_id, created_at;

-- name: find_api_key
-- The live key with this hash, if any.
SELECT key_id, role, location_id FROM api_keys
WHERE tenant_id = %(tenant_id)s AND key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: insert_barcode_rule
-- A weighed/priced label rule; replaces the rule for the same prefix.
INSERT INTO barcode_rules (tenant_id, prefix, pattern) VALUES (%(tenant_id)s, %(prefix)s, %(pattern)s)
ON CONFLICT (tenant_id, prefix) DO UPDATE SET pattern = EXCLUDED.pattern
RETURNING prefix, pattern;

-- name: list_barcode_rules
-- The tenant's weighed/priced label rules.
SELECT prefix, pattern FROM barcode_rules WHERE tenant_id = %(tenant_id)s ORDER BY prefix;

-- name: set_lbp_rate
-- The owner's exchange rate of the day.
UPDATE tenants SET lbp_rate = %(lbp_rate)s WHERE tenant_id = %(tenant_id)s
RETURNING tenant_id, name, base_currency, lbp_rate, time_zone, created_at;
