#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Throwaway PostgreSQL cluster for demos and tests: unix socket only, in a temp directory.
#   pg-cluster.sh start DIR   initdb + start; writes DIR/env (PGHOST, PGPORT, PGUSER, PGDATA)
#   pg-cluster.sh stop DIR    stop and remove DIR
# As root the server runs as the 'postgres' user (initdb refuses root).
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh start|stop DIR}
dir=${2:?usage: pg-cluster.sh start|stop DIR}
bindir=$(pg_config --bindir)

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    port=$((20000 + RANDOM % 20000))
    user=$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)
    as_owner "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
max_connections = 40
CONF
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { cat "$dir/server.log"; exit 1; }
    cat >"$dir/env" <<ENV
export PGHOST='$dir' PGPORT=$port PGUSER=$user PGDATABASE=postgres PGDATA='$dir/data'
ENV
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-cluster.sh start|stop DIR" >&2
    exit 2
    ;;
esac
