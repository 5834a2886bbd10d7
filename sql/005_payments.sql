-- 005_payments.sql: the payments service's schema, owned by its own role:
-- its replica of orders, its payments (one per order), its outbox and
-- processed events.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payments') THEN
		CREATE ROLE payments LOGIN;
	END IF;
END
$$;

CREATE SCHEMA payments AUTHORIZATION payments;

-- The replica of orders.orders, kept by order:created/order:cancelled.
-- expires_at is NULL when the event's expiresAt was not a timestamp (the
-- original's listener test sends 'alskdjf'). attempts counts definite
-- provider refusals (declines): it is part of the idempotency key, so a
-- second card may be tried after a decline, while a retry after a timeout
-- reuses the key and can never charge twice.
CREATE TABLE payments.orders (
	id          uuid PRIMARY KEY,
	version     integer NOT NULL CHECK (version >= 0),
	user_id     uuid NOT NULL,
	price_cents bigint NOT NULL CHECK (price_cents > 0 AND price_cents <= 100000000),
	status      text NOT NULL,
	expires_at  timestamptz,
	attempts    integer NOT NULL DEFAULT 0
);

-- At most one payment per order, enforced by the database. A refund (the
-- order was cancelled around the charge) is recorded on the payment.
CREATE TABLE payments.payments (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	order_id           uuid NOT NULL UNIQUE,
	provider_charge_id text NOT NULL,
	amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
	created_at         timestamptz NOT NULL DEFAULT now(),
	refund_id          text,
	refunded_at        timestamptz
);

ALTER TABLE payments.orders OWNER TO payments;
ALTER TABLE payments.payments OWNER TO payments;
SELECT public.tx_create_event_tables('payments', 'payments');

-- A timestamp from event text, or NULL when it is not one.
CREATE FUNCTION payments.parse_ts(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN t::timestamptz;
EXCEPTION WHEN others THEN
	RETURN NULL;
END
$$;
ALTER FUNCTION payments.parse_ts OWNER TO payments;
