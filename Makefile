# SPDX-License-Identifier: MIT
# One non-recursive Makefile: make, make check, make asan, make fuzz, make bench.

CC      ?= cc
B       ?= build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wformat=2 -Wno-format-nonliteral
# One source for the version: the package's changelog, so `understudy version` and the .deb agree.
VERSION := $(shell sed -n '1{s/^[^ ]* .//;s/. .*//;p;q;}' debian/changelog)
ifeq ($(VERSION),)
$(error cannot read the version from debian/changelog)
endif
CFLAGS_ := -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -pthread -DUNDERSTUDY_VERSION='"$(VERSION)"' \
           $(SAN) $(EXTRA_CFLAGS)
LDFLAGS_:= -pthread $(SAN) $(EXTRA_LDFLAGS)
PKGS    := libzscanner libknot liburcu-memb yaml-0.1 lmdb libcrypto libssl libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
PYTHON  ?= /usr/bin/python3

LIB_SRC := $(wildcard src/lib/*.c)
SRV_SRC := $(wildcard src/server/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_HDR := $(wildcard tests/fuzz/*.h)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/tests/%-replay)

# make install: PREFIX for the program and its pages, DESTDIR for staging (the package does).
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
EXAMPLESDIR ?= $(PREFIX)/share/doc/understudy/examples
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
MAN := $(B)/man/man8/understudy.8 $(B)/man/man5/understudy.yaml.5

all: $(B)/understudy $(MAN)

# src/lib sees only itself, so a stray include of server code fails the build.
$(B)/src/lib/%.o: src/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_) -Isrc/lib $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(B)/src/server/%.o $(B)/src/cli/%.o $(B)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_) -Isrc/lib -Isrc/server -Isrc $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The version is compiled in where it is printed or answered.
$(B)/src/main.o $(B)/src/server/conf.o: debian/changelog

$(B)/libus.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/libussrv.a: $(SRV_OBJ)
	ar rcs $@ $^

# The subcommands, for the fuzz targets of their parsers (import-conf).
$(B)/libuscli.a: $(CLI_OBJ)
	ar rcs $@ $^

$(B)/understudy: $(B)/src/main.o $(CLI_OBJ) $(B)/libussrv.a $(B)/libus.a
	$(CC) $(LDFLAGS_) -o $@ $^ $(PKG_LIBS)

$(B)/tests/test_%: tests/unit/test_%.c $(B)/libussrv.a $(B)/libus.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_) -Isrc/lib -Isrc/server $(PKG_CFLAGS) -o $@ $< $(B)/libussrv.a $(B)/libus.a \
		$(LDFLAGS_) $(PKG_LIBS) -lcmocka

# Each fuzz target also links against a small main that replays its corpus, so make check
# exercises every target with gcc and the sanitizers without needing libFuzzer.
$(B)/tests/fuzz_%-replay: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HDR) $(B)/libuscli.a \
		$(B)/libussrv.a $(B)/libus.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_) -Isrc/lib -Isrc/server -Isrc $(PKG_CFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(B)/libuscli.a $(B)/libussrv.a $(B)/libus.a $(LDFLAGS_) $(PKG_LIBS)

# The manual pages are made from the docs, so the two never disagree.
$(B)/man/man8/understudy.8: docs/understudy.md scripts/md2man.py debian/changelog
	@mkdir -p $(@D)
	$(PYTHON) scripts/md2man.py --name understudy --section 8 --version $(VERSION) \
		--summary "authoritative DNS server, the backup first of all" $< > $@.tmp
	mv $@.tmp $@

$(B)/man/man5/understudy.yaml.5: docs/configuration.md scripts/md2man.py debian/changelog
	@mkdir -p $(@D)
	$(PYTHON) scripts/md2man.py --name understudy.yaml --section 5 --version $(VERSION) \
		--summary "configuration file of the understudy DNS server" $< > $@.tmp
	mv $@.tmp $@

man: $(MAN)

# Paths in the unit and the example configuration follow the variables above. An existing
# configuration or zone file is never overwritten: it is the operator's.
ETCDIR := $(DESTDIR)$(SYSCONFDIR)/understudy
PATHS_SED := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|/etc/understudy|$(SYSCONFDIR)/understudy|g' \
	-e 's|/var/lib/understudy|$(LOCALSTATEDIR)/lib/understudy|g'
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(EXAMPLESDIR) $(ETCDIR)
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/lib/understudy
	install -m 0755 $(B)/understudy $(DESTDIR)$(SBINDIR)/understudy
	install -m 0644 $(B)/man/man8/understudy.8 $(DESTDIR)$(MANDIR)/man8/understudy.8
	install -m 0644 $(B)/man/man5/understudy.yaml.5 $(DESTDIR)$(MANDIR)/man5/understudy.yaml.5
	install -m 0644 etc/understudy-alerts.yml $(DESTDIR)$(EXAMPLESDIR)/understudy-alerts.yml
	sed $(PATHS_SED) etc/understudy.service.in > $(DESTDIR)$(UNITDIR)/understudy.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/understudy.service
	test -e $(ETCDIR)/understudy.yaml || sed $(PATHS_SED) etc/understudy.yaml > $(ETCDIR)/understudy.yaml
	chmod 0644 $(ETCDIR)/understudy.yaml
	test -e $(ETCDIR)/example.com.zone || install -m 0644 etc/zones/example.com.zone $(ETCDIR)/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/understudy $(DESTDIR)$(MANDIR)/man8/understudy.8 \
		$(DESTDIR)$(MANDIR)/man5/understudy.yaml.5 $(DESTDIR)$(UNITDIR)/understudy.service \
		$(DESTDIR)$(EXAMPLESDIR)/understudy-alerts.yml

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# Every target runs even when one fails, so one finding does not hide another.
fuzz-replay: $(FUZZ_REPLAY)
	@rc=0; for t in $(FUZZ_REPLAY); do n=$$(basename $$t -replay); n=$${n#fuzz_}; \
		echo "== $$t tests/fuzz/corpus/$$n"; $$t tests/fuzz/corpus/$$n || rc=1; done; \
	exit $$rc

# nfqdelay: the packet delayer of the multi-site tests (tests/system/places.py).
system: $(B)/understudy $(B)/bench/nfqdelay
	UNDERSTUDY=$(abspath $(B)/understudy) NFQDELAY=$(abspath $(B)/bench/nfqdelay) $(PYTHON) -m pytest -q tests/system $(PYTEST_ARGS)

check: all unit fuzz-replay system

# Minutes long, so not in check: builds the Debian package from a copy of the tree, checks it
# with lintian, installs it into a fresh debootstrap root and runs it there (tests/package);
# the multi-site scenario with nsd and named as backups too (tests/system/test_places.py).
check-slow: all $(B)/bench/nfqdelay
	UNDERSTUDY=$(abspath $(B)/understudy) $(PYTHON) -m pytest -q tests/package $(PYTEST_ARGS)
	PLACES_ALL=1 UNDERSTUDY=$(abspath $(B)/understudy) NFQDELAY=$(abspath $(B)/bench/nfqdelay) \
		$(PYTHON) -m pytest -q -s tests/system/test_places.py $(PYTEST_ARGS)

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

# Tests marked normal_build_only stay out: the multi-site scenarios (timing across delayed
# links), Chromium and Prometheus as clients, knotd's RRL beside ours, the kill -9 loop. Under
# the sanitizers they take minutes and show nothing new: the code they run is run under them
# by the other tests.
asan:
	$(MAKE) B=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		PYTEST_ARGS="$(PYTEST_ARGS) -m 'not normal_build_only'" check

FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
# -fno-sanitize-recover makes UBSan findings fatal, so libFuzzer stops and saves the input.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
# FORCE: the libraries are made by a sub-make, so only it knows whether they changed; the
# fuzzers are relinked every time rather than left stale.
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDR) FORCE
	$(MAKE) B=build/fuzzlib CC=clang OPT="-O1 -g" SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		build/fuzzlib/libus.a build/fuzzlib/libussrv.a build/fuzzlib/libuscli.a
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -fsanitize=fuzzer $(FUZZ_SAN) -Isrc/lib \
		-Isrc/server -Isrc $(PKG_CFLAGS) -o $@ $< build/fuzzlib/libuscli.a \
		build/fuzzlib/libussrv.a build/fuzzlib/libus.a $(PKG_LIBS) -pthread

# New inputs go to build/fuzz/corpus/<target>, crashes to build/fuzz/<target>-crash-*. A target
# that fails does not keep the others from running; make fails at the end.
fuzz: $(FUZZ_BIN)
	@rc=0; for f in $(FUZZ_BIN); do n=$$(basename $$f); n=$${n#fuzz_}; \
		mkdir -p build/fuzz/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/$$n- $(FUZZ_FLAGS) \
			build/fuzz/corpus/$$n tests/fuzz/corpus/$$n || { echo "== $$f failed"; rc=1; }; \
	done; exit $$rc

# Long fuzzing, outside CI: every target (or FUZZ_LONG_TARGETS) for FUZZ_LONG_SECONDS each,
# FUZZ_LONG_PARALLEL at once; new inputs that add coverage are merged into tests/fuzz/corpus/
# (see scripts/fuzz-long.sh). Commit them: make check replays them from then on.
FUZZ_LONG_SECONDS ?= 3600
FUZZ_LONG_PARALLEL ?= 1
FUZZ_LONG_TARGETS ?= $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
fuzz-long: $(FUZZ_BIN)
	@printf '%s\n' $(FUZZ_LONG_TARGETS) | \
		xargs -P $(FUZZ_LONG_PARALLEL) -I{} sh scripts/fuzz-long.sh {} $(FUZZ_LONG_SECONDS)

# The bench tools build with the project's warnings but without sanitizers: they must be fast.
BENCH_TOOLS := $(B)/bench/loadgen $(B)/bench/reflector $(B)/bench/axfrclient $(B)/bench/tcpgen \
	$(B)/bench/nfqdelay
$(B)/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -pthread -o $@ $< -pthread $(BENCH_LIBS)

# axfrclient --tls times transfers over TLS (XoT).
$(B)/bench/axfrclient: BENCH_LIBS = $(shell pkg-config --libs libssl libcrypto)

# nfqdelay reads a netfilter queue (Debian's libnetfilter-queue-dev).
$(B)/bench/nfqdelay: BENCH_LIBS = $(shell pkg-config --libs libnetfilter_queue)

bench-tools: $(BENCH_TOOLS)

# Durations and sizes come from the environment: BENCH_SECONDS, BENCH_RUNS, BENCH_NAMES, ...
# (see bench/run.py). A missing understudy binary is skipped with a note.
bench: all $(BENCH_TOOLS)
	UNDERSTUDY=$(abspath $(B)/understudy) LOADGEN=$(abspath $(B)/bench/loadgen) \
		REFLECTOR=$(abspath $(B)/bench/reflector) AXFRCLIENT=$(abspath $(B)/bench/axfrclient) \
		TCPGEN=$(abspath $(B)/bench/tcpgen) \
		BENCH_OUT=$(abspath $(B)/bench) $(PYTHON) bench/run.py

# Only the backup-role part of the bench (bench/propagation.py): BENCH_PROP_CHANGES, ...
bench-propagation: all
	UNDERSTUDY=$(abspath $(B)/understudy) BENCH_OUT=$(abspath $(B)/bench) \
		$(PYTHON) bench/propagation.py

demo: all
	sh scripts/demo.sh

clean:
	rm -rf build

.PHONY: all man install uninstall unit fuzz-replay system check check-slow format-check asan fuzz \
	fuzz-long bench bench-tools bench-propagation demo clean FORCE
FORCE:
-include $(shell find $(B) -name '*.d' 2>/dev/null)
