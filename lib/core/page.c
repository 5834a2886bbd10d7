/* page.c: a page is layout.tpl with the page's own template as {{>BODY}}.
 *
 * ctemplate include dictionaries do not inherit their parent's values, so
 * each value goes on the dictionary of the template that shows it: the
 * header's on the layout, CSRF on the body, the error rows on the
 * ERRORS_BOX include that tx_page_begin adds to the body. Only the layout
 * is a top-level dictionary; it owns the others and the arena frees it.
 */
#include "page.h"

#include "arena.h"
#include "config.h"
#include "tmpl.h"

#include <string.h>

#define LAYOUT_TPL "layout.tpl"
#define ERRORS_TPL "errors.tpl"
#define CARD_TPL "card_field.tpl"

const char *const tx_page_templates[] = {
	LAYOUT_TPL,   ERRORS_TPL,  "index.tpl",     "signup.tpl",
	"signin.tpl", "signout.tpl", "not_found.tpl", "error.tpl",
	"new_ticket.tpl", "show_ticket.tpl", "orders.tpl", "order.tpl",
	"pay.tpl", "ops.tpl", CARD_TPL, "ticket_rows.tpl", "pager.tpl",
	"my_tickets.tpl", "edit_ticket.tpl",
};
const size_t tx_page_ntemplates =
	sizeof(tx_page_templates) / sizeof(tx_page_templates[0]);

static void dict_free(void *d)
{
	tmpl_dict_free(d);
}

static void set_header(struct tmpl_dict *layout, const struct tx_page *p)
{
	tmpl_set(layout, "TITLE", p->title ? p->title : "");
	if (p->user)
		tmpl_show_section(layout, "SIGNED_IN");
	else
		tmpl_show_section(layout, "SIGNED_OUT");
}

/* Without errors there is no box at all: an include that has no
 * dictionary expands to nothing, which is what errors.tpl would give, for
 * one dictionary and one template lookup less per page. */
static void set_errors(struct tmpl_dict *body, const struct tx_page *p)
{
	if (p->nerrors == 0)
		return;
	struct tmpl_dict *box =
		tmpl_add_include(body, "ERRORS_BOX", ERRORS_TPL);
	struct tmpl_dict *errors = tmpl_add_section(box, "ERRORS");
	for (size_t i = 0; i < p->nerrors; i++) {
		struct tmpl_dict *row = tmpl_add_section(errors, "ERROR");
		tmpl_set(row, "MESSAGE", p->errors[i]);
	}
}

struct tmpl_dict *tx_page_begin(struct tx_arena *a, const char *body_tpl,
				const struct tx_page *p,
				struct tmpl_dict **layout)
{
	struct tmpl_dict *l = tmpl_dict_new("layout");
	*layout = l;
	if (!l)
		return NULL;
	tx_arena_defer(a, dict_free, l);
	set_header(l, p);
	struct tmpl_dict *body = tmpl_add_include(l, "BODY", body_tpl);
	if (p->csrf)
		tmpl_set(body, "CSRF", p->csrf);
	set_errors(body, p);
	return body;
}

int tx_page_render(struct tmpl_dict *layout, struct tx_buf *out)
{
	return tmpl_render(LAYOUT_TPL, layout, out);
}

void tx_page_card_field(struct tmpl_dict *form, const struct tx_config *cfg)
{
	struct tmpl_dict *f = tmpl_add_include(form, "CARD_FIELD", CARD_TPL);
	if (strcmp(cfg->payment_provider, "stripe") == 0 && cfg->stripe_publishable_key &&
	    *cfg->stripe_publishable_key) {
		struct tmpl_dict *s = tmpl_add_section(f, "STRIPE");
		tmpl_set(s, "PUBLISHABLE_KEY", cfg->stripe_publishable_key);
	} else {
		tmpl_show_section(f, "TEST_CARDS");
	}
}
