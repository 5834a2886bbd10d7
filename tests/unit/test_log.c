/* test_log.c: the request log line (log.c), read back from stderr. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/http.h"
#include "core/log.h"

/* Run tx_log_request with stderr on a pipe; the line, in out. */
static void capture(const struct tx_ctx *ctx, const struct tx_req *req,
		    const struct tx_resp *resp, int64_t us, char *out, size_t cap)
{
	int fds[2], saved = dup(STDERR_FILENO);
	ck_assert_int_eq(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	tx_log_request(ctx, req, resp, us);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
}

START_TEST(request_line_is_logfmt)
{
	struct tx_ctx ctx = { .db_error = "08006 gone" };
	struct tx_req req = { .request_id = "r\"1\\", .method_name = "GET",
			      .path = "/a\tb\x7f" };
	struct tx_resp resp = { .status = 503 };
	char line[8192];
	tx_log_set_service("tickets");
	capture(&ctx, &req, &resp, 1234567, line, sizeof(line));
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ, then the fields */
	ck_assert_msg(strlen(line) > 28 && strncmp(line, "ts=", 3) == 0 &&
			      line[7] == '-' && line[13] == 'T' && line[22] == '.' &&
			      line[26] == 'Z' && line[27] == ' ',
		      "%s", line);
	ck_assert_str_eq(line + 27, " level=info svc=tickets rid=\"r\\\"1\\\\\" method=GET "
				    "path=\"/a\\x09b\\x7f\" status=503 us=1234567 "
				    "db_error=\"08006 gone\"\n");
}
END_TEST

START_TEST(long_values_are_cut)
{
	char rid[1000];
	memset(rid, 'x', sizeof(rid) - 1);
	rid[sizeof(rid) - 1] = '\0';
	struct tx_ctx ctx = { .db_error = "" };
	struct tx_req req = { .request_id = rid, .method_name = "GET", .path = NULL };
	struct tx_resp resp = { .status = 200 };
	char line[8192];
	capture(&ctx, &req, &resp, -5, line, sizeof(line));
	const char *q = strstr(line, "rid=\"");
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(strspn(q + 5, "x"), 256);
	ck_assert_ptr_nonnull(strstr(line, "\" method=GET path=\"\" status=200 us=-5\n"));
}
END_TEST

Suite *suite_log(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("lines");
	tcase_add_test(tc, request_line_is_logfmt);
	tcase_add_test(tc, long_values_are_cut);
	suite_add_tcase(s, tc);
	return s;
}
