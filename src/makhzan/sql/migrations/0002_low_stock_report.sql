-- The low-stock report's cut-off: a level can only be low if it is at or below the largest
-- threshold of the tenant's active products. This index answers that maximum from its last
-- entry, so the report keeps only the levels under it before joining them to their products,
-- instead of joining every level of the tenant. On products, which change rarely, and not on
-- stock_levels, whose quantity every sale updates (an index there would end HOT updates).
CREATE INDEX products_low_stock_threshold ON products (tenant_id, low_stock_threshold) WHERE active;
