# SPDX-License-Identifier: Apache-2.0
# Shared by test/peers/vault.sh and awskms.sh: KMS stubs on 127.0.0.1, their control API, a
# throwaway cluster whose server reads the keyring's credentials, and timing helpers.

# Debian's interpreter (apt installs python3-hvac and python3-botocore for it, not for others),
# without OPENSSL_MODULES: python3-cryptography would look for OpenSSL's legacy provider there.
py() { env -u OPENSSL_MODULES /usr/bin/python3 "$@"; }

need_py() {
    for m in "$@"; do
        py -c "import $m" 2>/dev/null ||
            { echo "python module $m is missing (run scripts/setup-deps.sh)"; exit 77; }
    done
}

now_ms() { date +%s%3N; }

# start_stub NAME SCRIPT ARGS...: runs the stub in the background; sets NAME_PID, NAME_PORT.
# A stub restarted with the same NAME reuses its port (pass --port "$NAME_PORT" yourself).
start_stub() {
    local name=$1 script=$2 portfile="$T/$1.port"
    shift 2
    rm -f "$portfile"
    env -u OPENSSL_MODULES /usr/bin/python3 "$script" --port-file "$portfile" "$@" \
        >>"$T/$name.log" 2>&1 &
    eval "${name}_PID=$!"
    for _ in $(seq 100); do
        [ -s "$portfile" ] && break
        sleep 0.05
    done
    [ -s "$portfile" ] || { cat "$T/$name.log" >&2; fail "stub $name did not start"; }
    eval "${name}_PORT=$(cat "$portfile")"
}

stop_stub() {
    local pid
    eval "pid=\${$1_PID:-}"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    eval "$1_PID="
}

# stub_ctl PORT PATH [JSON]: the stubs' test controls (/_stub/fail, /_stub/hang, /_stub/log...).
stub_ctl() {
    py - "$@" <<'PY'
import sys, urllib.request
port, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data,
                             method="POST" if data is not None else "GET")
sys.stdout.write(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}

# server_file SRC DST: a copy the server (user postgres when run as root) may read, mode 600.
server_file() {
    install -m 600 "$1" "$2"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$2"; fi
}

# own_cluster DIR ROOT_KEY TTL: a throwaway cluster with kms.root_key and kms.key_cache_ttl set,
# a database with the extension. Exports PG* for it.
own_cluster() {
    local dir=$1
    scripts/pg-cluster.sh start "$dir"
    . "$dir/env"
    cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = '$2'
kms.key_cache_ttl = $3
CONF
    psql -XAtq -c 'SELECT pg_reload_conf()' >/dev/null
    export PGDATABASE=peers
    createdb "$PGDATABASE"
    sql -c "CREATE EXTENSION pgkms"
}

# poll FD SQL PATTERN SECONDS: asks SQL in session FD every 0.2 s until its answer matches
# PATTERN (grep -E); prints the milliseconds it took, fails after SECONDS.
poll() {
    local fd=$1 q=$2 pattern=$3 limit=$4 start out
    start=$(now_ms)
    while :; do
        out=$(ask "$fd" "$q")
        if printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
            echo $(($(now_ms) - start))
            printf '%s\n' "$out" >"$T/poll.last"
            return 0
        fi
        [ $(($(now_ms) - start)) -lt $((limit * 1000)) ] ||
            fail "no answer matching '$pattern' within ${limit}s; last: $out"
        sleep 0.2
    done
}

# timed CMD...: runs CMD, prints its wall time in ms to fd 3 of the caller via $T/timed.ms.
timed() {
    local start rc=0
    start=$(now_ms)
    "$@" || rc=$?
    echo $(($(now_ms) - start)) >"$T/timed.ms"
    return $rc
}
