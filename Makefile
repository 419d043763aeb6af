# SPDX-License-Identifier: Apache-2.0
# pgkms: builds common/ (libpgkms.a), the OpenSSL provider and the PostgreSQL extension.
# `make demo` and `make test` first install what is missing (scripts/setup-deps.sh).

PG_CONFIG ?= pg_config
CC        ?= gcc
B         := build
PGKMS_VERSION := 0.2.0
WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
# p11-kit's pkcs11.h only (no library): the PKCS#11 root loads modules with dlopen.
P11_CFLAGS := $(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1)
PIC_FLAGS := -DPGKMS_VERSION=\"$(PGKMS_VERSION)\" -fPIC -fvisibility=hidden -std=gnu11 $(WARN) -Icommon/include -D_GNU_SOURCE $(P11_CFLAGS)
LIBS      := -lssl -lcrypto -ljansson -lcurl -lpthread
OSSL_MODULES_DIR := $(shell openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"/\1/p')
# pgkms-escrow goes on the PATH, not into PostgreSQL's bindir: it is run where no PostgreSQL is
# installed (a custodian's or a recovery machine), and Debian's PostgreSQL bindir is not on PATH.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin

COMMON_SRC   := $(wildcard common/*.c)
COMMON_OBJ   := $(COMMON_SRC:%.c=$(B)/%.o)
PROVIDER_SRC := $(filter-out provider/pgkms-entry.c,$(wildcard provider/*.c))
PROVIDER_OBJ := $(PROVIDER_SRC:%.c=$(B)/%.o)

.PHONY: all common provider pgext tools install install-tools deps demo test check-unit \
        check-provider check-regress check-e2e check-fuzz bench clean format

all: provider pgext tools

common: $(B)/libpgkms.a
provider: $(B)/provider/pgkms.so
tools: $(B)/pgkms-escrow

$(B)/%.o: %.c $(wildcard common/include/pgkms/*.h provider/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -c $< -o $@

$(B)/libpgkms.a: $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

# The provider's code without its OpenSSL entry point: linked into the module and into the
# extension, which registers it as a built-in of its private library context.
$(B)/libpgkms-provider.a: $(PROVIDER_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/provider/pgkms.so: $(B)/provider/pgkms-entry.o $(B)/libpgkms-provider.a $(B)/libpgkms.a provider/pgkms.map
	$(CC) -shared -o $@ $(B)/provider/pgkms-entry.o $(B)/libpgkms-provider.a $(B)/libpgkms.a \
	    -Wl,--version-script=provider/pgkms.map -Wl,-z,now -Wl,-z,relro $(LIBS)

$(B)/pgkms-escrow: tools/pgkms-escrow.c $(B)/libpgkms.a
	$(CC) $(CFLAGS) -DPGKMS_VERSION=\"$(PGKMS_VERSION)\" -std=gnu11 $(WARN) -Icommon/include \
	    -D_GNU_SOURCE -o $@ $< $(B)/libpgkms.a $(LIBS)

pgext: $(B)/libpgkms-provider.a $(B)/libpgkms.a
	$(MAKE) -C pgext PG_CONFIG=$(PG_CONFIG) with_llvm=no

install: all install-tools
	@test -n "$(OSSL_MODULES_DIR)" || { echo "openssl version -m gives no MODULESDIR"; exit 1; }
	$(MAKE) -C pgext PG_CONFIG=$(PG_CONFIG) with_llvm=no install
	install -m 0755 $(B)/provider/pgkms.so $(DESTDIR)$(OSSL_MODULES_DIR)/pgkms.so

install-tools: tools
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/pgkms-escrow $(DESTDIR)$(BINDIR)/pgkms-escrow

clean:
	rm -rf $(B) test/tmp
	$(MAKE) -C pgext clean PG_CONFIG=$(PG_CONFIG)

format:
	clang-format -i common/*.c common/include/pgkms/*.h provider/*.c provider/*.h pgext/*.c pgext/*.h test/unit/*.[ch] test/fuzz/*.c \
	    test/peers/*.c tools/*.c

deps:
	scripts/setup-deps.sh

include test/test.mk
include bench/bench.mk
