# SPDX-License-Identifier: Apache-2.0
# BYOK: a tenant imports its own key material exactly as docs/byok.md tells it to, with
# openssl pkeyutl; deleting the material makes its values unreadable until the same material
# comes back; other material, stale tokens and expired material are refused; the CLI agrees.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_byok
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
q() { sql -c "$1" 2>&1 || true; } # answer or error text

kid=$(sql -c "SELECT kms.create_key('byok', 'tenant-held', origin => 'external')")
[ "$(sql -c "SELECT state || ' ' || origin FROM kms.keys WHERE key_id = '$kid'")" = \
    "PendingImport external" ] || fail "an external key does not start in PendingImport"
got=$(q "SELECT kms.encrypt('x', 'byok', key => 'tenant-held')")
grep -q "is in state PendingImport" <<<"$got" || fail "PendingImport key encrypted: $got"
ok "an external key starts in PendingImport and neither encrypts nor decrypts"

# import KID MATERIAL_FILE [valid_to]: what a tenant does, step by step (docs/byok.md).
import() {
    sql -c "SELECT public_key || E'\n' || encode(import_token, 'hex')
              FROM kms.get_parameters_for_import('$1')" >"$T/params"
    head -n -1 "$T/params" >"$T/wrapping.pem"
    tail -n 1 "$T/params" >"$T/token.hex"
    openssl pkeyutl -encrypt -pubin -inkey "$T/wrapping.pem" -in "$2" -out "$T/material.enc" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
    q "SELECT kms.import_key_material('$1', decode('$(cat "$T/token.hex")', 'hex'),
                                      decode('$(xxd -p -c 1000 "$T/material.enc")', 'hex')
                                      ${3:+, '$3'})"
}
grep -q 'BEGIN PUBLIC KEY' <(sql -c "SELECT public_key FROM kms.get_parameters_for_import('$kid')") ||
    fail "no PEM public key"
[ "$(sql -c "SELECT length(import_token) FROM kms.get_parameters_for_import('$kid')")" = 32 ] ||
    fail "import token is not 32 bytes"
sql -c "SELECT public_key FROM kms.get_parameters_for_import('$kid')" >"$T/k.pem"
openssl pkey -pubin -in "$T/k.pem" -noout -text | grep -q 'Public-Key: (3072 bit)' ||
    fail "the wrapping key is not RSA-3072"
[ "$(sql -c "SELECT round(extract(epoch FROM valid_until - now()) / 3600)
               FROM kms.get_parameters_for_import('$kid')")" = 24 ] || fail "token not valid 24 h"
ok "parameters: an RSA-3072 public key (PEM) and a 32-byte token valid for 24 hours"

openssl rand 32 >"$T/material"
out=$(import "$kid" "$T/material")
[ "$(sql -c "SELECT state FROM kms.keys WHERE key_id = '$kid'")" = Enabled ] ||
    fail "import did not enable the key: $out"
v=$(sql -c "SELECT kms.encrypt('held by the tenant', 'byok', 'ctx', 'tenant-held')")
[ "$(sql -c "SET kms.tenant = 'byok'" -c "SELECT kms.decrypt('$v', 'ctx')")" = \
    "held by the tenant" ] || fail "round trip under imported material"
ok "material wrapped with openssl pkeyutl (RSA-OAEP-SHA-256) imports; the key works"

# The import token is used up; a reused or foreign token is refused.
got=$(q "SELECT kms.import_key_material('$kid', decode('$(cat "$T/token.hex")', 'hex'),
                                       decode('$(xxd -p -c 1000 "$T/material.enc")', 'hex'))")
grep -q "this import token is not valid" <<<"$got" || fail "token reused: $got"
ok "an import token works once"

# The CLI sees and uses the imported key through an exported keyring.
export PGKMS_ROOT_KEY=$(sql -c "SHOW kms.root_key") PGKMS_KEYRING="$T/keyring.json"
sql -c "SELECT convert_from(kms.export_keyring('byok'), 'UTF8')" >"$PGKMS_KEYRING"
sql -c "SELECT '$v'" | base64 -d >"$T/v.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=byok' -in "$T/v.kms" -out "$T/v.out" \
    -pkeyopt kms-context:ctx
[ "$(cat "$T/v.out")" = "held by the tenant" ] || fail "the CLI did not read the value"
ok "the CLI decrypts values under imported material"

# Deleting the material: every value under it is unreadable, in SQL and the CLI.
sql -c "SELECT kms.delete_imported_key_material('$kid')" >/dev/null
got=$(q "SET kms.tenant = 'byok'; SELECT kms.decrypt('$v', 'ctx')")
grep -q "is in state PendingImport" <<<"$got" || fail "decrypt after delete: $got"
[ "$(sql -c "SELECT count(*) FROM kms.key_versions WHERE key_id = '$kid'")" = 0 ] ||
    fail "wrapped material left behind"
sql -c "SELECT convert_from(kms.export_keyring('byok'), 'UTF8')" >"$PGKMS_KEYRING"
expect_fail "CLI after delete_imported_key_material" "PendingImport" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=byok' -in "$T/v.kms" -out "$T/v.out" \
    -pkeyopt kms-context:ctx
ok "deleted material: SQL and CLI refuse with PendingImport"

# Other material is refused; the same material restores every value.
openssl rand 32 >"$T/other"
got=$(import "$kid" "$T/other")
grep -q "not the material imported into key" <<<"$got" || fail "other material: $got"
[ "$(sql -c "SELECT state FROM kms.keys WHERE key_id = '$kid'")" = PendingImport ] ||
    fail "refused import changed the state"
ok "different material is refused and changes nothing"
head -c 31 "$T/material" >"$T/short"
got=$(import "$kid" "$T/short")
grep -q "22000\|could not decrypt\|ERROR" <<<"$got" || fail "31-byte material: $got"
ok "31 bytes of material are refused: ${got#ERROR:  }"
import "$kid" "$T/material" >/dev/null
[ "$(sql -c "SET kms.tenant = 'byok'" -c "SELECT kms.decrypt('$v', 'ctx')")" = \
    "held by the tenant" ] || fail "the same material did not restore the value"
ok "re-importing the same material restores access to old values"

# valid_to: in the past refused; once passed, the key stops at once and the purge deletes it.
got=$(import "$kid" "$T/material" "2000-01-01")
grep -q "valid_to must be in the future" <<<"$got" || fail "past valid_to: $got"
import "$kid" "$T/material" "$(date -u -d '+3 seconds' '+%Y-%m-%d %H:%M:%S+00')" >/dev/null
[ "$(sql -c "SET kms.tenant = 'byok'" -c "SELECT kms.decrypt('$v', 'ctx')")" = \
    "held by the tenant" ] || fail "material with a valid_to ahead does not work"
open_session 3
ask 3 "SET kms.tenant = 'byok';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v', 'ctx');")" = "held by the tenant" ] || fail "session"
sleep 4
got=$(ask 3 "SELECT kms.decrypt('$v', 'ctx');")
grep -q "is in state PendingImport" <<<"$got" || fail "expired material still used: $got"
exec 3>&-
ok "past valid_to, a session that had the key cached is refused at once"
[ "$(sql -c "SELECT kms.purge_deleted_keys()")" = 1 ] || fail "purge did not handle expiry"
[ "$(sql -c "SELECT state || ' ' || count(v.version) FROM kms.keys k
               LEFT JOIN kms.key_versions v USING (key_id) WHERE k.key_id = '$kid'
              GROUP BY state")" = "PendingImport 0" ] || fail "expired material not deleted"
ok "kms.purge_deleted_keys() deletes expired material"

# Keys not made for import refuse it; imported keys do not rotate.
pk=$(sql -c "SELECT kms.create_key('byok', 'native')")
grep -q "was not created for imported material" <<<"$(q "SELECT kms.get_parameters_for_import('$pk')")" ||
    fail "parameters for a native key"
import "$kid" "$T/material" >/dev/null
grep -q "cannot be rotated" <<<"$(q "SELECT kms.rotate_key('$kid')")" || fail "rotated imported key"
grep -q "origin must be" <<<"$(q "SELECT kms.create_key('byok', origin => 'aws')")" ||
    fail "unknown origin accepted"
ok "native keys refuse imports; imported keys refuse rotation; unknown origins are refused"
[ "$(sql -c "SELECT count(*) FROM kms.audit_log WHERE key_id = '$kid'
               AND operation IN ('import_key_material', 'delete_imported_key_material')")" -ge 4 ] ||
    fail "imports not audited"
ok "imports and deletions are audited"
wait
dropdb "$db"
