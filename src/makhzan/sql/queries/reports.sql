-- name: low_stock_report
-- Levels at or below their product's threshold (active products), most depleted first, with what to reorder.
-- The ratio quantity / threshold is NULL for a zero threshold and sorts FIRST (NULLS FIRST): such a
-- level is reported only when there is no stock at all, the most urgent case there is. Ties, and
-- the zero-threshold group, go by quantity, so a negative level (offline sales) leads a zero one.
-- The cheap columns are ranked and cut to the limit first; names are fetched for that page only.
-- No level above the tenant's largest threshold can be low: that cut-off (one index probe,
-- products_low_stock_threshold) drops most levels before the join to their products.
-- suggested_reorder brings the level back up to twice the threshold.
WITH low AS (
    SELECT s.product_id, s.location_id, s.quantity, p.low_stock_threshold,
           CASE WHEN p.low_stock_threshold > 0 THEN s.quantity / p.low_stock_threshold END AS ratio
    FROM stock_levels s
    JOIN products p ON p.tenant_id = s.tenant_id AND p.product_id = s.product_id
    WHERE s.tenant_id = %(tenant_id)s
      AND (%(location_id)s::uuid IS NULL OR s.location_id = %(location_id)s)
      AND p.active
      AND s.quantity <= p.low_stock_threshold
      AND s.quantity <= (SELECT max(low_stock_threshold) FROM products WHERE tenant_id = %(tenant_id)s AND active)
    ORDER BY ratio NULLS FIRST, s.quantity, s.product_id, s.location_id
    LIMIT %(limit)s
)
SELECT low.product_id, p.sku, p.name, p.name_ar, p.base_unit, low.location_id, l.name AS location_name,
       low.quantity, low.low_stock_threshold,
       greatest(0, 2 * low.low_stock_threshold - low.quantity)::numeric(16, 3) AS suggested_reorder
FROM low
JOIN products p ON p.tenant_id = %(tenant_id)s AND p.product_id = low.product_id
JOIN locations l ON l.tenant_id = %(tenant_id)s AND l.location_id = low.location_id
ORDER BY low.ratio NULLS FIRST, low.quantity, low.product_id, low.location_id;
