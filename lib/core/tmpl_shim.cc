// tmpl_shim.cc: the extern "C" wrappers of tmpl.h over ctemplate 2.4.
//
// The only C++ file. Every entry point catches everything, so no exception
// crosses into C: out of memory goes to tx_oom() (the project's one OOM
// policy, mem.h), anything else becomes NULL / -1 / a no-op. Every function
// accepts a NULL dictionary and does nothing with it, so a failure early in
// building a page cannot turn into a crash later. A NULL value is set as "".
//
// `struct tmpl_dict` is never defined: it is the C name of a
// ctemplate::TemplateDictionary, converted with reinterpret_cast.
#include <cstdio>
#include <new>
#include <string>

#include <ctemplate/template.h>

extern "C" {
#include "core/buf.h"
#include "core/tmpl.h"
}

// mem.h spells this with C11's _Noreturn, which C++ does not have.
extern "C" [[noreturn]] void tx_oom(size_t n);

namespace {

using ctemplate::TemplateDictionary;

// Blank lines and lines holding only a template marker ({{#S}}, {{/S}},
// the pragma) are dropped, so the pages come out without stray gaps.
// Preload and render must use the same mode: the cache is keyed on it.
constexpr ctemplate::Strip kStrip = ctemplate::STRIP_BLANK_LINES;

TemplateDictionary *D(struct tmpl_dict *d)
{
	return reinterpret_cast<TemplateDictionary *>(d);
}

const TemplateDictionary *D(const struct tmpl_dict *d)
{
	return reinterpret_cast<const TemplateDictionary *>(d);
}

struct tmpl_dict *C(TemplateDictionary *d)
{
	return reinterpret_cast<struct tmpl_dict *>(d);
}

const char *orempty(const char *s)
{
	return s ? s : "";
}

} // namespace

extern "C" int tmpl_set_root(const char *dir)
{
	try {
		auto *cache = ctemplate::mutable_default_template_cache();
		if (!dir || !cache->SetTemplateRootDirectory(dir)) {
			fprintf(stderr, "tmpl: cannot use template root %s\n",
				orempty(dir));
			return -1;
		}
		return 0;
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
		return -1;
	}
}

extern "C" int tmpl_preload(const char *const *names, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		try {
			ok = ctemplate::LoadTemplate(names[i], kStrip);
		} catch (const std::bad_alloc &) {
			tx_oom(0);
		} catch (...) {
		}
		if (!ok) {
			fprintf(stderr, "tmpl: cannot load template %s\n",
				names[i]);
			rc = -1;
		}
	}
	return rc;
}

extern "C" struct tmpl_dict *tmpl_dict_new(const char *name)
{
	try {
		return C(new TemplateDictionary(orempty(name)));
	} catch (const std::bad_alloc &) {
		tx_oom(sizeof(TemplateDictionary));
	} catch (...) {
		return nullptr;
	}
}

extern "C" void tmpl_dict_free(struct tmpl_dict *d)
{
	try {
		delete D(d);
	} catch (...) {
	}
}

extern "C" void tmpl_set(struct tmpl_dict *d, const char *key,
			 const char *value)
{
	if (!d || !key)
		return;
	try {
		D(d)->SetValue(key, orempty(value));
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
	}
}

extern "C" void tmpl_set_int(struct tmpl_dict *d, const char *key, long value)
{
	if (!d || !key)
		return;
	try {
		D(d)->SetIntValue(key, value);
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
	}
}

extern "C" struct tmpl_dict *tmpl_add_section(struct tmpl_dict *d,
					      const char *section)
{
	if (!d || !section)
		return nullptr;
	try {
		return C(D(d)->AddSectionDictionary(section));
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
		return nullptr;
	}
}

extern "C" void tmpl_show_section(struct tmpl_dict *d, const char *section)
{
	if (!d || !section)
		return;
	try {
		D(d)->ShowSection(section);
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
	}
}

extern "C" struct tmpl_dict *tmpl_add_include(struct tmpl_dict *d,
					      const char *marker,
					      const char *file)
{
	if (!d || !marker || !file)
		return nullptr;
	try {
		TemplateDictionary *inc = D(d)->AddIncludeDictionary(marker);
		inc->SetFilename(file);
		return C(inc);
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
		return nullptr;
	}
}

namespace {

// Expands straight into the tx_buf (no std::string to grow and copy); a
// full buffer sets toobig there, and the render fails.
class BufEmitter : public ctemplate::ExpandEmitter {
public:
	explicit BufEmitter(struct tx_buf *out) : out_(out) {}
	void Emit(char c) override { tx_buf_addch(out_, c); }
	void Emit(const std::string &s) override { tx_buf_add(out_, s.data(), s.size()); }
	void Emit(const char *s) override { tx_buf_adds(out_, s); }
	void Emit(const char *s, size_t n) override { tx_buf_add(out_, s, n); }

private:
	struct tx_buf *out_;
};

} // namespace

extern "C" int tmpl_render(const char *file, const struct tmpl_dict *d,
			   struct tx_buf *out)
{
	if (!file || !d || !out)
		return -1;
	size_t start = out->len;
	bool ok = false;
	try {
		BufEmitter emit(out);
		ok = ctemplate::ExpandTemplate(file, kStrip, D(d), &emit);
		if (!ok)
			fprintf(stderr, "tmpl: cannot expand %s\n", file);
	} catch (const std::bad_alloc &) {
		tx_oom(0);
	} catch (...) {
	}
	if (ok && !out->toobig)
		return 0;
	if (!out->toobig && out->len != start) { /* nothing of a failed render stays */
		out->len = start;
		out->buf[start] = '\0';
	}
	return -1;
}
