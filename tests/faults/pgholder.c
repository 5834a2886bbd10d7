/* pgholder.c: exhaust Postgres connections: open as many as the server gives, hold them, let go.
 *
 *   pgholder CONNINFO MAX SECONDS
 *
 * Opens up to MAX connections with CONNINFO, one after another, until the
 * server refuses one ("too many clients"), prints "pgholder: held N", keeps
 * them idle for SECONDS, closes them all and prints "pgholder: released".
 * Exit 0 when at least one connection was held.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_CONNS 1000

static long parse_pos(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v > 0 && v <= max ? v : -1;
}

int main(int argc, char **argv)
{
	long max = argc == 4 ? parse_pos(argv[2], MAX_CONNS) : -1;
	long secs = argc == 4 ? parse_pos(argv[3], 600) : -1;
	if (max < 0 || secs < 0) {
		fputs("usage: pgholder CONNINFO MAX SECONDS\n", stderr);
		return 2;
	}
	static PGconn *conns[MAX_CONNS];
	long n = 0;
	while (n < max) {
		PGconn *c = PQconnectdb(argv[1]);
		if (PQstatus(c) != CONNECTION_OK) {
			printf("pgholder: refused after %ld: %s", n, PQerrorMessage(c));
			PQfinish(c);
			break;
		}
		conns[n++] = c;
	}
	printf("pgholder: held %ld\n", n);
	fflush(stdout);
	sleep((unsigned)secs);
	for (long i = 0; i < n; i++)
		PQfinish(conns[i]);
	printf("pgholder: released\n");
	return n > 0 ? 0 : 1;
}
