-- The sample e-commerce database of the demo, part 2: deterministic generated rows for the
-- schema of ecommerce.sql. Each statement is its own transaction.

INSERT INTO shop.users (id, email, full_name, country, created_at)
SELECT i,
       format('user%s@example.com', i),
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Radia', 'Linus'])[1 + i % 8]
         || ' ' ||
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Thompson', 'Perlman', 'Torvalds'])[1 + (i / 8) % 8],
       (ARRAY['DE', 'FR', 'GB', 'US', 'JP', 'BR', 'IN', 'NG'])[1 + i % 8],
       timestamptz '2024-01-01 00:00:00+00' + i * interval '37 minutes'
FROM generate_series(1, 1000) AS i;

INSERT INTO shop.products (id, sku, name, description, price, tags, attributes, updated_at)
SELECT i,
       format('SKU-%s', lpad(i::text, 6, '0')),
       (ARRAY['Stainless', 'Wireless', 'Ergonomic', 'Compact', 'Organic', 'Vintage', 'Smart', 'Waterproof'])[1 + i % 8]
         || ' ' ||
       (ARRAY['kettle', 'headphones', 'keyboard', 'backpack', 'espresso machine', 'lamp', 'watch', 'jacket', 'blender', 'speaker'])[1 + (i / 8) % 10],
       repeat(format('Product %s is built to last. ', i), CASE WHEN i % 10 = 0 THEN 400 ELSE 3 END),
       round((5 + (i * 7919) % 49500 / 100.0)::numeric, 2),
       ARRAY[(ARRAY['home', 'audio', 'office', 'outdoor', 'kitchen'])[1 + i % 5], 'new'],
       jsonb_build_object('color', (ARRAY['black', 'white', 'red', 'blue'])[1 + i % 4], 'weight_g', 100 + i % 900),
       timestamptz '2025-01-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(1, 500) AS i;

INSERT INTO shop.orders (id, user_id, status, total, placed_at)
SELECT i,
       1 + (i * 7) % 1000,
       (ARRAY['placed', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + i % 5],
       0,
       timestamptz '2025-06-01 00:00:00+00' + i * interval '13 minutes'
FROM generate_series(1, 3000) AS i;

INSERT INTO shop.order_items (order_id, product_id, quantity, unit_price)
SELECT o.id, p.product_id, 1 + (o.id + p.n) % 3, pr.price
FROM shop.orders AS o
CROSS JOIN LATERAL (
    SELECT n, 1 + ((o.id * 31 + n * 97) % 500) AS product_id FROM generate_series(1, 3) AS n
) AS p
JOIN shop.products AS pr ON pr.id = p.product_id
ON CONFLICT DO NOTHING;

UPDATE shop.orders AS o
SET total = s.total
FROM (SELECT order_id, sum(quantity * unit_price) AS total FROM shop.order_items GROUP BY order_id) AS s
WHERE s.order_id = o.id;

INSERT INTO shop.follows (follower_id, followee_id, since)
SELECT f, 1 + (f * k * 13) % 1000, timestamptz '2025-01-01 00:00:00+00' + (f + k) * interval '1 day'
FROM generate_series(1, 1000) AS f, generate_series(1, 3) AS k
WHERE f <> 1 + (f * k * 13) % 1000
ON CONFLICT DO NOTHING;
