# SPDX-License-Identifier: Apache-2.0
# SQL and the openssl CLI compute the same deterministic values, blind indexes and pseudonyms
# from the same exported keyring, before and after kms.rotate_key; SQL reads the CLI's.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_search_cli_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1; rm -rf "$T"' EXIT
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
root=$(sql -c "SHOW kms.root_key")
export PGKMS_ROOT_KEY=$root PGKMS_KEYRING="$T/keyring.json"
utf8='张三丰 🙂'

# What SQL computes, as hex: deterministic values (with and without a context, UTF-8),
# blind indexes (default, 64 bits of the canonical form, another purpose) and pseudonyms.
sql_hex() { sql -c "SET kms.tenant = 'acme'" -c "SELECT encode(($1)::bytea, 'hex')"; }
cli_hex() { ossl pkeyutl $P -encrypt -inkey "${KEY_URI:-kms:tenant=acme}" "$@" -in "$T/in" |
    xxd -p | tr -d '\n'; }
printf 13812345678 >"$T/phone"
printf '%s' "$utf8" >"$T/utf8"
printf ' John.Doe@EXAMPLE.com ' >"$T/email"
declare -A want
want[det]=$(sql_hex "kms.encrypt_det('13812345678')")
want[det_ctx]=$(sql_hex "kms.encrypt_det('13812345678', context => 'customers.phone')")
want[det_utf8]=$(sql_hex "kms.encrypt_det('$utf8', context => 't.name')")
want[bi]=$(sql_hex "kms.blind_index('13812345678')")
want[bi_canon]=$(sql_hex "kms.blind_index(' John.Doe@EXAMPLE.com ', purpose => 'users.email',
                                         bits => 64, canonical => true)")
want[bi_purpose]=$(sql_hex "kms.blind_index('13812345678', purpose => 'other', bits => 32)")
want[ps]=$(sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.pseudonym('13812345678')")
want[ps_purpose]=$(sql -c "SET kms.tenant = 'acme'" \
    -c "SELECT kms.pseudonym('$utf8', purpose => 'analytics')")
sql -c "SELECT convert_from(kms.export_keyring('acme'), 'UTF8')" >"$PGKMS_KEYRING"

check_cli() { # check_cli WHEN: the CLI reproduces every value in want
    local when=$1
    cp "$T/phone" "$T/in"
    [ "$(cli_hex -pkeyopt kms-op:det)" = "${want[det]}" ] || fail "$when: det differs from SQL"
    [ "$(cli_hex -pkeyopt kms-op:det -pkeyopt kms-context:customers.phone)" = "${want[det_ctx]}" ] ||
        fail "$when: det with a context differs from SQL"
    [ "$(cli_hex -pkeyopt kms-op:blind-index)" = "${want[bi]}" ] ||
        fail "$when: blind index differs from SQL"
    [ "$(cli_hex -pkeyopt kms-op:blind-index -pkeyopt kms-purpose:other -pkeyopt kms-bits:32)" = \
        "${want[bi_purpose]}" ] || fail "$when: blind index of another purpose differs from SQL"
    [ "$(ossl pkeyutl $P -encrypt -inkey "${KEY_URI:-kms:tenant=acme}" -pkeyopt kms-op:pseudonym \
        -in "$T/in")" = "${want[ps]}" ] || fail "$when: pseudonym differs from SQL"
    cp "$T/utf8" "$T/in"
    [ "$(cli_hex -pkeyopt kms-op:det -pkeyopt kms-context:t.name)" = "${want[det_utf8]}" ] ||
        fail "$when: UTF-8 det differs from SQL"
    [ "$(ossl pkeyutl $P -encrypt -inkey "${KEY_URI:-kms:tenant=acme}" -pkeyopt kms-op:pseudonym \
        -pkeyopt kms-purpose:analytics -in "$T/in")" = "${want[ps_purpose]}" ] ||
        fail "$when: pseudonym of another purpose differs from SQL"
    cp "$T/email" "$T/in"
    [ "$(cli_hex -pkeyopt kms-op:blind-index -pkeyopt kms-purpose:users.email -pkeyopt kms-bits:64 \
        -pkeyopt kms-canonical:1)" = "${want[bi_canon]}" ] ||
        fail "$when: blind index of the canonical form differs from SQL"
}
check_cli "same keyring"
ok "the CLI computes SQL's deterministic values, blind indexes and pseudonyms byte for byte"

# SQL reads the CLI's deterministic value, with its context.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det \
    -pkeyopt kms-context:from.cli -in "$T/utf8" -out "$T/cli.kms"
[ "$(sql -c "SET kms.tenant = 'acme'" \
    -c "SELECT kms.decrypt('$(base64 -w0 "$T/cli.kms")', 'from.cli')")" = "$utf8" ] ||
    fail "SQL does not read the CLI's deterministic value"
[ "$(sql -c "SET kms.tenant = 'acme'" \
    -c "SELECT kms.encrypt_det('$utf8', context => 'from.cli')::text")" = "$(base64 -w0 "$T/cli.kms")" ] ||
    fail "SQL's deterministic value differs from the CLI's"
ok "SQL decrypts the CLI's deterministic value and computes the same bytes"

# Rotation: SQL and the CLI keep computing the same bytes as before it; a lookup written
# before it still finds the row.
sql >/dev/null <<'SQL'
SET kms.tenant = 'acme';
CREATE TABLE c (id int, phone kms.encrypted, phone_idx bytea);
INSERT INTO c VALUES (1, kms.encrypt_det('13812345678', context => 'customers.phone'),
                      kms.blind_index('13812345678'));
SELECT kms.rotate_key(key_id) FROM kms.keys WHERE tenant = 'acme' AND is_default;
SQL
sql -c "SELECT convert_from(kms.export_keyring('acme'), 'UTF8')" >"$PGKMS_KEYRING"
grep -q '"current_version": 2' "$PGKMS_KEYRING" || fail "the export does not show version 2"
check_cli "after rotation"
[ "$(sql_hex "kms.encrypt_det('13812345678', context => 'customers.phone')")" = "${want[det_ctx]}" ] ||
    fail "SQL's deterministic value changed with the rotation"
[ "$(sql -c "SET kms.tenant = 'acme'" -c "SET search_path = public, kms" \
    -c "SELECT id FROM c WHERE phone = kms.encrypt_det('13812345678', context => 'customers.phone')
          AND phone_idx = kms.blind_index('13812345678')")" = 1 ] ||
    fail "lookups miss the row after rotation"
cp "$T/phone" "$T/in"
[ "$(KEY_URI='kms:tenant=acme;version=1' cli_hex -pkeyopt kms-op:det)" = "${want[det]}" ] ||
    fail "kms:…;version=1 gives other bytes"
expect_fail "kms-op:det under ;version=2" "always uses version 1" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme;version=2' -pkeyopt kms-op:det -in "$T/in" \
    -out "$T/o"
ok "after kms.rotate_key SQL and the CLI compute the same bytes as before, and lookups match"

# Another tenant's key gives other bytes in the CLI too.
sql -c "SELECT kms.encrypt('x', 'globex')" >/dev/null
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$PGKMS_KEYRING"
[ "$(KEY_URI='kms:tenant=globex' cli_hex -pkeyopt kms-op:det)" != "${want[det]}" ] ||
    fail "two tenants give the same deterministic value"
expect_fail "the CLI refuses another tenant's deterministic value" "belongs to another tenant" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/cli.kms" -out "$T/o"
ok "another tenant computes other values and cannot read acme's"
