-- Coffee orders (coffee-server, version 1001).
CREATE TABLE IF NOT EXISTS coffee_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    product_id BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    qr_type TEXT NOT NULL,
    state TEXT NOT NULL,
    pay_url TEXT,
    refund_due BIGINT NOT NULL DEFAULT 0,
    product_name TEXT,
    pay_type TEXT,
    day TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    paid_at BIGINT,
    done_at BIGINT
);
CREATE INDEX IF NOT EXISTS coffee_orders_device ON coffee_orders (device_id, created_at);
CREATE INDEX IF NOT EXISTS coffee_orders_created ON coffee_orders (created_at);
CREATE INDEX IF NOT EXISTS coffee_orders_day ON coffee_orders (day, device_id);
