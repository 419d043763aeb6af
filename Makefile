# SPDX-License-Identifier: Apache-2.0
# pgkms: builds common/ (libpgkms.a), the OpenSSL provider and the PostgreSQL extension.
# `make demo` and `make test` first install what is missing (scripts/setup-deps.sh).

PG_CONFIG ?= pg_config
CC        ?= gcc
B         := build
PGKMS_VERSION := 0.2.0
WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
PIC_FLAGS := -DPGKMS_VERSION=\"$(PGKMS_VERSION)\" -fPIC -fvisibility=hidden -std=gnu11 $(WARN) -Icommon/include -D_GNU_SOURCE
LIBS      := -lssl -lcrypto -ljansson -lpthread
OSSL_MODULES_DIR := $(shell openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"/\1/p')

COMMON_SRC   := $(wildcard common/*.c)
COMMON_OBJ   := $(COMMON_SRC:%.c=$(B)/%.o)
PROVIDER_SRC := $(filter-out provider/pgkms-entry.c,$(wildcard provider/*.c))
PROVIDER_OBJ := $(PROVIDER_SRC:%.c=$(B)/%.o)

.PHONY: all common provider pgext install deps demo test check-unit check-provider \
        check-regress check-e2e check-fuzz bench clean format

all: provider pgext

common: $(B)/libpgkms.a
provider: $(B)/provider/pgkms.so

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

pgext: $(B)/libpgkms-provider.a $(B)/libpgkms.a
	$(MAKE) -C pgext PG_CONFIG=$(PG_CONFIG) with_llvm=no

install: all
	@test -n "$(OSSL_MODULES_DIR)" || { echo "openssl version -m gives no MODULESDIR"; exit 1; }
	$(MAKE) -C pgext PG_CONFIG=$(PG_CONFIG) with_llvm=no install
	install -m 0755 $(B)/provider/pgkms.so $(DESTDIR)$(OSSL_MODULES_DIR)/pgkms.so

clean:
	rm -rf $(B) test/tmp
	$(MAKE) -C pgext clean PG_CONFIG=$(PG_CONFIG)

format:
	clang-format -i common/*.c common/include/pgkms/*.h provider/*.c provider/*.h pgext/*.c pgext/*.h test/unit/*.[ch] test/fuzz/*.c

deps:
	scripts/setup-deps.sh

include test/test.mk
include bench/bench.mk
