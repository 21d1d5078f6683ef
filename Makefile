# vgpuvm — plain Makefile, pkg-config for the libraries.
#   make            build ./vgpuvm
#   make check      install missing test packages, then every test layer; ends with "N passed, N failed"
#   make asan       ASan + UBSan build, running the unit tests
#   make demo       the real kernel mdev chain with the mdpy demo profile
#   make man        the manual pages, from docs/*.md with go-md2man (make builds them too when go-md2man is there)
#   make install    honours PREFIX and DESTDIR

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
STOCKDIR ?= $(DATADIR)/vgpuvm/profiles
MANDIR ?= $(DATADIR)/man

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

LIB_SRC := $(wildcard profiles/*.c qmp/*.c util/*.c) $(filter-out supervisor/cli/main.c,$(wildcard supervisor/*.c supervisor/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/supervisor/cli/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)

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
ifdef SANITIZE
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

unit-bins: $(UNIT_BIN)
helpers: $(HELPER_BIN)

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
	@scripts/deps.sh build test e2e

# Every layer, one summary line at the end.
check: deps
	$(MAKE) all man unit-bins helpers
	tests/run.sh

# The unit tests under ASan and UBSan, in a separate build tree.
asan: deps
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit-bins helpers
	BUILD=build-asan tests/run.sh unit golden

# The README's main command: the real kernel mdev chain with the stock mdpy-demo profile, in a TCG guest.
demo: deps
	$(MAKE) all
	tests/e2e/demo.sh

# Speed and memory against the targets in the README: vgpuvm beside the same QEMU driven by a minimal QMP client.
# The runtime directory is on tmpfs, as /run and $$XDG_RUNTIME_DIR are on a real system.
# The second profile has UEFI and a TPM, with a state directory of its own: QEMU's uid passes through $$d to it.
bench: deps
	$(MAKE) all helpers
	d=$$(mktemp -d /dev/shm/vgpuvm-bench.XXXXXX) && chmod 0711 $$d && VGPUVM_RUNTIME_DIR=$$d \
		VGPUVM_STATE_DIR=$$d/state $(BUILD)/helpers/bench $(CURDIR)/$(BUILD)/vgpuvm tests/bench/plain-tcg.json 31 \
		tests/bench/uefi-tpm.json; r=$$?; rm -rf $$d; exit $$r

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(STOCKDIR)
	install -m 0755 $(BUILD)/vgpuvm $(DESTDIR)$(BINDIR)/vgpuvm
	install -m 0644 profiles/stock/*.json $(DESTDIR)$(STOCKDIR)/
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
	-rmdir $(DESTDIR)$(DATADIR)/vgpuvm 2>/dev/null

format:
	clang-format -i $(wildcard */*.c */*.h supervisor/*/*.c supervisor/*/*.h tests/*/*.c)

clean:
	rm -rf build build-asan vgpuvm

.PHONY: all man unit-bins helpers deps check asan bench demo install uninstall format clean
.DELETE_ON_ERROR:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
