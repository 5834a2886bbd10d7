-- listings.sql: a marketplace-sized catalogue for the listings bench
-- (scripts/bench.sh, section listings) and the plan checks
-- (tests/unit/test_plans.c):
--   :forsale tickets for sale, from 1,000 sellers;
--   :other tickets reserved or sold (every other one sold);
--   1,000 more by one seller (user 00000000-0000-4000-8000-00000000b001),
--   of every status, for GET /api/tickets/mine.
-- Titles are made of an event, a performer or team, a city and a number
-- ("Jazz night: Blue Notes in Lisbon #48213"), so that a two-word search
-- such as "jazz lisbon" matches about one ticket in 120. Every title
-- starts with "Seeded", so that the rows can be found and deleted again.
-- Rows only: no events in the outboxes and no replicas; the listings read
-- nothing else. Run as a superuser, with psql -v forsale=N -v other=N.
CREATE TEMP TABLE listing_words AS
SELECT ARRAY['Concert', 'Opera', 'Jazz night', 'Football match', 'Theatre',
	'Comedy show', 'Ballet', 'Festival', 'Rock gig', 'Symphony', 'Musical',
	'Basketball game'] AS kinds,
	ARRAY['Blue Notes', 'The Wanderers', 'Red Lions', 'Orchestra Nova',
	'Silver Strings', 'City United', 'Night Owls', 'Electric Dreams',
	'Golden Voices', 'Iron Hearts'] AS acts,
	ARRAY['Lisbon', 'Paris', 'Berlin', 'Madrid', 'Rome', 'Vienna', 'Prague',
	'Dublin', 'Oslo', 'Athens'] AS cities;

INSERT INTO tickets.tickets (title, price_cents, user_id, order_id, version, sold_at)
SELECT 'Seeded ' || w.kinds[1 + i % 12] || ': ' || w.acts[1 + (i / 12) % 10] ||
		' in ' || w.cities[1 + (i / 7) % 10] || ' #' || i,
	500 + (i * 7919) % 49500,
	('00000000-0000-4000-8000-' || lpad(to_hex(i % 1000), 12, '0'))::uuid,
	CASE WHEN i > :forsale THEN gen_random_uuid() END,
	CASE WHEN i > :forsale THEN 1 ELSE 0 END,
	CASE WHEN i > :forsale AND i % 2 = 0 THEN now() END
FROM generate_series(1, :forsale + :other) i, listing_words w
ORDER BY random();

INSERT INTO tickets.tickets (title, price_cents, user_id, order_id, version, sold_at)
SELECT 'Seeded ' || w.kinds[1 + i % 12] || ' by the big seller #' || i,
	1000 + i,
	'00000000-0000-4000-8000-00000000b001'::uuid,
	CASE WHEN i % 3 > 0 THEN gen_random_uuid() END,
	CASE WHEN i % 3 > 0 THEN 1 ELSE 0 END,
	CASE WHEN i % 3 = 2 THEN now() END
FROM generate_series(1, 1000) i, listing_words w;

VACUUM ANALYZE tickets.tickets;
