-- 003_tickets.sql: the tickets service's schema, owned by its own role.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tickets') THEN
		CREATE ROLE tickets LOGIN;
	END IF;
END
$$;

CREATE SCHEMA tickets AUTHORIZATION tickets;

CREATE TABLE tickets.tickets (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	seq         bigserial NOT NULL UNIQUE, -- insertion order (ids are random)
	title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 10000),
	-- Whole cents; the API accepts 0.01 .. 1,000,000.00.
	price_cents bigint NOT NULL CHECK (price_cents > 0 AND price_cents <= 100000000),
	user_id     uuid NOT NULL,
	order_id    uuid,
	version     integer NOT NULL DEFAULT 0 CHECK (version >= 0),
	created_at  timestamptz NOT NULL DEFAULT now()
);

-- The landing page and GET /api/tickets: unreserved, in insertion order.
CREATE INDEX tickets_unreserved_idx ON tickets.tickets (seq) WHERE order_id IS NULL;

ALTER TABLE tickets.tickets OWNER TO tickets;
SELECT public.tx_create_event_tables('tickets', 'tickets');

-- The payload of ticket:created / ticket:updated (reference 5.1): the key
-- orderId is present only while the ticket is reserved.
CREATE FUNCTION tickets.ticket_event(id uuid, version integer, title text,
	price_cents bigint, user_id uuid, order_id uuid) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN order_id IS NULL THEN
		json_build_object('id', id, 'version', version, 'title', title,
			'price', trim_scale(price_cents / 100.0), 'userId', user_id)
	ELSE
		json_build_object('id', id, 'version', version, 'title', title,
			'price', trim_scale(price_cents / 100.0), 'userId', user_id,
			'orderId', order_id)
	END
$$;
ALTER FUNCTION tickets.ticket_event OWNER TO tickets;

-- Cancellations seen, so that an order:created that arrives after its own
-- order:cancelled (they travel on different streams) does not lock the
-- ticket for an order that is already gone.
CREATE TABLE tickets.order_cancellations (
	order_id    uuid PRIMARY KEY,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tickets.order_cancellations OWNER TO tickets;
