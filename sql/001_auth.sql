-- 001_auth.sql: the auth service's schema, owned by its own role.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auth') THEN
		CREATE ROLE auth LOGIN;
	END IF;
END
$$;

CREATE SCHEMA auth AUTHORIZATION auth;

CREATE TABLE auth.users (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
	password_hash text NOT NULL CHECK (length(password_hash) BETWEEN 1 AND 256),
	created_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique case-insensitively, and only the database decides:
-- two concurrent signups with one email give one row and one 23505.
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email));

ALTER TABLE auth.users OWNER TO auth;
