/* listeners.c: the expiration service's listener (group expiration-service,
 * Redis-only): order:created schedules the order at its expiresAt. */
#include "expiration/expiration.h"
#include "core/errors.h"
#include "core/db.h"
#include "core/event.h"
#include "core/http.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* n digits at *s into *out, advancing *s; false if any is not a digit. */
static bool digits(const char **s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (!isdigit((unsigned char)**s))
			return false;
		*out = *out * 10 + (**s - '0');
	}
	return true;
}

static bool expect(const char **s, char c)
{
	return **s == c ? ((*s)++, true) : false;
}

int expiration_parse_iso(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, frac = 0, scale = 100;
	if (!s || !digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
	    !expect(&s, '-') || !digits(&s, 2, &d) || !expect(&s, 'T') ||
	    !digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
	    !expect(&s, ':') || !digits(&s, 2, &sec))
		return -1;
	if (expect(&s, '.')) {
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale; /* ms; digits past 3 add 0 */
	}
	if (!expect(&s, 'Z') || *s || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

static int on_order_created(struct tx_ctx *ctx, const struct tx_event *ev,
			    char *err, size_t errlen)
{
	const char *order = tx_event_str(ctx->arena, ev, NULL, "id");
	const char *at = tx_event_str(ctx->arena, ev, NULL, "expiresAt");
	int64_t due;
	if (!tx_db_is_uuid(order) || expiration_parse_iso(at, &due) < 0) {
		snprintf(err, errlen, "malformed order:created (id or expiresAt)");
		return -TX_E_BAD_REQUEST;
	}
	int rc = expiration_schedule(ctx->redis, ctx->cfg, ev->id, order, due, err,
				     errlen);
	return rc < 0 ? rc : 0;
}

const struct tx_listener expiration_listeners[] = {
	{ "order:created", "expiration-service", NULL, on_order_created, NULL },
};
const size_t expiration_nlisteners =
	sizeof(expiration_listeners) / sizeof(expiration_listeners[0]);
