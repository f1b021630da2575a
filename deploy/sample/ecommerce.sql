-- The sample e-commerce database of the demo, part 1: the schema (users, products, orders,
-- order items, follows) and its publication. Re-running it starts the schema afresh.
-- Part 2, ecommerce-data.sql, fills it with deterministic generated rows.

DROP PUBLICATION IF EXISTS sluice_demo;
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;

CREATE TABLE shop.users (
    id          bigint PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    full_name   text NOT NULL,
    country     text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE shop.products (
    id           bigint PRIMARY KEY,
    sku          text NOT NULL UNIQUE,
    name         text NOT NULL,
    description  text NOT NULL,          -- long enough to be TOASTed for some rows
    price        numeric(12, 2) NOT NULL,
    tags         text[] NOT NULL,
    attributes   jsonb NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE shop.orders (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES shop.users (id),
    status      text NOT NULL CHECK (status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')),
    total       numeric(12, 2) NOT NULL,
    placed_at   timestamptz NOT NULL
);

CREATE TABLE shop.order_items (
    order_id    bigint NOT NULL REFERENCES shop.orders (id) ON DELETE CASCADE,
    product_id  bigint NOT NULL REFERENCES shop.products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE shop.follows (
    follower_id  bigint NOT NULL REFERENCES shop.users (id),
    followee_id  bigint NOT NULL REFERENCES shop.users (id),
    since        timestamptz NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);

-- The demo's publication: what the source captures.
CREATE PUBLICATION sluice_demo FOR TABLE
    shop.users, shop.products, shop.orders, shop.order_items, shop.follows;
