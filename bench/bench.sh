#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: pgkms beside pgcrypto and a no-crypto baseline on a throwaway cluster (docs/performance.md).
#   BENCH_ROWS  values per dataset (default 1000000)    BENCH_REPS  runs per method (default 9)
#   BENCH_SHARED_BUFFERS  the server's shared_buffers (default 2GB)
set -euo pipefail

cd "$(dirname "$0")/.."
rows=${BENCH_ROWS:-1000000}
reps=${BENCH_REPS:-9}
shared_buffers=${BENCH_SHARED_BUFFERS:-2GB}
[[ $rows =~ ^[1-9][0-9]*$ && $reps =~ ^[1-9][0-9]*$ ]] ||
    { echo "BENCH_ROWS and BENCH_REPS must be positive integers" >&2; exit 2; }
bindir=$(pg_config --bindir)
out=bench/results/latest.md
start=$SECONDS

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d /tmp/pgkms-bench.XXXXXX)
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -f "$dir/server.log" ]; then
        echo "bench failed (exit $rc); end of the server log:" >&2
        tail -n 20 "$dir/server.log" >&2
    fi
    scripts/pg-cluster.sh stop "$dir" >/dev/null 2>&1 || true
    exit "$rc"
}
trap cleanup EXIT
scripts/pg-cluster.sh start "$dir"
# shellcheck source=/dev/null
. "$dir/env"

# A root key outside the data directory (no development-root warning); shared buffers that
# hold every table of the run (with 1M values, 1,656 MB at the end, the most at any time; the
# report shows both), so that no INSERT evicts a table another run reads; no checkpoint but
# the ones taken before each INSERT run.
openssl rand -hex 32 >"$dir/root.key"
chmod 600 "$dir/root.key"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/root.key"; fi
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = 'file:$dir/root.key'
shared_buffers = '$shared_buffers'
max_wal_size = '16GB'
checkpoint_timeout = '1h'
CONF
as_owner "$bindir/pg_ctl" -D "$PGDATA" -l "$dir/server.log" -w -t 60 restart >/dev/null

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pgkms bench: $rows values per dataset, $reps runs per method (cluster $dir)"
psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v reps="$reps" -f bench/bench.sql
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit + uncommitted changes"
fi
mkdir -p bench/results
{
    echo "# pgkms bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- command: \`make bench\` (BENCH_ROWS=$rows, BENCH_REPS=$reps)"
    echo "- machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
        "$(free -g | awk '/^Mem:/ {print $2}') GB RAM"
    echo "- $("$bindir/postgres" --version), $(openssl version | cut -d' ' -f1-2), pgkms $commit"
    echo "- server: shared_buffers $(psql -X -Atc 'SHOW shared_buffers') (tables and indexes at" \
        "the end: $(psql -X -Atc "SELECT pg_size_pretty(sum(pg_total_relation_size(oid)))
                                  FROM pg_class WHERE relkind = 'r' AND relnamespace <> ALL
                                  (ARRAY['pg_catalog', 'information_schema']::regnamespace[])")), fsync off," \
        "jit off, no parallel workers"
    echo "- load average (1/5/15 min) before: $load_before; after: $load_after"
    echo "- bench time: $((SECONDS - start)) s (cluster, data, checks and timed runs)"
    echo
    psql -X -q -At -f bench/report.sql
} >"$out"
echo
cat "$out"
echo
echo "report: $out"
