/* failpoint.h: named points where a test build kills its own process.
 *
 * TX_FAILPOINT("relay_after_xadd") does nothing unless the process was
 * started with one of:
 *   FAILPOINT=name[,name...]  raise(SIGKILL) every time a named point is
 *                             reached (a worker started by hand dies at
 *                             its first pass);
 *   FAILPOINT_DIR=dir         raise(SIGKILL) at point NAME only when the
 *                             file dir/NAME exists, which is unlinked
 *                             first: one touch arms one kill, so a program
 *                             under a restart loop dies once per arming
 *                             (scripts/faults.sh).
 * The environment is read once (pthread_once); with neither variable set
 * a pass costs one load and one branch. The points (reliability.md 3):
 *   relay_before_xadd, relay_after_xadd          lib/core/relay.c
 *   consumer_before_commit, consumer_after_commit lib/core/consumer.c
 *   scheduler_after_move                         lib/expiration/scheduler.c
 *   pay_after_provider                           lib/payments/model.c
 */
#ifndef TX_FAILPOINT_H
#define TX_FAILPOINT_H

#include <stdbool.h>

/* Whether any failpoint is configured (reads the environment once). */
bool tx_failpoints_enabled(void);
/* Kill the process here if the point is armed; otherwise return. */
void tx_failpoint_hit(const char *name);

#define TX_FAILPOINT(name)                  \
	do {                                \
		if (tx_failpoints_enabled()) \
			tx_failpoint_hit(name); \
	} while (0)

#endif
