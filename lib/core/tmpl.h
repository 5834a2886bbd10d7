/* tmpl.h: a C API over ctemplate (C++), with HTML auto-escaping.
 *
 * Every template file starts with {{%AUTOESCAPE context="HTML"}} (included
 * templates too: ctemplate does not escape an include without it), so every
 * {{VAR}} is escaped for its context. tmpl_shim.cc is the only C++ file; no
 * exception crosses into C. Template names are constants in the code, never
 * built from input.
 */
#ifndef TX_TMPL_H
#define TX_TMPL_H

#include <stddef.h>

struct tx_buf;
struct tmpl_dict;

/* Once at start-up, before threads: the directory holding *.tpl. */
int tmpl_set_root(const char *dir);
/* Load and parse every named template now, so a syntax error stops start-up
 * instead of failing a request. Returns 0 or -1 (logged). */
int tmpl_preload(const char *const *names, size_t n);

struct tmpl_dict *tmpl_dict_new(const char *name);
void tmpl_dict_free(struct tmpl_dict *d); /* top-level only; NULL ok */
void tmpl_set(struct tmpl_dict *d, const char *key, const char *value);
void tmpl_set_int(struct tmpl_dict *d, const char *key, long value);
/* A repeated-section row, owned by the parent. */
struct tmpl_dict *tmpl_add_section(struct tmpl_dict *d, const char *section);
void tmpl_show_section(struct tmpl_dict *d, const char *section);
/* {{>MARKER}} expands file with the returned dictionary (owned by d). */
struct tmpl_dict *tmpl_add_include(struct tmpl_dict *d, const char *marker,
				   const char *file);
/* Expand file with d, appending to out. 0, or -1 on error or a full buf. */
int tmpl_render(const char *file, const struct tmpl_dict *d,
		struct tx_buf *out);

#endif
