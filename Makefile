# vgpuvm — plain Makefile, pkg-config for the libraries.
#   make            build ./vgpuvm
#   make check      install missing test packages, then every test layer; ends with "N passed, N failed"
#   make asan       ASan + UBSan build, running the unit tests
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 60), with clang: executions, coverage, crashes
#   make property   generated profiles -> argv -> QEMU accepts the line (PROPERTY_COUNT of them, default 2000)
#   make analyze    gcc -fanalyzer over the product code, and a clang build; both warning-free
#   make demo       the real kernel mdev chain with the mdpy demo profile
#   make man        the manual pages, from docs/*.md with go-md2man (make builds them too when go-md2man is there)
#   make install    honours PREFIX and DESTDIR

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
STOCKDIR ?= $(DATADIR)/vgpuvm/profiles
MANDIR ?= $(DATADIR)/man
# systemd's and udev's directories are PREFIX/lib whatever the libdir: /usr/lib, or /usr/local/lib, which they read too.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
LIBEXECDIR ?= $(PREFIX)/libexec/vgpuvm
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions

PKGS := json-c uuid libseccomp libcap-ng
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

BUILD ?= build
CFLAGS ?= -O2 -g
WARNINGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
override CPPFLAGS += -I. -D_GNU_SOURCE -DVGPUVM_VERSION='"$(VERSION)"' -DVGPUVM_STOCKDIR='"$(STOCKDIR)"'
override CFLAGS += $(WARNINGS) $(PKG_CFLAGS) -MMD -MP
ifdef SANITIZE
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
endif
# The libFuzzer build (make fuzz): every object instrumented for coverage and the sanitizers, with clang.
ifdef FUZZ
override CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard profiles/*.c qmp/*.c util/*.c) $(filter-out supervisor/cli/main.c,$(wildcard supervisor/*.c supervisor/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/supervisor/cli/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%) $(BUILD)/helpers/vgpuvm-dynamic
# Each fuzz target is also a unit test binary that replays its corpus (tests/fuzz/replay.c).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY_BIN := $(FUZZ_TARGETS:%=$(BUILD)/tests/test_fuzz_%)

all: $(BUILD)/vgpuvm

# The default build tree also gets ./vgpuvm, a link, so that the binary runs from the checkout.
ifeq ($(BUILD),build)
all: vgpuvm
vgpuvm: $(BUILD)/vgpuvm
	ln -sf $(BUILD)/vgpuvm vgpuvm
endif

# The supervisor is linked statically by default: a static binary starts faster and its resident set stays near
# 1 MiB, where libc's shared text alone would add 1.5 MiB of mapped pages (see the README's numbers). STATIC=0 links
# dynamically; the sanitizer build always does.
STATIC ?= 1
ifneq ($(SANITIZE)$(FUZZ),)
STATIC := 0
endif
ifeq ($(STATIC),1)
VGPUVM_LDFLAGS := -static
# glibc warns that user lookups in a static binary need its NSS modules at run time; vgpuvm reads users through
# libcap-ng only for QEMU's own uid and gid, which needs no NSS lookup.
VGPUVM_LIBS := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null)
else
VGPUVM_LIBS := $(PKG_LIBS)
endif

$(BUILD)/vgpuvm: $(MAIN_OBJ) $(BUILD)/libvgpuvm.a
	$(CC) $(LDFLAGS) $(VGPUVM_LDFLAGS) -o $@ $^ $(VGPUVM_LIBS) 2>&1 | { grep -v -e "statically linked applications requires at runtime" -e "in function \`capng_change_id'" >&2 || true; }
	@test -x $@

$(BUILD)/libvgpuvm.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvgpuvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvgpuvm.a $(PKG_LIBS) -lcmocka

$(BUILD)/helpers/%: tests/helpers/%.c $(BUILD)/libvgpuvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvgpuvm.a $(PKG_LIBS)

# The same vgpuvm linked dynamically, for valgrind: its memcheck cannot see malloc in a static binary.
$(BUILD)/helpers/vgpuvm-dynamic: $(MAIN_OBJ) $(BUILD)/libvgpuvm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(BUILD)/libvgpuvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -DFUZZ_TARGET='"$*"' -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c \
		$(BUILD)/libvgpuvm.a $(PKG_LIBS) -lcmocka

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libvgpuvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/libvgpuvm.a $(PKG_LIBS)

unit-bins: $(UNIT_BIN) $(FUZZ_REPLAY_BIN)
helpers: $(HELPER_BIN)
fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz-%)

# The manual pages are markdown in docs/, turned into roff by go-md2man. A plain `make` builds them only when
# go-md2man is installed, so that building vgpuvm needs no more than a C compiler; `make man` insists, and `make check`
# installs go-md2man first (scripts/deps.sh). The title line's DATE becomes the page's last commit date (or its
# modification time outside git) and VERSION the version, so that the markdown needs no edit at a release.
GO_MD2MAN ?= $(shell command -v go-md2man 2>/dev/null)
MAN_PAGES := vgpuvm.1 vgpuvm-profile.5 vgpuvm-control.7
MAN_OUT := $(MAN_PAGES:%=$(BUILD)/man/%)

ifneq ($(GO_MD2MAN),)
all: man
endif
man: $(MAN_OUT)

$(BUILD)/man/%: docs/%.md
	@test -n "$(GO_MD2MAN)" || { echo "go-md2man is not installed (Debian: apt-get install go-md2man)" >&2; exit 69; }
	@mkdir -p $(dir $@)
	d=$$(git log -1 --format=%cs -- $< 2>/dev/null); [ -n "$$d" ] || d=$$(date -u -r $< +%Y-%m-%d); \
	sed -e "1s/\bDATE\b/$$d/" -e '1s/\bVERSION\b/$(VERSION)/' $< | $(GO_MD2MAN) -out $@

deps:
	@scripts/deps.sh build test package fleet e2e

# Every layer, one summary line at the end.
check: deps
	$(MAKE) all man unit-bins helpers
	tests/run.sh

# The unit tests (with the fuzz corpora's replay) under ASan and UBSan, in a separate build tree.
asan: deps
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit-bins helpers
	BUILD=build-asan tests/run.sh unit golden

# libFuzzer, with clang, in its own build tree: each target runs FUZZ_SECONDS on one core, starting from its corpus
# in tests/fuzz/corpus/ (new inputs go to build-fuzz/corpus/, crashes to build-fuzz/crashes/). FUZZ_TARGETS picks
# some; FUZZ_ARGS adds libFuzzer options (-runs=N for a count rather than a time).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 fuzz-bins
	BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

# Property tests: generated valid profiles, each turned into argv and started by QEMU with -S (and quit at once).
# make check generates 3000 and starts every 5th; this starts PROPERTY_COUNT, from seed PROPERTY_SEED (by default
# the time, so that each run tries others; the seed is printed, and a failure is kept in build/property-failures/).
PROPERTY_COUNT ?= 5000
PROPERTY_SEED ?= $(shell date +%s)
property: all helpers
	tests/property/run.sh $(PROPERTY_COUNT) $(PROPERTY_SEED) 1

# Static analysis: gcc's -fanalyzer over the product code (not the tests), and the whole build with clang. Both
# warning-free; a false positive is silenced at its line, with the reason, never globally.
analyze:
	@scripts/deps.sh analyze
	$(MAKE) BUILD=build-analyze CFLAGS="-O1 -g -fanalyzer" STATIC=0 build-analyze/libvgpuvm.a build-analyze/vgpuvm
	$(MAKE) BUILD=build-clang CC=clang STATIC=0 all unit-bins helpers

# The README's main command: the real kernel mdev chain with the stock mdpy-demo profile, in a TCG guest.
demo: deps
	$(MAKE) all
	tests/e2e/demo.sh

# Speed and memory against the targets in the README: vgpuvm beside the same QEMU driven by a minimal QMP client.
# The runtime directory is on tmpfs, as /run and $$XDG_RUNTIME_DIR are on a real system.
# Each profile in turn: a plain VM, and one with a user NIC and a tablet. After the plain one, the same bench with
# UEFI and a TPM, with a state directory of its own: QEMU's uid passes through $$d to it. Last, `vgpuvm list` with 1
# and with 20 tiny VMs running (tests/helpers/bench-list.c).
BENCH_PROFILES := tests/bench/plain-tcg.json tests/bench/user-net-tablet.json
BENCH_PLATFORM := tests/bench/uefi-tpm.json
bench: deps
	$(MAKE) all helpers
	d=$$(mktemp -d /dev/shm/vgpuvm-bench.XXXXXX) && chmod 0711 $$d && r=0 && for p in $(BENCH_PROFILES); do \
		pl=; [ $$p = tests/bench/plain-tcg.json ] && pl=$(BENCH_PLATFORM); \
		VGPUVM_RUNTIME_DIR=$$d VGPUVM_STATE_DIR=$$d/state $(BUILD)/helpers/bench $(CURDIR)/$(BUILD)/vgpuvm $$p 31 \
		$$pl || r=$$?; done; \
		$(BUILD)/helpers/bench-list $(CURDIR)/$(BUILD)/vgpuvm $$d 20 51 || r=$$?; \
		rm -rf $$d; exit $$r

# The unit and the udev rule name installed paths (the unit points at the installed manual pages, which
# systemd-analyze verify checks); the rest is installed as it is in the tree.
$(BUILD)/dist/vgpuvm@.service: examples/vgpuvm@.service
	@mkdir -p $(dir $@)
	sed -e 's|/usr/local/bin/vgpuvm|$(BINDIR)/vgpuvm|g' -e 's|^Documentation=.*|Documentation=man:vgpuvm(1) man:vgpuvm-profile(5)|' $< >$@
$(BUILD)/dist/vgpuvm-metrics.%: dist/vgpuvm-metrics.%
	@mkdir -p $(dir $@)
	sed -e 's|/usr/local/bin/vgpuvm|$(BINDIR)/vgpuvm|g' -e 's|^Documentation=.*|Documentation=man:vgpuvm(1)|' $< >$@
$(BUILD)/dist/70-vgpuvm.rules: dist/70-vgpuvm.rules.in
	@mkdir -p $(dir $@)
	sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' $< >$@

install: all $(BUILD)/dist/vgpuvm@.service $(BUILD)/dist/vgpuvm-metrics.service $(BUILD)/dist/vgpuvm-metrics.timer \
		$(BUILD)/dist/70-vgpuvm.rules
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(STOCKDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/vgpuvm $(DESTDIR)$(BINDIR)/vgpuvm
	install -m 0644 profiles/stock/*.json $(DESTDIR)$(STOCKDIR)/
	install -m 0644 profiles/profile.schema.json $(DESTDIR)$(DATADIR)/vgpuvm/profile.schema.json
	install -m 0644 completion/vgpuvm.bash $(DESTDIR)$(BASHCOMPDIR)/vgpuvm
	install -m 0644 $(BUILD)/dist/vgpuvm@.service $(DESTDIR)$(UNITDIR)/vgpuvm@.service
	install -m 0644 $(BUILD)/dist/vgpuvm-metrics.service $(DESTDIR)$(UNITDIR)/vgpuvm-metrics.service
	install -m 0644 $(BUILD)/dist/vgpuvm-metrics.timer $(DESTDIR)$(UNITDIR)/vgpuvm-metrics.timer
	install -m 0644 dist/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/vgpuvm.conf
	install -m 0644 dist/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/vgpuvm.conf
	install -m 0644 $(BUILD)/dist/70-vgpuvm.rules $(DESTDIR)$(UDEVRULESDIR)/70-vgpuvm.rules
	install -m 0755 dist/vfio-group-is-mdev $(DESTDIR)$(LIBEXECDIR)/vfio-group-is-mdev
ifneq ($(GO_MD2MAN),)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(BUILD)/man/vgpuvm.1 $(DESTDIR)$(MANDIR)/man1/vgpuvm.1
	install -m 0644 $(BUILD)/man/vgpuvm-profile.5 $(DESTDIR)$(MANDIR)/man5/vgpuvm-profile.5
	install -m 0644 $(BUILD)/man/vgpuvm-control.7 $(DESTDIR)$(MANDIR)/man7/vgpuvm-control.7
else
	@echo "make install: go-md2man is not installed, so neither are the manual pages (Debian: apt-get install go-md2man)" >&2
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vgpuvm
	rm -f $(DESTDIR)$(MANDIR)/man1/vgpuvm.1 $(DESTDIR)$(MANDIR)/man5/vgpuvm-profile.5 \
		$(DESTDIR)$(MANDIR)/man7/vgpuvm-control.7
	rm -rf $(DESTDIR)$(STOCKDIR)
	rm -f $(DESTDIR)$(DATADIR)/vgpuvm/profile.schema.json $(DESTDIR)$(BASHCOMPDIR)/vgpuvm \
		$(DESTDIR)$(UNITDIR)/vgpuvm@.service $(DESTDIR)$(UNITDIR)/vgpuvm-metrics.service \
		$(DESTDIR)$(UNITDIR)/vgpuvm-metrics.timer $(DESTDIR)$(SYSUSERSDIR)/vgpuvm.conf $(DESTDIR)$(TMPFILESDIR)/vgpuvm.conf \
		$(DESTDIR)$(UDEVRULESDIR)/70-vgpuvm.rules $(DESTDIR)$(LIBEXECDIR)/vfio-group-is-mdev
	-rmdir $(DESTDIR)$(DATADIR)/vgpuvm $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz build-analyze build-clang vgpuvm

.PHONY: all man unit-bins helpers fuzz-bins deps check asan fuzz property analyze bench demo install uninstall format clean
.DELETE_ON_ERROR:

# The dependency files of this build; the package test's copy of the tree (BUILD/pkg) has its own, and *.d directories.
-include $(shell find $(BUILD) -path '$(BUILD)/pkg' -prune -o -name '*.d' -type f -print 2>/dev/null)
