/* test_tmpl.c: golden files for the rendered pages, and escaping checks.
 *
 * Each page is rendered with fixed data and compared byte for byte with
 * tests/golden/<name>.html. UPDATE_GOLDEN=1 rewrites the files instead;
 * read the diff before committing it. Tests run from the repository root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/jwt.h"
#include "core/page.h"
#include "core/tmpl.h"

#define GOLDEN_DIR "tests/golden/"
#define GOLDEN_MAX (1u << 20)

static struct tx_arena *arena;
static struct tx_buf out;

static const struct tx_claims alice = {
	.id = "5f0c6a1e2b3c4d5e6f708192",
	.email = "alice@example.com",
};

static void setup(void)
{
	ck_assert_int_eq(tmpl_set_root("templates"), 0);
	arena = tx_arena_new(4096);
	tx_buf_init(&out, 0);
}

static void teardown(void)
{
	tx_buf_release(&out);
	tx_arena_free(arena);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *s = malloc(GOLDEN_MAX + 1);
	ck_assert_ptr_nonnull(s);
	*len = fread(s, 1, GOLDEN_MAX, f);
	s[*len] = '\0';
	fclose(f);
	return s;
}

static void write_file(const char *path, const char *s, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(s, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void check_golden(const char *name)
{
	char *path = tx_arena_printf(arena, GOLDEN_DIR "%s.html", name);
	const char *update = getenv("UPDATE_GOLDEN");
	if (update && strcmp(update, "1") == 0) {
		write_file(path, out.buf, out.len);
		return;
	}
	size_t len = 0;
	char *want = read_file(path, &len);
	ck_assert_msg(want != NULL, "missing %s (run with UPDATE_GOLDEN=1)",
		      path);
	ck_assert_msg(len == out.len && memcmp(want, out.buf, len) == 0,
		      "%s differs; got:\n%s", path, out.buf);
	free(want);
}

static struct tmpl_dict *begin(const char *tpl, const struct tx_page *p,
			       struct tmpl_dict **layout)
{
	struct tmpl_dict *body = tx_page_begin(arena, tpl, p, layout);
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(*layout);
	return body;
}

static void render_golden(struct tmpl_dict *layout, const char *name)
{
	ck_assert_int_eq(tx_page_render(layout, &out), 0);
	check_golden(name);
}

START_TEST(preload_all_pages)
{
	ck_assert_int_eq(tmpl_preload(tx_page_templates, tx_page_ntemplates),
			 0);
	const char *missing[] = { "no_such_page.tpl" };
	ck_assert_int_eq(tmpl_preload(missing, 1), -1);
}
END_TEST

START_TEST(signin_signed_out)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Sign In", .csrf = "tok-123" };
	begin("signin.tpl", &p, &layout);
	render_golden(layout, "signin_signed_out");
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/auth/signup\">Sign Up"));
	ck_assert_ptr_null(strstr(out.buf, "Sell Tickets"));
	ck_assert_ptr_null(strstr(out.buf, "Ooops"));
}
END_TEST

START_TEST(signup_with_errors)
{
	struct tmpl_dict *layout;
	const char *errors[] = { "Email must be valid",
				 "Password must be between 4 and 20 characters" };
	struct tx_page p = { .title = "Sign Up", .csrf = "tok-123",
			     .errors = errors, .nerrors = 2 };
	struct tmpl_dict *body = begin("signup.tpl", &p, &layout);
	tmpl_set(body, "EMAIL", "<script>alert(1)</script>");
	render_golden(layout, "signup_errors");
	ck_assert_ptr_null(strstr(out.buf, "<script>alert"));
	ck_assert_ptr_nonnull(strstr(out.buf, "&lt;script&gt;alert(1)"));
	ck_assert_ptr_nonnull(
		strstr(out.buf, "<li>Email must be valid</li>"));
}
END_TEST

START_TEST(index_signed_in)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets", .user = &alice };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	struct tmpl_dict *t = tmpl_add_section(body, "TICKET");
	tmpl_set(t, "TITLE", "concert");
	tmpl_set(t, "PRICE", "20");
	tmpl_set(t, "ID", "65a1b2c3d4e5f60718293a4b");
	t = tmpl_add_section(body, "TICKET");
	tmpl_set(t, "TITLE", "<img src=x onerror=alert(1)>");
	tmpl_set(t, "PRICE", "10.5");
	tmpl_set(t, "ID", "65a1b2c3d4e5f60718293a4c");
	render_golden(layout, "index_signed_in");
	ck_assert_ptr_null(strstr(out.buf, "<img"));
	ck_assert_ptr_nonnull(
		strstr(out.buf, "&lt;img src=x onerror=alert(1)&gt;"));
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/orders\">My Orders"));
	ck_assert_ptr_null(strstr(out.buf, "No tickets for sale yet."));
}
END_TEST

START_TEST(index_empty)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets", .user = &alice };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	tmpl_show_section(body, "NO_TICKETS");
	render_golden(layout, "index_empty");
	ck_assert_ptr_nonnull(strstr(out.buf, "No tickets for sale yet."));
}
END_TEST

START_TEST(signout_page)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Sign Out", .user = &alice,
			     .csrf = "tok-456" };
	begin("signout.tpl", &p, &layout);
	render_golden(layout, "signout");
}
END_TEST

START_TEST(not_found_and_error_pages)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Page not found" };
	begin("not_found.tpl", &p, &layout);
	render_golden(layout, "not_found");
	tx_buf_reset(&out);
	const char *errors[] = { "Ticket is already reserved" };
	struct tx_page q = { .title = "Error", .user = &alice,
			     .errors = errors, .nerrors = 1 };
	begin("error.tpl", &q, &layout);
	render_golden(layout, "error");
}
END_TEST

START_TEST(attribute_value_quote_is_escaped)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "a\"b<c>", .csrf = "x\" onclick=\"y" };
	struct tmpl_dict *body = begin("signin.tpl", &p, &layout);
	tmpl_set(body, "EMAIL", "a\" autofocus onfocus=\"alert(1)");
	ck_assert_int_eq(tx_page_render(layout, &out), 0);
	ck_assert_ptr_nonnull(strstr(
		out.buf, "value=\"a&quot; autofocus onfocus=&quot;alert(1)\""));
	ck_assert_ptr_nonnull(
		strstr(out.buf, "value=\"x&quot; onclick=&quot;y\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "<title>a&quot;b&lt;c&gt; ·"));
	ck_assert_ptr_null(strstr(out.buf, "onfocus=\"alert"));
}
END_TEST

START_TEST(url_attribute_value_is_escaped)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets" };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	struct tmpl_dict *t = tmpl_add_section(body, "TICKET");
	tmpl_set(t, "ID", "x\" onclick=\"y");
	ck_assert_int_eq(tx_page_render(layout, &out), 0);
	ck_assert_ptr_nonnull(strstr(
		out.buf, "href=\"/tickets/x&quot; onclick=&quot;y\">View"));
	ck_assert_ptr_null(strstr(out.buf, "\" onclick"));
}
END_TEST

START_TEST(render_into_full_buffer_fails)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Sign In" };
	begin("signin.tpl", &p, &layout);
	struct tx_buf small = TX_BUF_INIT(64);
	ck_assert_int_eq(tx_page_render(layout, &small), -1);
	ck_assert(small.toobig);
	tx_buf_release(&small);
}
END_TEST

START_TEST(missing_template_fails)
{
	struct tmpl_dict *d = tmpl_dict_new("x");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(tmpl_render("no_such_page.tpl", d, &out), -1);
	tmpl_dict_free(d);
	tmpl_dict_free(NULL);
}
END_TEST

Suite *suite_tmpl(void)
{
	Suite *s = suite_create("tmpl");
	TCase *tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, preload_all_pages);
	tcase_add_test(tc, signin_signed_out);
	tcase_add_test(tc, signup_with_errors);
	tcase_add_test(tc, index_signed_in);
	tcase_add_test(tc, index_empty);
	tcase_add_test(tc, signout_page);
	tcase_add_test(tc, not_found_and_error_pages);
	tcase_add_test(tc, attribute_value_quote_is_escaped);
	tcase_add_test(tc, url_attribute_value_is_escaped);
	tcase_add_test(tc, render_into_full_buffer_fails);
	tcase_add_test(tc, missing_template_fails);
	suite_add_tcase(s, tc);
	return s;
}
