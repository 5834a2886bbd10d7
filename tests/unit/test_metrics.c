/* test_metrics.c: the shared-memory request counters (core/metrics.h):
 * counts and histogram lines, one file shared by two processes, and a
 * file of another layout re-initialised. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/metrics.h"

static int noop(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp)
{
	(void)req, (void)ctx, (void)resp;
	return 0;
}

static const struct tx_route routes[] = {
	{ TX_GET, "/api/things", noop, TX_R_JSON },
	{ TX_POST, "/api/things/:id", noop, TX_R_JSON },
};
static const struct tx_service svc = { .name = "things", .env_prefix = "THINGS",
				       .routes = routes, .nroutes = 2 };
static const struct tx_service svc_v2 = { .name = "things", .env_prefix = "THINGS",
					  .routes = routes, .nroutes = 1 };

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/txmetrics.XXXXXX");
	ck_assert(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
	tx_metrics_close();
	char path[128];
	snprintf(path, sizeof(path), "%s/things.metrics", dir);
	unlink(path);
	rmdir(dir);
}

static char *render(void)
{
	struct tx_buf b = TX_BUF_INIT(0);
	ck_assert_int_eq(tx_metrics_render_dir(dir, &b), 1);
	char *s = strdup(b.buf);
	tx_buf_release(&b);
	return s;
}

#define ck_in(s, text) ck_assert_msg(strstr((s), (text)) != NULL, "missing %s in:\n%s", (text), (s))

START_TEST(counts_and_histogram)
{
	ck_assert_int_eq(tx_metrics_open(&svc, dir), 0);
	tx_metrics_observe(&svc, &routes[0], 200, 800);	   /* 0.8 ms */
	tx_metrics_observe(&svc, &routes[0], 201, 30000);  /* 30 ms */
	tx_metrics_observe(&svc, &routes[1], 404, 20000000); /* 20 s */
	tx_metrics_observe(&svc, NULL, 404, 100);
	char *s = render();
	ck_in(s, "tx_http_requests_total{service=\"things\",method=\"GET\",route=\"/api/things\",code=\"2xx\"} 2\n");
	ck_in(s, "tx_http_requests_total{service=\"things\",method=\"POST\",route=\"/api/things/:id\",code=\"4xx\"} 1\n");
	ck_in(s, "tx_http_requests_total{service=\"things\",method=\"-\",route=\"(unmatched)\",code=\"4xx\"} 1\n");
	ck_in(s, "route=\"/api/things\",le=\"0.001\"} 1\n");
	ck_in(s, "route=\"/api/things\",le=\"0.025\"} 1\n");
	ck_in(s, "route=\"/api/things\",le=\"0.05\"} 2\n");
	ck_in(s, "route=\"/api/things/:id\",le=\"10\"} 0\n");
	ck_in(s, "route=\"/api/things/:id\",le=\"+Inf\"} 1\n");
	ck_in(s, "tx_http_request_duration_seconds_sum{service=\"things\",method=\"GET\",route=\"/api/things\"} 0.030800\n");
	ck_in(s, "tx_http_request_duration_seconds_count{service=\"things\",method=\"GET\",route=\"/api/things\"} 2\n");
	free(s);
}
END_TEST

START_TEST(processes_share_one_file)
{
	ck_assert_int_eq(tx_metrics_open(&svc, dir), 0);
	tx_metrics_observe(&svc, &routes[0], 200, 10);
	pid_t pid = fork();
	if (pid == 0) { /* another process of the same program */
		tx_metrics_close();
		if (tx_metrics_open(&svc, dir) != 0)
			_exit(1);
		for (int i = 0; i < 1000; i++)
			tx_metrics_observe(&svc, &routes[0], 200, 10);
		_exit(0);
	}
	for (int i = 0; i < 1000; i++)
		tx_metrics_observe(&svc, &routes[0], 200, 10);
	int st;
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *s = render();
	ck_in(s, "route=\"/api/things\",code=\"2xx\"} 2001\n");
	free(s);
}
END_TEST

START_TEST(other_layout_is_reset)
{
	ck_assert_int_eq(tx_metrics_open(&svc, dir), 0);
	tx_metrics_observe(&svc, &routes[0], 200, 10);
	tx_metrics_close();
	ck_assert_int_eq(tx_metrics_open(&svc_v2, dir), 0); /* a new version */
	char *s = render();
	ck_in(s, "route=\"/api/things\",code=\"2xx\"} 0\n");
	ck_assert(strstr(s, "/api/things/:id") == NULL);
	free(s);
}
END_TEST

Suite *suite_metrics(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, counts_and_histogram);
	tcase_add_test(tc, processes_share_one_file);
	tcase_add_test(tc, other_layout_is_reset);
	suite_add_tcase(s, tc);
	return s;
}
