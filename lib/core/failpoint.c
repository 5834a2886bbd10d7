/* failpoint.c: FAILPOINT / FAILPOINT_DIR, read once (see failpoint.h). */
#include "failpoint.h"
#include "log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *names; /* ",a,b," or NULL */
static const char *dir;
static bool enabled;

static void load(void)
{
	static char list[512];
	const char *v = getenv("FAILPOINT");
	const char *d = getenv("FAILPOINT_DIR");
	if (v && *v && strlen(v) + 3 <= sizeof(list)) {
		snprintf(list, sizeof(list), ",%s,", v);
		names = list;
	}
	if (d && *d)
		dir = d;
	enabled = names || dir;
}

bool tx_failpoints_enabled(void)
{
	pthread_once(&once, load);
	return enabled;
}

static bool listed(const char *name)
{
	char key[96];
	if (!names || snprintf(key, sizeof(key), ",%s,", name) >= (int)sizeof(key))
		return false;
	return strstr(names, key) != NULL;
}

static bool armed(const char *name)
{
	char path[1024];
	if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	return unlink(path) == 0; /* exactly one passer wins each arming */
}

void tx_failpoint_hit(const char *name)
{
	if (!listed(name) && !armed(name))
		return;
	tx_log("warn", "failpoint %s: SIGKILL", name);
	raise(SIGKILL);
}
