-- 006_ops.sql: role ops, for the operations program (lib/ops): health,
-- metrics and the ops page read each service's outbox backlog.
--
-- Column privileges, not SECURITY DEFINER functions: ops may read only the
-- id, created_at and published_at columns of the three outboxes (enough
-- for count(*) and the age of the oldest unpublished row), never the
-- event payloads (data) or any business table, and may write nothing. A
-- plain GRANT is visible in \dp and needs no function per service kept in
-- step with the SQL in lib/ops/state.c. A statement timeout keeps a slow
-- database from holding a health check.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ops') THEN
		CREATE ROLE ops LOGIN;
	END IF;
END
$$;
ALTER ROLE ops SET statement_timeout = '2s';

GRANT USAGE ON SCHEMA tickets, orders, payments TO ops;
GRANT SELECT (id, created_at, published_at) ON tickets.outbox TO ops;
GRANT SELECT (id, created_at, published_at) ON orders.outbox TO ops;
GRANT SELECT (id, created_at, published_at) ON payments.outbox TO ops;
