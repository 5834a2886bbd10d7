-- 004_orders.sql: the orders service's schema, owned by its own role: its
-- orders, its replica of tickets, its outbox and processed events.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'orders') THEN
		CREATE ROLE orders LOGIN;
	END IF;
END
$$;

CREATE SCHEMA orders AUTHORIZATION orders;

-- The replica of tickets.tickets, kept by ticket:created/ticket:updated.
CREATE TABLE orders.tickets (
	id          uuid PRIMARY KEY,
	title       text NOT NULL,
	price_cents bigint NOT NULL CHECK (price_cents > 0 AND price_cents <= 100000000),
	version     integer NOT NULL CHECK (version >= 0)
);

CREATE TABLE orders.orders (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	seq        bigserial NOT NULL UNIQUE, -- creation order
	user_id    uuid NOT NULL,
	status     text NOT NULL DEFAULT 'created'
		CHECK (status IN ('created', 'cancelled', 'awaiting:payment', 'complete')),
	expires_at timestamptz NOT NULL,
	ticket_id  uuid NOT NULL REFERENCES orders.tickets (id),
	version    integer NOT NULL DEFAULT 0 CHECK (version >= 0)
);

-- No double booking, enforced by the database: at most one live order per
-- ticket. Any number of concurrent POSTs get one row and the rest 23505.
CREATE UNIQUE INDEX orders_one_live_per_ticket ON orders.orders (ticket_id)
	WHERE status IN ('created', 'awaiting:payment', 'complete');
CREATE INDEX orders_by_user ON orders.orders (user_id, seq);
-- The sweeper: created orders past their expiry.
CREATE INDEX orders_created_expiry ON orders.orders (expires_at) WHERE status = 'created';

ALTER TABLE orders.tickets OWNER TO orders;
ALTER TABLE orders.orders OWNER TO orders;
SELECT public.tx_create_event_tables('orders', 'orders');

-- ISO-8601 UTC with milliseconds, as JavaScript's toISOString().
CREATE FUNCTION orders.iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
ALTER FUNCTION orders.iso OWNER TO orders;
