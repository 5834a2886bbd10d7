#!/usr/bin/env bash
# migrate.sh CONNINFO: apply sql/NNN_*.sql in order, each once, each in its
# own transaction with its record in public.schema_migrations. An advisory
# lock makes concurrent runs safe. Must connect as a role that may create
# roles and schemas (the cluster's superuser under make run / make test).
set -euo pipefail
conn=${1:?usage: migrate.sh CONNINFO}
here=$(cd "$(dirname "$0")/.." && pwd)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_() { psql "$conn" -X -q -o /dev/null -v ON_ERROR_STOP=1 "$@"; }

psql_ -c "SET client_min_messages = warning;
	CREATE TABLE IF NOT EXISTS public.schema_migrations (
	version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"

for f in "$here"/sql/[0-9][0-9][0-9]_*.sql; do
	v=$(basename "$f" .sql)
	psql_ -v v="$v" -v f="$f" <<'SQL'
BEGIN;
SELECT pg_advisory_xact_lock(7212026) \gset
SELECT EXISTS (SELECT 1 FROM public.schema_migrations WHERE version = :'v') AS done \gset
\if :done
\else
\echo applying :v
\i :f
INSERT INTO public.schema_migrations (version) VALUES (:'v');
\endif
COMMIT;
SQL
done
