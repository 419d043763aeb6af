# SPDX-License-Identifier: Apache-2.0
# make bench: pgkms beside pgcrypto and a no-crypto baseline on a throwaway cluster; the report
# goes to bench/results/latest.md (docs/performance.md). BENCH_ROWS=20000 make bench: a quick run.
.PHONY: bench
bench: deps
	$(MAKE) install
	bench/bench.sh
