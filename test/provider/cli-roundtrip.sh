# SPDX-License-Identifier: Apache-2.0
# The CLI story of DESIGN §3: list, describe, encrypt and decrypt values and files by kms: URI.
source "$(dirname "$0")/../lib.sh"
new_cli_env

ossl list -providers -provider pgkms | grep -q 'pgkms' || fail "provider not listed"
ok "openssl list -providers shows pgkms"

# First use creates the tenant's default key in the keyring file.
[ ! -e "$PGKMS_KEYRING" ] || fail "keyring exists before first use"
ossl storeutl $P -noout -text 'kms:tenant=acme' >"$T/describe"
grep -q '^tenant: acme' "$T/describe" || fail "no tenant in -text output"
grep -q 'state: Enabled' "$T/describe" || fail "no state in -text output"
grep -q 'version 1: keyring file' "$T/describe" || fail "no keyring in -text output"
[ "$(stat -c %a "$PGKMS_KEYRING")" = 600 ] || fail "keyring file is not 0600"
wrapped=$(sed -n 's/.*"wrapped": "\(.*\)".*/\1/p' "$PGKMS_KEYRING")
[ -n "$wrapped" ] && ! grep -qF "$wrapped" "$T/describe" || fail "-text shows key material"
kid=$(sed -n 's/^key: \([0-9a-f-]*\).*/\1/p' "$T/describe")
ok "storeutl -text describes key $kid without key bytes"
ossl storeutl $P -noout -text 'kms:tenant=acme' | grep -q "key: $kid" || fail "key changed"
ok "second use finds the same key"

for size in 0 1 11 4096 1048576; do
    head -c "$size" /dev/urandom >"$T/in"
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/in" -out "$T/in.kms"
    [ "$(stat -c %s "$T/in.kms")" -eq $((size + 48)) ] || fail "overhead is not 48 bytes"
    ossl pkeyutl $P -decrypt -inkey 'kms://tenant=acme' -in "$T/in.kms" -out "$T/out"
    cmp "$T/in" "$T/out" || fail "round trip of $size bytes"
done
ok "values of 0..1 MiB round-trip with 48 bytes of overhead (kms: and kms:// forms)"

# Same plaintext twice: different ciphertexts (randomized), both decrypt.
echo secret >"$T/s"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/s" -out "$T/s1"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/s" -out "$T/s2"
! cmp -s "$T/s1" "$T/s2" || fail "encryption is not randomized"
ok "encryption is randomized"

# Context bound as AAD, not stored.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:users.phone \
    -in "$T/s" -out "$T/c.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:users.phone \
    -in "$T/c.kms" -out "$T/c.out"
cmp "$T/s" "$T/c.out" || fail "context round trip"
ok "a value encrypted with a context decrypts with it"

# Data key wrapping.
head -c 32 /dev/urandom >"$T/dek"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:wrap -in "$T/dek" -out "$T/dek.w"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:wrap -in "$T/dek.w" \
    -out "$T/dek.u"
cmp "$T/dek" "$T/dek.u" || fail "wrap round trip"
ok "kms-op:wrap wraps and unwraps a 32-byte data key"

# 64 MiB, the documented maximum, round-trips.
head -c $((64 * 1024 * 1024)) /dev/urandom >"$T/big"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/big" -out "$T/big.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/big.kms" -out "$T/big.out"
cmp "$T/big" "$T/big.out" || fail "64 MiB round trip"
ok "a 64 MiB file round-trips"
rm -f "$T/big" "$T/big.kms" "$T/big.out"

# Tenants are separate keys in one keyring.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=globex' -in "$T/s" -out "$T/g.kms"
[ "$(grep -c '"tenant"' "$PGKMS_KEYRING")" -eq 2 ] || fail "keyring does not hold two tenants"
ok "a second tenant gets its own key"
