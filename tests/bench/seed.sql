-- seed.sql: the data of `make bench`: 1,000 users, 10,000 tickets of which
-- the 12 oldest-listed are for sale (the first page) and 9,988 are sold,
-- with the orders service's replica and a complete order for each sold
-- ticket, as the events would have left them. Nothing goes to the outboxes:
-- these rows are history, already published. One title carries markup, so
-- the pages' escaping is part of the work.
INSERT INTO auth.users (email, password_hash)
SELECT 'user' || i || '@bench.test', 'seeded-not-a-hash'
FROM generate_series(1, 1000) i;

CREATE TEMP TABLE s AS
SELECT i, gen_random_uuid() AS tid,
	CASE WHEN i <= 9988 THEN gen_random_uuid() END AS oid,
	u.ids[1 + (i * 7919) % 1000] AS uid,
	CASE WHEN i = 9990 THEN 'Rock & Roll <Live> "Encore" night'
		ELSE (ARRAY['Concert', 'Opera', 'Football match', 'Theatre', 'Jazz night',
			'Comedy show'])[1 + i % 6] || ' #' || i END AS title,
	(1000 + (i * 37) % 20000)::bigint AS cents
FROM generate_series(1, 10000) i,
	(SELECT array_agg(id ORDER BY email) AS ids FROM auth.users) u;

INSERT INTO tickets.tickets (id, title, price_cents, user_id, order_id, version)
SELECT tid, title, cents, uid, oid, CASE WHEN oid IS NULL THEN 0 ELSE 1 END
FROM s ORDER BY i;
INSERT INTO orders.tickets (id, title, price_cents, version)
SELECT tid, title, cents, CASE WHEN oid IS NULL THEN 0 ELSE 1 END FROM s;
INSERT INTO orders.orders (id, user_id, status, expires_at, ticket_id, version)
SELECT oid, uid, 'complete', now() - interval '1 day', tid, 1 FROM s
WHERE oid IS NOT NULL;

-- The bare ceiling's write target (a row and its event, like POST /api/tickets).
CREATE TABLE public.bench_insert (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	title text NOT NULL,
	price_cents bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
ANALYZE;
