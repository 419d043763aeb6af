# SPDX-License-Identifier: Apache-2.0
# Test targets: `make test` runs every suite through test/run-all.sh on a throwaway cluster.

UNIT_SRC := $(wildcard test/unit/*.c)

$(B)/test/unit-tests: $(UNIT_SRC) test/unit/harness.h $(B)/libpgkms-provider.a $(B)/libpgkms.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 $(WARN) -Icommon/include -D_GNU_SOURCE -o $@ $(UNIT_SRC) \
	    $(B)/libpgkms-provider.a $(B)/libpgkms.a $(LIBS)

# Drives the PKCS#11 root where the CLI cannot (fork, threads, outage): test/peers/pkcs11.sh.
$(B)/test/pkcs11-check: test/peers/pkcs11_check.c $(B)/libpgkms.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 $(WARN) -Icommon/include -D_GNU_SOURCE $(P11_CFLAGS) -o $@ $< \
	    $(B)/libpgkms.a $(LIBS)

$(B)/test/fuzz-format: test/fuzz/fuzz_format.c $(COMMON_SRC)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon/include -D_GNU_SOURCE $(P11_CFLAGS) \
	    -o $@ test/fuzz/fuzz_format.c $(COMMON_SRC) $(LIBS)

$(B)/test/fuzz-kms: test/fuzz/fuzz_kms.c $(COMMON_SRC)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon/include -D_GNU_SOURCE $(P11_CFLAGS) \
	    -o $@ test/fuzz/fuzz_kms.c $(COMMON_SRC) $(LIBS)

check-unit: $(B)/test/unit-tests
	$(B)/test/unit-tests test/vectors

test: deps
	$(MAKE) all $(B)/test/unit-tests $(B)/test/fuzz-format $(B)/test/pkcs11-check $(B)/test/fuzz-kms
	$(MAKE) install
	test/run-all.sh

demo: deps
	$(MAKE) all
	$(MAKE) install
	scripts/demo.sh
