-- 007_payment_attempts.sql: every charge is written down before the
-- provider is asked to make it.
--
-- The pay path commits an attempt (its idempotency key, the order, the
-- amount and the card token) before calling the provider, and settles it
-- (outcome + charge id) in the transaction that records the payment or the
-- refund. An attempt left open means the process or the database died
-- between the provider's answer and that transaction, or the provider's
-- answer was unknown (timeout, 5xx): the charge may exist with no payment
-- row. The next pay request for the order replays it under the same key,
-- and the worker's settler does so for attempts nobody came back for:
-- recorded if the order can still take it, refunded if not. The token is
-- cleared once the attempt is settled.
CREATE TABLE payments.charge_attempts (
	idempotency_key text PRIMARY KEY,
	order_id        uuid NOT NULL,
	amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
	token           text,
	created_at      timestamptz NOT NULL DEFAULT now(),
	outcome         text CHECK (outcome IN ('charged', 'refunded', 'declined', 'failed')),
	charge_id       text,
	refund_id       text,
	settled_at      timestamptz,
	CHECK ((outcome IS NULL) = (settled_at IS NULL))
);
CREATE INDEX charge_attempts_open ON payments.charge_attempts (created_at)
	WHERE outcome IS NULL;
CREATE INDEX charge_attempts_order ON payments.charge_attempts (order_id);
ALTER TABLE payments.charge_attempts OWNER TO payments;

-- The ops program counts open attempts and their age (metrics, health):
-- those two columns only, never the token.
GRANT SELECT (created_at, outcome) ON payments.charge_attempts TO ops;
