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

PKGS := fcgi libpq json-c libjwt hiredis libctemplate libsodium libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libcurl: the Stripe client (lib/payments/stripe.c: the payments program
# and the worker) and the HTTP client of the test, load and fault programs.
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wno-format-nonliteral
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -Ilib -MMD -MP $(PKG_CFLAGS)
CXXFLAGS_COMMON := -std=c++17 -g -Wall -Wextra -Werror -Ilib -MMD -MP $(PKG_CFLAGS)

ifeq ($(BUILD),asan)
SAN := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
SAN := -O2 -ffunction-sections -fdata-sections
endif

CFLAGS += $(CFLAGS_COMMON) $(SAN)
CXXFLAGS += $(CXXFLAGS_COMMON) $(SAN)
# lib/core/mem.c: GnuTLS's opt-out of its eager initialisation (libpq and
# libcurl load GnuTLS through libldap and librtmp; we never call it).
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

# The programs (FastCGI and worker), linked dynamically against Debian's
# shared libraries, so that `apt upgrade` patches them (README, Deploying).
# --as-needed keeps each one to the libraries its code refers to: libjwt
# where sessions are read, libcurl where the Stripe provider is linked
# (payments and the worker call it; ops reads the payments listeners'
# subjects and so links it, never initialised); --gc-sections drops the
# code a program does not reach.
PROG_LDFLAGS := -Wl,--as-needed -Wl,--gc-sections
PROG_LIBS := $(CURL_LIBS)

$(O)/bin/%: $(O)/cgi-bin/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(PROG_LIBS)

$(O)/bin/%: $(O)/worker/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(PROG_LIBS)

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
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS) $(CHECK_LIBS)

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

# ---- install (PREFIX, DESTDIR, SYSCONFDIR) -----------------------------------
# Programs in PREFIX/libexec/ticketing, data in PREFIX/share/ticketing,
# systemd units (one service and one socket per FastCGI program, from the
# two templates) in PREFIX/lib/systemd/system, the users in
# PREFIX/lib/sysusers.d, /run/ticketing in PREFIX/lib/tmpfiles.d; each
# program's env file in SYSCONFDIR/ticketing and the Redis users in
# SYSCONFDIR/redis/ticketing.conf, with fresh secrets, where none exists
# (scripts/install-config.sh). README.md "Deploying" says what to do next.

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SHARE := $(DESTDIR)$(PREFIX)/share/ticketing
UNITDIR := $(DESTDIR)$(PREFIX)/lib/systemd/system
FCGI_UNITS := auth:8 tickets:8 orders:8 payments:8 ops:2
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e '/@HARDENING@/{r deploy/systemd/hardening.conf' -e 'd;}'

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/libexec/ticketing $(SHARE)/templates \
		$(SHARE)/static $(SHARE)/sql $(SHARE)/scripts $(SHARE)/nginx $(SHARE)/env $(SHARE)/postgres \
		$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/libexec/ticketing/
	install -m 0644 templates/*.tpl $(SHARE)/templates/
	cp -R static/. $(SHARE)/static/ && chmod -R a+rX,go-w $(SHARE)/static
	install -m 0644 sql/*.sql $(SHARE)/sql/
	install -m 0755 scripts/migrate.sh $(SHARE)/scripts/
	install -m 0644 nginx/ticketing-fastcgi.conf nginx/ticketing-errors.conf nginx/cgi.conf.in $(SHARE)/nginx/
	install -m 0644 deploy/postgres/pg_hba.conf deploy/postgres/pg_ident.conf $(SHARE)/postgres/
	$(SUBST) nginx/ticketing.prod.conf >$(SHARE)/nginx/ticketing.prod.conf
	for e in deploy/env/*.env.example; do $(SUBST) $$e >$(SHARE)/env/$$(basename $$e); done
	for u in $(FCGI_UNITS); do n=$${u%:*} t=$${u#*:}; \
		$(SUBST) -e "s|@NAME@|$$n|g" -e "s|@THREADS@|$$t|g" deploy/systemd/ticketing-fcgi.service.in \
			>$(UNITDIR)/ticketing-$$n.service && \
		$(SUBST) -e "s|@NAME@|$$n|g" deploy/systemd/ticketing-fcgi.socket.in \
			>$(UNITDIR)/ticketing-$$n.socket || exit 1; done
	$(SUBST) deploy/systemd/ticketing-worker.service.in >$(UNITDIR)/ticketing-worker.service
	install -m 0644 deploy/systemd/ticketing.target $(UNITDIR)/
	install -m 0644 deploy/systemd/ticketing.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/ticketing.conf
	install -m 0644 deploy/systemd/ticketing.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/ticketing.conf
	DESTDIR='$(DESTDIR)' scripts/install-config.sh $(SHARE)/env $(DESTDIR)$(SYSCONFDIR)
	install -d $(SHARE)/failover
	install -m 0644 deploy/failover/* $(SHARE)/failover/

lint:
	@scripts/lint.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
