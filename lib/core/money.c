/* money.c: prices: validator.js isFloat({gt: 0}) semantics, whole cents. */
#include "money.h"

#include <stdbool.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool digits(const char **p)
{
	const char *s = *p;
	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

/* [+-]? digits? (. digits?)? ([eE][+-]? digits)?, not empty, not ".". */
static bool float_syntax(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	bool intpart = digits(&p), frac = false;
	if (*p == '.') {
		p++;
		frac = digits(&p);
	}
	if (!intpart && !frac)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!digits(&p))
			return false;
	}
	return *p == '\0';
}

int tx_price_parse(const char *s, int64_t *cents)
{
	if (!s || strlen(s) > 64 || !float_syntax(s))
		return -1;
	errno = 0;
	double v = strtod(s, NULL);
	if (errno == ERANGE || !isfinite(v) || !(v > 0) || v > 1000000.0)
		return -1;
	long long c = llround(v * 100.0);
	if (c < 1 || c > TX_MAX_CENTS)
		return -1;
	*cents = c;
	return 0;
}

void tx_price_format(int64_t cents, char *out, size_t cap)
{
	/* By hand: this runs for every price on every page and list. Prices
	 * are validated positive; anything else goes the slow way. */
	long long whole = cents / 100, frac = cents % 100;
	if (cents < 0 || cap < 32) {
		if (frac == 0)
			snprintf(out, cap, "%lld", whole);
		else if (frac % 10 == 0)
			snprintf(out, cap, "%lld.%lld", whole, frac / 10);
		else
			snprintf(out, cap, "%lld.%02lld", whole, frac);
		return;
	}
	char d[24], *p = d + sizeof(d);
	do
		*--p = (char)('0' + whole % 10);
	while ((whole /= 10) != 0);
	size_t n = (size_t)(d + sizeof(d) - p);
	memcpy(out, p, n);
	if (frac) {
		out[n++] = '.';
		out[n++] = (char)('0' + frac / 10);
		if (frac % 10)
			out[n++] = (char)('0' + frac % 10);
	}
	out[n] = '\0';
}
