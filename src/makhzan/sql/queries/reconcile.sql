-- name: level_drift
-- Every (tenant, product, location) whose level differs from the sum of its movements,
-- including levels with no movements and movements with no level.
SELECT coalesce(l.tenant_id, m.tenant_id) AS tenant_id,
       coalesce(l.product_id, m.product_id) AS product_id,
       coalesce(l.location_id, m.location_id) AS location_id,
       coalesce(l.quantity, 0) AS level,
       coalesce(m.total, 0) AS ledger
FROM stock_levels l
FULL JOIN (
    SELECT tenant_id, product_id, location_id, sum(delta) AS total
    FROM stock_movements GROUP BY tenant_id, product_id, location_id
) m ON m.tenant_id = l.tenant_id AND m.product_id = l.product_id AND m.location_id = l.location_id
WHERE coalesce(l.quantity, 0) <> coalesce(m.total, 0)
ORDER BY 1, 2, 3;

-- name: repair_level
-- Rebuild one level from the ledger.
INSERT INTO stock_levels AS s (tenant_id, product_id, location_id, quantity)
VALUES (%(tenant_id)s, %(product_id)s, %(location_id)s, %(ledger)s)
ON CONFLICT (tenant_id, product_id, location_id)
DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now();
