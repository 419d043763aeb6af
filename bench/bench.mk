# SPDX-License-Identifier: Apache-2.0
# make bench: pgkms beside pgcrypto and a no-crypto baseline (docs/performance.md).
.PHONY: bench
bench: deps
	$(MAKE) install
	bench/bench.sh
