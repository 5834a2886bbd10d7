/* test_tmpl.c: golden files for the rendered pages, and escaping checks.
 *
 * Each page is rendered with fixed data and compared byte for byte with
 * tests/golden/<name>.html. UPDATE_GOLDEN=1 rewrites the files instead;
 * read the diff before committing it. Tests run from the repository root.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
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

/* index.tpl's ROWS: ticket_rows.tpl rendered on its own, as the tickets
 * program does once per page of the list (lib/tickets/list.c), in the
 * LIST section (shown unless the parameters were bad). */
static void set_rows(struct tmpl_dict *body, struct tmpl_dict *rows)
{
	struct tx_buf b = TX_BUF_INIT(0);
	ck_assert_int_eq(tmpl_render("ticket_rows.tpl", rows, &b), 0);
	tmpl_show_section(body, "LIST");
	tmpl_set(body, "ROWS", b.buf);
	tx_buf_release(&b);
	tmpl_dict_free(rows);
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

/* The search form of index.tpl as the tickets program fills it:
 * the words in the box, the sort choice with one selected. */
static void set_search(struct tmpl_dict *body, const char *q, const char *selected)
{
	static const char *const sorts[][2] = { { "newest", "Newest first" },
						{ "oldest", "Oldest first" },
						{ "price_asc", "Price: low to high" },
						{ "price_desc", "Price: high to low" } };
	tmpl_set(body, "Q", q);
	for (size_t i = 0; i < 4; i++) {
		struct tmpl_dict *o = tmpl_add_section(body, "SORT");
		tmpl_set(o, "VALUE", sorts[i][0]);
		tmpl_set(o, "LABEL", sorts[i][1]);
		if (strcmp(sorts[i][0], selected) == 0)
			tmpl_show_section(o, "SELECTED");
	}
}

/* Previous and/or Next (pager.tpl), as lib/tickets/pages.c adds them. */
static void set_pager(struct tmpl_dict *body, const char *prev, const char *next)
{
	struct tmpl_dict *pg = tmpl_add_include(body, "PAGER", "pager.tpl");
	if (prev)
		tmpl_set(tmpl_add_section(pg, "PREV"), "HREF", prev);
	if (next)
		tmpl_set(tmpl_add_section(pg, "NEXT"), "HREF", next);
}

START_TEST(index_signed_in)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets", .user = &alice };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	set_search(body, "", "newest");
	struct tmpl_dict *rows = tmpl_dict_new("rows");
	struct tmpl_dict *t = tmpl_add_section(rows, "TICKET");
	tmpl_set(t, "TITLE", "concert");
	tmpl_set(t, "PRICE", "20");
	tmpl_set(t, "ID", "65a1b2c3d4e5f60718293a4b");
	t = tmpl_add_section(rows, "TICKET");
	tmpl_set(t, "TITLE", "<img src=x onerror=alert(1)>");
	tmpl_set(t, "PRICE", "10.5");
	tmpl_set(t, "ID", "65a1b2c3d4e5f60718293a4c");
	set_rows(body, rows);
	render_golden(layout, "index_signed_in");
	ck_assert_ptr_null(strstr(out.buf, "<img"));
	ck_assert_ptr_nonnull(
		strstr(out.buf, "&lt;img src=x onerror=alert(1)&gt;"));
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/orders\">My Orders"));
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/tickets/mine\">My Tickets"));
	ck_assert_ptr_null(strstr(out.buf, "No tickets for sale yet."));
	ck_assert_ptr_nonnull(strstr(out.buf, "<option value=\"newest\" selected>"));
	ck_assert_ptr_null(strstr(out.buf, "class=\"pager\""));
}
END_TEST

/* A search that found nothing: the words stay in the box (escaped), the
 * chosen sort stays chosen, "No tickets match", and the way back. */
START_TEST(index_search_no_match)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets" };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	set_search(body, "jazz \"><script>", "price_desc");
	struct tmpl_dict *rows = tmpl_dict_new("rows");
	tmpl_show_section(rows, "NO_MATCH");
	set_rows(body, rows);
	set_pager(body, "/?q=jazz%20%22%3E%3Cscript%3E&sort=price_desc", NULL);
	render_golden(layout, "index_search_no_match");
	ck_assert_ptr_nonnull(strstr(out.buf, "No tickets match"));
	ck_assert_ptr_nonnull(strstr(out.buf, "value=\"jazz &quot;&gt;&lt;script&gt;\""));
	ck_assert_ptr_null(strstr(out.buf, "<script>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "<option value=\"price_desc\" selected>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "rel=\"prev\" href=\"/?q=jazz%20%22%3E%3Cscript%3E&amp;sort=price_desc\""));
	ck_assert_ptr_null(strstr(out.buf, "rel=\"next\""));
}
END_TEST

/* A page in the middle: both links, each an ordinary link (no script). */
START_TEST(index_pager_both_ways)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets" };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	set_search(body, "", "oldest");
	struct tmpl_dict *rows = tmpl_dict_new("rows");
	struct tmpl_dict *t = tmpl_add_section(rows, "TICKET");
	tmpl_set(t, "TITLE", "concert");
	tmpl_set(t, "PRICE", "20");
	tmpl_set(t, "ID", "65a1b2c3d4e5f60718293a4b");
	set_rows(body, rows);
	set_pager(body, "/?sort=oldest&before=AQ", "/?sort=oldest&after=AZ");
	render_golden(layout, "index_pager");
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/?sort=oldest&amp;before=AQ\">&larr; Previous</a>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/?sort=oldest&amp;after=AZ\">Next &rarr;</a>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "<form class=\"search\" method=\"get\" action=\"/\""));
}
END_TEST

START_TEST(index_empty)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Tickets", .user = &alice };
	struct tmpl_dict *body = begin("index.tpl", &p, &layout);
	set_search(body, "", "newest");
	struct tmpl_dict *rows = tmpl_dict_new("rows");
	tmpl_show_section(rows, "NO_TICKETS");
	set_rows(body, rows);
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

/* ---- tickets pages ---------------------------------------------------- */

static const char ticket_id[] = "8d3f5f0e-2c1b-4a57-9a0e-6f2b1c3d4e5f";
static const char order_id[] = "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b";

START_TEST(new_ticket_form)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Create a Ticket", .user = &alice,
			     .csrf = "tok-789" };
	struct tmpl_dict *body = begin("new_ticket.tpl", &p, &layout);
	tmpl_set(body, "TITLE", "");
	tmpl_set(body, "PRICE", "");
	render_golden(layout, "new_ticket");
	ck_assert_ptr_nonnull(strstr(out.buf, "<label for=\"title\">Title</label>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "<label for=\"price\">Price</label>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "data-money"));
	ck_assert_ptr_null(strstr(out.buf, "Ooops"));
}
END_TEST

START_TEST(new_ticket_with_errors)
{
	struct tmpl_dict *layout;
	const char *errors[] = { "Title is required",
				 "Price must be greater than 0" };
	struct tx_page p = { .title = "Create a Ticket", .user = &alice,
			     .csrf = "tok-789", .errors = errors, .nerrors = 2 };
	struct tmpl_dict *body = begin("new_ticket.tpl", &p, &layout);
	tmpl_set(body, "TITLE", "");
	tmpl_set(body, "PRICE", "-1\"><b>");
	render_golden(layout, "new_ticket_errors");
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Title is required</li>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "value=\"-1&quot;&gt;&lt;b&gt;\""));
}
END_TEST

/* The ticket page; purchase: with its Purchase form (not sold). */
static struct tmpl_dict *ticket_page(const struct tx_page *p, struct tmpl_dict **layout,
				     bool purchase)
{
	struct tmpl_dict *body = begin("show_ticket.tpl", p, layout);
	tmpl_set(body, "TITLE", "concert");
	tmpl_set(body, "PRICE", "20");
	tmpl_set(body, "ID", ticket_id);
	if (purchase)
		tmpl_show_section(body, "PURCHASE");
	return body;
}

static struct tmpl_dict *ticket_body(const struct tx_page *p,
				     struct tmpl_dict **layout)
{
	return ticket_page(p, layout, true);
}

START_TEST(show_ticket_plain)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "concert", .user = &alice,
			     .csrf = "tok-789" };
	ticket_body(&p, &layout);
	render_golden(layout, "show_ticket");
	ck_assert_ptr_nonnull(strstr(out.buf, "<h4 class=\"price\">Price: 20</h4>"));
	ck_assert_ptr_nonnull(strstr(out.buf, ">Purchase</button>"));
	ck_assert_ptr_null(strstr(out.buf, "reserved"));
}
END_TEST

START_TEST(show_ticket_reserved)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "concert", .user = &alice,
			     .csrf = "tok-789" };
	struct tmpl_dict *body = ticket_body(&p, &layout);
	tmpl_show_section(body, "RESERVED");
	render_golden(layout, "show_ticket_reserved");
	ck_assert_ptr_nonnull(strstr(out.buf, "This ticket is reserved."));
}
END_TEST

START_TEST(show_ticket_already_reserved_error)
{
	struct tmpl_dict *layout;
	const char *errors[] = { "Ticket is already reserved" };
	struct tx_page p = { .title = "concert", .user = &alice,
			     .csrf = "tok-789", .errors = errors, .nerrors = 1 };
	ticket_body(&p, &layout);
	render_golden(layout, "show_ticket_error");
	ck_assert_ptr_nonnull(strstr(out.buf, "<h4>Ooops....</h4>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Ticket is already reserved</li>"));
}
END_TEST

/* A sold ticket says so, and has no Purchase button. */
START_TEST(show_ticket_sold)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "concert", .user = &alice, .csrf = "tok-789" };
	struct tmpl_dict *body = ticket_page(&p, &layout, false);
	tmpl_show_section(body, "SOLD");
	render_golden(layout, "show_ticket_sold");
	ck_assert_ptr_nonnull(strstr(out.buf, "<p class=\"notice sold\">Sold</p>"));
	ck_assert_ptr_null(strstr(out.buf, "Purchase"));
	ck_assert_ptr_null(strstr(out.buf, "reserved"));
}
END_TEST

/* The seller's view of their ticket: an Edit link. */
START_TEST(show_ticket_own)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "concert", .user = &alice, .csrf = "tok-789" };
	struct tmpl_dict *body = ticket_body(&p, &layout);
	tmpl_show_section(body, "EDIT");
	render_golden(layout, "show_ticket_own");
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/tickets/8d3f5f0e-2c1b-4a57-9a0e-6f2b1c3d4e5f/edit\""));
}
END_TEST

/* ---- my tickets and editing ---------------------------------------------- */

START_TEST(my_tickets_with_rows)
{
	static const char *const rows[][5] = {
		{ "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", "opera", "12.5", "available", "Available" },
		{ "3b4c5d6e-7f80-4192-8a3b-4c5d6e7f8091", "<b>ballet</b>", "20", "reserved", "Reserved" },
		{ ticket_id, "concert", "20", "sold", "Sold" },
	};
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "My Tickets", .user = &alice };
	struct tmpl_dict *body = begin("my_tickets.tpl", &p, &layout);
	tmpl_show_section(body, "LIST");
	for (size_t i = 0; i < 3; i++) {
		struct tmpl_dict *row = tmpl_add_section(body, "TICKET");
		tmpl_set(row, "ID", rows[i][0]);
		tmpl_set(row, "TITLE", rows[i][1]);
		tmpl_set(row, "PRICE", rows[i][2]);
		tmpl_set(row, "STATUS", rows[i][3]);
		tmpl_set(row, "STATUS_LABEL", rows[i][4]);
		if (i == 0)
			tmpl_show_section(row, "EDIT");
	}
	set_pager(body, NULL, "/tickets/mine?after=AQ");
	render_golden(layout, "my_tickets");
	ck_assert_ptr_nonnull(strstr(out.buf, "<h1>My Tickets</h1>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "href=\"/tickets/2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b/edit\">Edit</a>"));
	ck_assert_ptr_null(strstr(out.buf, "3b4c5d6e-7f80-4192-8a3b-4c5d6e7f8091/edit"));
	ck_assert_ptr_null(strstr(out.buf, "6f2b1c3d4e5f/edit"));
	ck_assert_ptr_nonnull(strstr(out.buf, ">Sold</span>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "&lt;b&gt;ballet&lt;/b&gt;"));
	ck_assert_ptr_nonnull(strstr(out.buf, "rel=\"next\" href=\"/tickets/mine?after=AQ\""));
}
END_TEST

START_TEST(my_tickets_empty)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "My Tickets", .user = &alice };
	struct tmpl_dict *body = begin("my_tickets.tpl", &p, &layout);
	tmpl_show_section(body, "LIST");
	tmpl_show_section(body, "NO_TICKETS");
	render_golden(layout, "my_tickets_empty");
	ck_assert_ptr_nonnull(strstr(out.buf, "You have not listed any tickets yet."));
}
END_TEST

START_TEST(edit_ticket_with_errors)
{
	struct tmpl_dict *layout;
	const char *errors[] = { "Title must be at most 200 characters",
				 "Price must be provided and must be greater than 0" };
	struct tx_page p = { .title = "Edit Ticket", .user = &alice, .csrf = "tok-789",
			     .errors = errors, .nerrors = 2 };
	struct tmpl_dict *body = begin("edit_ticket.tpl", &p, &layout);
	tmpl_set(body, "ID", ticket_id);
	tmpl_set(body, "TITLE", "a\"><b>");
	tmpl_set(body, "PRICE", "-1");
	tmpl_show_section(body, "FORM");
	render_golden(layout, "edit_ticket_errors");
	ck_assert_ptr_nonnull(strstr(out.buf, "action=\"/tickets/8d3f5f0e-2c1b-4a57-9a0e-6f2b1c3d4e5f/edit\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "name=\"_csrf\" value=\"tok-789\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "value=\"a&quot;&gt;&lt;b&gt;\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Title must be at most 200 characters</li>"));
}
END_TEST

START_TEST(edit_ticket_locked)
{
	struct tmpl_dict *layout;
	const char *errors[] = { "Cannot edit a reserved ticket" };
	struct tx_page p = { .title = "Edit Ticket", .user = &alice, .csrf = "tok-789",
			     .errors = errors, .nerrors = 1 };
	struct tmpl_dict *body = begin("edit_ticket.tpl", &p, &layout);
	tmpl_set(body, "ID", ticket_id);
	tmpl_set(body, "TITLE", "concert");
	tmpl_show_section(body, "LOCKED");
	render_golden(layout, "edit_ticket_locked");
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Cannot edit a reserved ticket</li>"));
	ck_assert_ptr_null(strstr(out.buf, "<form"));
}
END_TEST

/* ---- orders pages ----------------------------------------------------- */

START_TEST(orders_with_rows)
{
	static const char *const rows[][3] = {
		{ order_id, "concert", "complete" },
		{ "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", "<img src=x onerror=alert(1)>",
		  "cancelled" },
		{ "3b4c5d6e-7f80-4192-8a3b-4c5d6e7f8091", "opera", "created" },
		{ "4c5d6e7f-8091-42a3-9b4c-5d6e7f8091a2", "ballet", "awaiting:payment" },
	};
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "My Orders", .user = &alice };
	struct tmpl_dict *body = begin("orders.tpl", &p, &layout);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tmpl_dict *row = tmpl_add_section(body, "ORDER");
		tmpl_set(row, "ID", rows[i][0]);
		tmpl_set(row, "TITLE", rows[i][1]);
		tmpl_set(row, "STATUS", rows[i][2]);
	}
	render_golden(layout, "orders");
	ck_assert_ptr_nonnull(strstr(out.buf, "\">concert - complete</a>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "&lt;img src=x onerror=alert(1)&gt; - cancelled</a>"));
	ck_assert_ptr_null(strstr(out.buf, "<img"));
	ck_assert_ptr_null(strstr(out.buf, "no orders"));
}
END_TEST

START_TEST(orders_empty)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "My Orders", .user = &alice };
	struct tmpl_dict *body = begin("orders.tpl", &p, &layout);
	tmpl_show_section(body, "NO_ORDERS");
	render_golden(layout, "orders_empty");
	ck_assert_ptr_nonnull(strstr(out.buf, "You have no orders yet."));
}
END_TEST

/* The checkout page in one of its four states (order.tpl's sections). */
static const struct tx_config test_cfg = { .payment_provider = "test" };
static const struct tx_config stripe_cfg = { .payment_provider = "stripe",
					     .stripe_publishable_key = "pk_test_\"x<y" };

static void render_order_with(const char *state, const char *golden,
			      const char *const *errors, size_t nerrors,
			      const char *stripe_key)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Checkout", .user = &alice,
			     .csrf = "tok-789", .errors = errors,
			     .nerrors = nerrors };
	struct tmpl_dict *body = begin("order.tpl", &p, &layout);
	tmpl_set(body, "ID", order_id);
	tmpl_set(body, "TITLE", "concert");
	tmpl_set(body, "PRICE", "20");
	tmpl_set(body, "STATUS", "created");
	if (strcmp(state, "PAYABLE") == 0) {
		struct tmpl_dict *s = tmpl_add_section(body, "PAYABLE");
		tmpl_set(s, "SECONDS", "899");
		tmpl_set(s, "NOW_MS", "1767225600000");
		tmpl_set(s, "EXPIRES_AT", "2026-01-01T00:15:00.000Z");
		tx_page_card_field(s, stripe_key ? &stripe_cfg : &test_cfg);
	} else {
		tmpl_show_section(body, state);
	}
	render_golden(layout, golden);
}

static void render_order(const char *state, const char *golden,
			 const char *const *errors, size_t nerrors)
{
	render_order_with(state, golden, errors, nerrors, NULL);
}

START_TEST(order_payable)
{
	render_order("PAYABLE", "order_payable", NULL, 0);
	ck_assert_ptr_nonnull(strstr(
		out.buf, "<span data-expires-at=\"2026-01-01T00:15:00.000Z\" "
			 "data-now=\"1767225600000\">Time left to pay: 899 seconds</span>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "action=\"/orders/1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b/pay\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "name=\"_csrf\" value=\"tok-789\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "<label for=\"token\">Card</label>"));
	ck_assert_ptr_null(strstr(out.buf, "Order Expired"));
}
END_TEST

/* With Stripe and a publishable key: Stripe Elements instead of the test
 * cards; the key is an attribute value, escaped. */
START_TEST(order_payable_stripe)
{
	render_order_with("PAYABLE", "order_payable_stripe", NULL, 0, "yes");
	ck_assert_ptr_nonnull(strstr(out.buf, "<script src=\"https://js.stripe.com/v3/\"></script>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "<div id=\"card-element\" class=\"card-element\" "
			 "data-stripe-key=\"pk_test_&quot;x&lt;y\"></div>"));
	ck_assert_ptr_nonnull(strstr(out.buf, "<input type=\"hidden\" name=\"token\" value=\"\">"));
	ck_assert_ptr_null(strstr(out.buf, "tok_visa"));
}
END_TEST

START_TEST(order_payable_with_error)
{
	const char *errors[] = { "Your card was declined." };
	render_order("PAYABLE", "order_payable_error", errors, 1);
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Your card was declined.</li>"));
}
END_TEST

START_TEST(order_expired)
{
	render_order("EXPIRED", "order_expired", NULL, 0);
	ck_assert_ptr_nonnull(strstr(out.buf, ">Order Expired</p>"));
	ck_assert_ptr_null(strstr(out.buf, "Time left to pay"));
	ck_assert_ptr_null(strstr(out.buf, "/pay\""));
}
END_TEST

START_TEST(order_cancelled)
{
	render_order("CANCELLED", "order_cancelled", NULL, 0);
	ck_assert_ptr_nonnull(strstr(out.buf, "This order was cancelled."));
	ck_assert_ptr_null(strstr(out.buf, "/pay\""));
}
END_TEST

START_TEST(order_paid)
{
	render_order("PAID", "order_paid", NULL, 0);
	ck_assert_ptr_nonnull(strstr(out.buf, "Paid. This ticket is yours."));
	ck_assert_ptr_null(strstr(out.buf, "/pay\""));
}
END_TEST

/* ---- payments: the page a failed payment answers with (pay.tpl) ------- */

static void render_pay(const char *message, bool retry, const char *golden)
{
	struct tmpl_dict *layout;
	struct tx_page p = { .title = "Checkout", .user = &alice,
			     .csrf = "tok-789", .errors = &message,
			     .nerrors = 1 };
	struct tmpl_dict *body = begin("pay.tpl", &p, &layout);
	tmpl_set(body, "ID", order_id);
	tmpl_set(body, "PRICE", "20");
	if (retry)
		tx_page_card_field(tmpl_add_section(body, "RETRY"), &test_cfg);
	render_golden(layout, golden);
	ck_assert_ptr_nonnull(strstr(out.buf, "<h4>Ooops....</h4>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "href=\"/orders/1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b\""));
}

START_TEST(pay_declined_can_retry)
{
	render_pay("Your card was declined.", true, "pay_declined");
	ck_assert_ptr_nonnull(strstr(out.buf, "<li>Your card was declined.</li>"));
	ck_assert_ptr_nonnull(strstr(
		out.buf, "action=\"/orders/1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b/pay\""));
	ck_assert_ptr_nonnull(strstr(out.buf, "name=\"_csrf\" value=\"tok-789\""));
}
END_TEST

START_TEST(pay_refused_no_retry)
{
	render_pay("Cannot pay for an cancelled order", false, "pay_refused");
	ck_assert_ptr_null(strstr(out.buf, "/pay\""));
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
	struct tmpl_dict *rows = tmpl_dict_new("rows");
	struct tmpl_dict *t = tmpl_add_section(rows, "TICKET");
	tmpl_set(t, "ID", "x\" onclick=\"y");
	set_rows(body, rows);
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
	tcase_add_test(tc, new_ticket_form);
	tcase_add_test(tc, new_ticket_with_errors);
	tcase_add_test(tc, show_ticket_plain);
	tcase_add_test(tc, show_ticket_reserved);
	tcase_add_test(tc, show_ticket_already_reserved_error);
	tcase_add_test(tc, show_ticket_sold);
	tcase_add_test(tc, show_ticket_own);
	tcase_add_test(tc, index_search_no_match);
	tcase_add_test(tc, index_pager_both_ways);
	tcase_add_test(tc, my_tickets_with_rows);
	tcase_add_test(tc, my_tickets_empty);
	tcase_add_test(tc, edit_ticket_with_errors);
	tcase_add_test(tc, edit_ticket_locked);
	tcase_add_test(tc, orders_with_rows);
	tcase_add_test(tc, orders_empty);
	tcase_add_test(tc, order_payable);
	tcase_add_test(tc, order_payable_stripe);
	tcase_add_test(tc, order_payable_with_error);
	tcase_add_test(tc, order_expired);
	tcase_add_test(tc, order_cancelled);
	tcase_add_test(tc, order_paid);
	tcase_add_test(tc, pay_declined_can_retry);
	tcase_add_test(tc, pay_refused_no_retry);
	tcase_add_test(tc, attribute_value_quote_is_escaped);
	tcase_add_test(tc, url_attribute_value_is_escaped);
	tcase_add_test(tc, render_into_full_buffer_fails);
	tcase_add_test(tc, missing_template_fails);
	suite_add_tcase(s, tc);
	return s;
}
