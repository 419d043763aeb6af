#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: runs bench/bench.sql on a throwaway cluster and keeps the report.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(pg_config --bindir):$PATH"
rows=${BENCH_ROWS:-1000000}
dir=$(mktemp -d /tmp/pgkms-bench.XXXXXX)
chmod 755 "$dir"
trap 'scripts/pg-cluster.sh stop "$dir/cluster" >/dev/null 2>&1; rm -rf "$dir"' EXIT
scripts/pg-cluster.sh start "$dir/cluster"
. "$dir/cluster/env"
openssl rand -hex 32 >"$dir/cluster/root.key"
chmod 600 "$dir/cluster/root.key"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/cluster/root.key"
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = 'file:$dir/cluster/root.key'
shared_buffers = '1GB'
max_wal_size = '8GB'
CONF
if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- pg_ctl -D "$PGDATA" -l "$dir/cluster/server.log" -w restart >/dev/null
else
    pg_ctl -D "$PGDATA" -l "$dir/cluster/server.log" -w restart >/dev/null
fi
mkdir -p bench/results
out=bench/results/latest.md
{
    echo "# pgkms bench, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "rows: $rows; $(nproc) cores; $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1);"
    echo "$(postgres --version); $(openssl version | cut -d' ' -f1-2)"
    echo '```'
    psql -X -q -v rows="$rows" -f bench/bench.sql
    echo '```'
} | tee "$out"
echo "report: $out"
