# SPDX-License-Identifier: Apache-2.0
# Bad input to the CLI: each case fails with a clear message and writes no plaintext.
source "$(dirname "$0")/../lib.sh"
new_cli_env

echo "the secret" >"$T/s"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/s" -out "$T/v"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:a -in "$T/s" -out "$T/vc"
size=$(stat -c %s "$T/v")

# expect_no_plaintext "what" "pattern" file [opts]: decrypt must fail, say pattern, leak nothing.
expect_decrypt_fails() {
    local what=$1 pattern=$2 file=$3
    shift 3
    expect_fail "$what" "$pattern" \
        ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' "$@" -in "$file" -out "$T/o"
    [ ! -s "$T/o" ] || fail "$what: output is not empty"
}

: >"$T/empty"
expect_decrypt_fails "empty input" "value is empty" "$T/empty"
head -c 47 "$T/v" >"$T/trunc"
expect_decrypt_fails "truncated header" "truncated" "$T/trunc"
head -c $((size - 1)) "$T/v" >"$T/trunc2"
expect_decrypt_fails "truncated tag" "authentication tag does not match" "$T/trunc2"
{ printf '\x00'; tail -c +2 "$T/v"; } >"$T/magic"
expect_decrypt_fails "wrong magic" "magic" "$T/magic"
{ head -c 2 "$T/v"; printf '\x09'; tail -c +4 "$T/v"; } >"$T/version"
expect_decrypt_fails "wrong format version" "unsupported pgkms format version 9" "$T/version"
flip_bit "$T/v" $((size - 1)) "$T/tag"
expect_decrypt_fails "tampered tag" "authentication tag does not match" "$T/tag"
flip_bit "$T/v" 33 "$T/ct"
expect_decrypt_fails "tampered ciphertext" "authentication tag does not match" "$T/ct"
expect_decrypt_fails "wrong context" "authentication tag does not match" "$T/vc" \
    -pkeyopt kms-context:b
expect_decrypt_fails "missing context" "authentication tag does not match" "$T/vc"
expect_fail "wrong tenant" "belongs to another tenant" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/v" -out "$T/o"
expect_fail "data decrypted as a wrapped key" "kms-op" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:wrap -in "$T/v" -out "$T/o"
expect_fail "wrapping a 5-byte key" "16, 24, 32, 48 or 64 bytes" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:wrap -in "$T/s" -out "$T/o"
expect_fail "unknown kms-op" "kms-op must be" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:sign -in "$T/s" -out "$T/o"

# Input over 64 MiB is refused, never silently truncated.
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$T/huge"
expect_fail "input over 64 MiB" "exceeds the 67108864-byte limit (64 MiB" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/huge" -out "$T/o"
rm -f "$T/huge"

# URIs.
expect_fail "URI without tenant" "needs tenant" ossl storeutl $P -noout 'kms:key=x'
expect_fail "unknown URI attribute" "unknown or repeated attribute" \
    ossl storeutl $P -noout 'kms:tenant=acme;colour=red'
expect_fail "invalid tenant name" "tenant name may contain only" \
    ossl storeutl $P -noout 'kms:tenant=a b'
expect_fail "unknown key alias" "has no key" ossl storeutl $P -noout 'kms:tenant=acme;key=nosuch'
expect_fail "unknown version" "has no version 7" ossl storeutl $P -noout 'kms:tenant=acme;version=7'

# Configuration and the root key.
expect_fail "no root key" "no root key" env -u PGKMS_ROOT_KEY PGKMS_KEYRING="$T/k2.json" \
    openssl storeutl $P -noout 'kms:tenant=acme'
expect_fail "no keyring" "no keyring file" env -u PGKMS_KEYRING \
    openssl storeutl $P -noout 'kms:tenant=acme'
chmod 644 "$T/root.key"
expect_fail "root key readable by others" "chmod 600" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v" -out "$T/o"
chmod 600 "$T/root.key"
openssl rand -hex 32 >"$T/other.key"
chmod 600 "$T/other.key"
expect_fail "a different root key" "wrapped under root key" \
    env PGKMS_ROOT_KEY="file:$T/other.key" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v" -out "$T/o"
echo '{"format":"pgkms-keyring","version":1,"keys":[{"tenant":"acme"}]}' >"$T/bad.json"
expect_fail "malformed keyring" "keyring" env PGKMS_KEYRING="$T/bad.json" \
    openssl storeutl $P -noout 'kms:tenant=acme'

# A bad setting in openssl.cnf is reported by every operation, not dropped.
cat >"$T/bad.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pgkms = pgkms_sect
[default_sect]
activate = 1
[pgkms_sect]
activate = 1
key_cache_ttl = 1d
CNF
expect_fail "bad key_cache_ttl in openssl.cnf" 'key_cache_ttl must be a number of seconds' \
    env OPENSSL_CONF="$T/bad.cnf" openssl storeutl -noout 'kms://tenant=acme'
# Reading needs no lock: decrypting works from a keyring whose lock file cannot be created.
mkdir "$T/ro" && cp "$PGKMS_KEYRING" "$T/ro/keyring.json" && ln -s /nonexistent/dir/x "$T/ro/keyring.json.lock"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v" -out "$T/o" \
    </dev/null && PGKMS_KEYRING="$T/ro/keyring.json" ossl pkeyutl $P -decrypt \
    -inkey 'kms:tenant=acme' -in "$T/v" -out "$T/o2"
cmp "$T/s" "$T/o2" || fail "decrypt with an unwritable lock file"
ok "decrypting takes no lock on the keyring"

# After all of that, the original value still decrypts: nothing was lost or rewritten.
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v" -out "$T/o"
cmp "$T/s" "$T/o" || fail "original value no longer decrypts"
ok "the original value still decrypts"
