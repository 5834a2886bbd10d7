-- 002_events.sql: the outbox pattern's shared helpers (see lib/core/relay.c).
--
-- tx_outbox_notify: a statement trigger on <schema>.outbox that wakes the
-- relay (LISTEN outbox_<schema>). The notification is delivered at COMMIT,
-- so the relay never wakes for rows it cannot see yet; it also polls.
-- (Dropped in 008_write_path.sql: the relay only polls now.)
CREATE FUNCTION public.tx_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
	RETURN NULL;
END
$$;

-- tx_create_event_tables(schema, owner): a service's outbox and its
-- processed-events table (listener idempotency), the trigger, and
-- ownership by the service's role. Creates the schema if it is missing.
-- Usage in a migration: SELECT public.tx_create_event_tables('tickets', 'tickets');
CREATE FUNCTION public.tx_create_event_tables(schema_name text, owner text)
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
	EXECUTE format('CREATE TRIGGER outbox_notify AFTER INSERT ON %I.outbox
		FOR EACH STATEMENT EXECUTE FUNCTION public.tx_outbox_notify()',
		schema_name);
	EXECUTE format('ALTER TABLE %I.outbox OWNER TO %I', schema_name, owner);
	EXECUTE format('ALTER TABLE %I.processed_events OWNER TO %I',
		schema_name, owner);
END
$$;
