/* page.h: full HTML pages in the shared layout.
 *
 * layout.tpl holds the document, the stylesheet link and the header of the
 * original app (brand "GitTix" -> /; signed out: "Sign Up", "Sign In";
 * signed in: "Sell Tickets", "My Tickets", "My Orders", "Sign Out"), and
 * includes the page's own template as {{>BODY}}. tx_page_begin makes both
 * dictionaries (freed with the arena) and returns the body's, where the
 * handler sets its values. The body dictionary already has:
 *   CSRF          the form token (when p->csrf is set)
 *   ERRORS_BOX    when p->nerrors > 0, an include of errors.tpl
 *                 ("Ooops...." and the list): body templates place it with
 *                 {{>ERRORS_BOX}}. Its own dictionary (include dictionaries
 *                 inherit nothing) has the ERRORS section with one ERROR
 *                 row (MESSAGE) per message. Without errors it expands to
 *                 nothing.
 */
#ifndef TX_PAGE_H
#define TX_PAGE_H

#include <stddef.h>

struct tx_arena;
struct tx_buf;
struct tx_claims;
struct tx_config;
struct tmpl_dict;

struct tx_page {
	const char *title;
	const struct tx_claims *user; /* NULL when signed out */
	const char *csrf;	      /* token for forms, or NULL */
	const char *const *errors;
	size_t nerrors;
};

struct tmpl_dict *tx_page_begin(struct tx_arena *a, const char *body_tpl,
				const struct tx_page *p,
				struct tmpl_dict **layout);
int tx_page_render(struct tmpl_dict *layout, struct tx_buf *out);

/* The card field of a payment form: card_field.tpl as {{>CARD_FIELD}} of
 * the form's dictionary. Stripe Elements (Stripe.js makes the token in
 * the browser; static/app.js puts it in the form) when PAYMENT_PROVIDER
 * is stripe and STRIPE_PUBLISHABLE_KEY is set, else a choice of Stripe's
 * test cards. */
void tx_page_card_field(struct tmpl_dict *form, const struct tx_config *cfg);

/* Every template the pages use, for tmpl_preload at start-up. */
extern const char *const tx_page_templates[];
extern const size_t tx_page_ntemplates;

#endif
