# Ticketing in C: one non-recursive Makefile.
#
#   make run     install what is missing, build, run the app on :8080
#   make test    the same set-up on throwaway dirs and ports, then every test
#   make fuzz    libFuzzer harnesses for the parsers (FUZZ_SECONDS each)
#   make lint    clang-format check and the banned-function grep
#   make bench   figures on this machine, a table in build/bench/results.txt
#   make failover  failover drills on simulated hosts (root; see README)
#
# BUILD=release (default) builds into build/release, BUILD=asan into
# build/asan with AddressSanitizer and UndefinedBehaviorSanitizer.

BUILD ?= release
O := build/$(BUILD)

PKGS := fcgi libpq json-c hiredis libctemplate libsodium libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The test, load and fault programs' HTTP client is libcurl; the app's own
# programs do not use it (lib/core/http_client.c talks to Stripe).
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wno-format-nonliteral
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -Ilib -MMD -MP $(PKG_CFLAGS)
CXXFLAGS_COMMON := -std=c++17 -g -Wall -Wextra -Werror -Ilib -MMD -MP $(PKG_CFLAGS)

ifeq ($(BUILD),asan)
SAN := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
STATIC ?= 0
else
SAN := -O2 -ffunction-sections -fdata-sections
STATIC ?= 1
endif

CFLAGS += $(CFLAGS_COMMON) $(SAN)
CXXFLAGS += $(CXXFLAGS_COMMON) $(SAN)
# lib/core/mem.c: GnuTLS's opt-out of its eager initialisation.
LDFLAGS += $(SAN) -pthread -Wl,--export-dynamic-symbol=_gnutls_global_init_skip
LDLIBS += $(PKG_LIBS) -lstdc++ -lm

LIB_C := $(sort $(wildcard lib/*/*.c))
LIB_CC := $(sort $(wildcard lib/*/*.cc))
LIB_OBJ := $(LIB_C:%.c=$(O)/%.o) $(LIB_CC:%.cc=$(O)/%.o)
LIB := $(O)/libtx.a

PROGS := $(patsubst cgi-bin/%.c,$(O)/bin/%,$(wildcard cgi-bin/*.c)) \
	$(patsubst worker/%.c,$(O)/bin/%,$(wildcard worker/*.c))

UNIT_C := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_C:%.c=$(O)/%.o) $(O)/tests/unit/suites.o
HTTP_C := $(sort $(wildcard tests/http/*.c))
HTTP_OBJ := $(HTTP_C:%.c=$(O)/%.o) $(O)/tests/http/suites.o
TEST_CFLAGS := $(CHECK_CFLAGS)

.PHONY: all build run test test-unit fuzz lint clean deps bench bench-progs install
all: build
build: $(PROGS) $(O)/bin/unit-tests $(O)/bin/http-tests

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(if $(findstring tests/,$<),$(TEST_CFLAGS)) -c $< -o $@

$(O)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# The programs (FastCGI and worker). A release build links them statically,
# glibc included, as position-independent executables: each process then
# maps only the code it runs, about 4 MB resident instead of 10 (a dynamic
# program maps some 8 MB of shared libraries, most of them Kerberos, LDAP
# and GnuTLS pulled in by Debian's libpq and used by nobody here). libpq.a
# needs libpgcommon/libpgport (postgresql-server-dev) and refers to GSSAPI
# and LDAP, which link/pq_without_gss_ldap.c answers "not available".
# glibc warns that getaddrinfo and getpwuid in a static program load NSS
# modules of the same glibc version at run time: build where you run.
# STATIC=0 links dynamically (the ASan build always does).
PG_LIBDIR := $(shell pg_config --pkglibdir 2>/dev/null)
ifeq ($(STATIC),1)
PROG_LDFLAGS := -static-pie -Wl,--gc-sections -Wl,-z,pack-relative-relocs
PROG_LIBS := $(O)/link/pq_without_gss_ldap.o -L$(PG_LIBDIR) -Wl,--start-group \
	-lfcgi -ljson-c -lhiredis -lctemplate -lsodium -lpq -lpgcommon -lpgport \
	-lssl -lcrypto -lstdc++ -lm -Wl,--end-group
PROG_DEPS := $(O)/link/pq_without_gss_ldap.o
else
PROG_LIBS := $(LDLIBS)
endif

# Links a program; in a static link, the linker's notes on glibc's NSS
# functions (said once, above) are left out, any other message is shown.
define link_prog
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $< $(LIB) $(PROG_LIBS) 2>$@.ld || \
		{ cat $@.ld >&2; rm -f $@ $@.ld; exit 1; }
	@grep -v -e 'in statically linked applications requires' -e ': in function' \
		$@.ld >&2 || true; rm -f $@.ld
endef

$(O)/bin/%: $(O)/cgi-bin/%.o $(LIB) $(PROG_DEPS)
	$(link_prog)

$(O)/bin/%: $(O)/worker/%.o $(LIB) $(PROG_DEPS)
	$(link_prog)

# Each test file defines "Suite *suite_NAME(void)"; the registry is generated
# so that adding a test file never means editing a shared list.
$(O)/tests/%/suites.c: $(wildcard tests/*/test_*.c) Makefile
	@mkdir -p $(@D)
	@names=$$(grep -ho '^Suite \*suite_[a-z0-9_]*' tests/$*/*.c | sed 's/^Suite \*//'); \
	{ echo '#include <check.h>'; echo '#include <stddef.h>'; \
	  for n in $$names; do echo "Suite *$$n(void);"; done; \
	  echo 'Suite *(*const tx_test_suites[])(void) = {'; \
	  for n in $$names; do echo "	$$n,"; done; \
	  echo '	NULL };'; } > $@

$(O)/tests/%/suites.o: $(O)/tests/%/suites.c
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(O)/bin/unit-tests: $(UNIT_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

$(O)/bin/http-tests: $(HTTP_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS) $(CHECK_LIBS)

# Standalone load and concurrency programs (tests/load/NAME.c -> bin/NAME)
# on the HTTP test client; scripts/test.sh runs them against the stack.
LOAD_PROGS := $(patsubst tests/load/%.c,$(O)/bin/%,$(wildcard tests/load/*.c))
build: $(LOAD_PROGS)
$(O)/bin/%: $(O)/tests/load/%.o $(O)/tests/http/client.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

# Fault drills (tests/faults/NAME.c -> bin/NAME; scripts/faults.sh runs them).
FAULT_PROGS := $(patsubst tests/faults/%.c,$(O)/bin/%,$(wildcard tests/faults/*.c))
build: $(FAULT_PROGS)
$(O)/bin/%: $(O)/tests/faults/%.o $(O)/tests/http/client.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

.PHONY: faults
faults: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@scripts/faults.sh full

# Failover drills (root): replicated Postgres (pg_auto_failover) and Redis
# (Sentinel) on simulated hosts, their primary and master lost under load.
.PHONY: failover
failover: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@scripts/failover.sh full

# ---- the two commands of README.md -------------------------------------

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@$(MAKE) --no-print-directory BUILD=asan build
	@scripts/test.sh

# Figures on this machine (scripts/bench.sh: sections, a table, and
# build/bench/results.txt), on the release build. tests/bench/ holds the
# bare ceiling responder, the event figures and the Express peer.
BENCH_PROGS := $(O)/bin/bench-bare $(O)/bin/bench-events
$(O)/bin/bench-bare: $(O)/tests/bench/bare.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bin/bench-events: $(O)/tests/bench/events.o $(O)/tests/http/client.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)
bench-progs: $(BENCH_PROGS)

bench: deps
	@$(MAKE) --no-print-directory BUILD=release build bench-progs
	@scripts/bench.sh

# ---- fuzzing (clang + libFuzzer) ----------------------------------------

FUZZ_SECONDS ?= 60
FUZZ_SRC := lib/core/json.c lib/core/form.c lib/core/cookie.c lib/core/buf.c \
	lib/core/arena.c lib/core/mem.c
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build/fuzz/%: tests/fuzz/%.c $(FUZZ_SRC)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $^ $(PKG_LIBS) -lstdc++ -lm
fuzz: $(FUZZ_TARGETS)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- install (PREFIX, DESTDIR) --------------------------------------------
# Programs in PREFIX/libexec/ticketing, data in PREFIX/share/ticketing,
# systemd units in PREFIX/lib/systemd/system (PREFIX filled in); README.md
# "Deploying" says what to do with them.

PREFIX ?= /usr/local
SHARE := $(DESTDIR)$(PREFIX)/share/ticketing
UNITS := $(wildcard deploy/systemd/*.service.in)
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e '/@HARDENING@/{r deploy/systemd/hardening.conf' -e 'd;}'

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/libexec/ticketing $(SHARE)/templates \
		$(SHARE)/static $(SHARE)/sql $(SHARE)/scripts $(SHARE)/nginx \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/libexec/ticketing/
	install -m 0644 templates/*.tpl $(SHARE)/templates/
	cp -R static/. $(SHARE)/static/ && chmod -R a+rX,go-w $(SHARE)/static
	install -m 0644 sql/*.sql $(SHARE)/sql/
	install -m 0755 scripts/migrate.sh $(SHARE)/scripts/
	install -m 0644 nginx/ticketing-fastcgi.conf nginx/ticketing-errors.conf nginx/cgi.conf.in $(SHARE)/nginx/
	$(SUBST) nginx/ticketing.prod.conf >$(SHARE)/nginx/ticketing.prod.conf
	$(SUBST) deploy/systemd/ticketing.env.example >$(SHARE)/ticketing.env.example
	for u in $(UNITS); do $(SUBST) $$u >$(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u .in); done
	install -m 0644 deploy/systemd/ticketing.target $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -d $(SHARE)/failover
	install -m 0644 deploy/failover/* $(SHARE)/failover/

lint:
	@scripts/lint.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
