-- 008_write_path.sql: two costs taken off the write path.
--
-- 1. The outbox loses its NOTIFY trigger.
-- A transaction that notifies takes a database-wide lock at commit and
-- holds it through its WAL flush, so committing writers queued one behind
-- another instead of sharing a flush (group commit): POST /api/tickets ran
-- at half the rate of a bare INSERT. The relay now polls adaptively
-- (lib/core/relay.c), so nothing listens any more. This drops the trigger
-- from every outbox that has one (the services' and any left by tests),
-- then its function, and redefines tx_create_event_tables without it.
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN
		SELECT tg.tgname, c.relname, n.nspname
		FROM pg_trigger tg
		JOIN pg_class c ON c.oid = tg.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE tg.tgfoid = 'public.tx_outbox_notify()'::regprocedure
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %I.%I', t.tgname, t.nspname,
			t.relname);
	END LOOP;
END
$$;

DROP FUNCTION public.tx_outbox_notify();

-- As in 002, without the trigger.
CREATE OR REPLACE FUNCTION public.tx_create_event_tables(schema_name text, owner text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I',
		schema_name, owner);
	EXECUTE format($f$CREATE TABLE %I.outbox (
		id           bigserial PRIMARY KEY,
		event_id     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
		subject      text NOT NULL,
		data         json NOT NULL,
		created_at   timestamptz NOT NULL DEFAULT now(),
		published_at timestamptz
	)$f$, schema_name);
	EXECUTE format('CREATE INDEX outbox_unpublished_idx ON %I.outbox (id)
		WHERE published_at IS NULL', schema_name);
	EXECUTE format('CREATE INDEX outbox_published_at_idx ON %I.outbox
		(published_at) WHERE published_at IS NOT NULL', schema_name);
	EXECUTE format($f$CREATE TABLE %I.processed_events (
		event_id     uuid NOT NULL,
		group_name   text NOT NULL,
		processed_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (event_id, group_name)
	)$f$, schema_name);
	EXECUTE format('ALTER TABLE %I.outbox OWNER TO %I', schema_name, owner);
	EXECUTE format('ALTER TABLE %I.processed_events OWNER TO %I',
		schema_name, owner);
END
$$;

-- 2. The event and date helpers become STABLE, which is what their bodies
-- are (json_build_object and to_char depend on settings). Declared
-- IMMUTABLE over a STABLE body, the planner may not inline a SQL function,
-- so every statement that called one parsed and planned the function's body
-- again when it ran (fmgr_sql): a tenth of the tickets backend's time on
-- POST /api/tickets. STABLE functions are inlined into the statement's
-- plan and prepared once with it.
ALTER FUNCTION tickets.ticket_event(uuid, integer, text, bigint, uuid, uuid) STABLE;
ALTER FUNCTION orders.iso(timestamptz) STABLE;
