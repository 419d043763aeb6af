# SPDX-License-Identifier: Apache-2.0
# Searchable encryption with the real openssl CLI: deterministic values (kms-op:det), blind
# indexes and pseudonyms reproduce the independent Python vectors; bad arguments are refused.
# (SQL computing the same bytes as the CLI: test/e2e/search-cli.sh.)
source "$(dirname "$0")/../lib.sh"

# A fresh keyring: the first deterministic value creates the default key, like kms.encrypt.
new_cli_env
printf 13812345678 >"$T/phone"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det -in "$T/phone" -out "$T/d1"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det -in "$T/phone" -out "$T/d2"
cmp "$T/d1" "$T/d2" || fail "kms-op:det is not deterministic"
[ "$(stat -c %s "$T/d1")" -eq 47 ] || fail "a deterministic value is not plaintext + 36 bytes"
[ "$(head -c 4 "$T/d1" | xxd -p)" = 8b4b0103 ] || fail "not algorithm 3"
ok "the same input twice gives the same 47 bytes (11 + 36), algorithm 3"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det \
    -pkeyopt kms-context:users.phone -in "$T/phone" -out "$T/dc"
! cmp -s "$T/d1" "$T/dc" || fail "the context does not change a deterministic value"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=globex' -pkeyopt kms-op:det -in "$T/phone" -out "$T/dg"
! cmp -s "$T/d1" "$T/dg" || fail "two tenants give the same deterministic value"
ok "another context or another tenant gives other bytes"

# Deterministic values decrypt like any value (the format names the mode), with their context.
for size in 0 1 15 16 17 4096 65536; do
    head -c "$size" /dev/urandom >"$T/in"
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det -in "$T/in" \
        -out "$T/in.kms"
    [ "$(stat -c %s "$T/in.kms")" -eq $((size + 36)) ] || fail "overhead of $size bytes"
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/in.kms" -out "$T/out"
    cmp "$T/in" "$T/out" || fail "round trip of $size bytes"
done
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det \
    -pkeyopt kms-context:users.phone -in "$T/dc" -out "$T/out"
cmp "$T/phone" "$T/out" || fail "context round trip"
ok "0 B to 64 KiB round-trip through plain -decrypt (and kms-op:det) with 36 bytes of overhead"
expect_fail "a deterministic value with another context" "authentication tag does not match" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:other -in "$T/dc" \
    -out "$T/o"
flip_bit "$T/d1" 20 "$T/bad"
expect_fail "a tampered synthetic IV" "authentication tag does not match" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/bad" -out "$T/o"
{ head -c 19 "$T/d1"; printf '\x01'; tail -c +21 "$T/d1"; } >"$T/bad"
expect_fail "a deterministic value with a data key id" "data key id of a deterministic value" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/bad" -out "$T/o"
expect_fail "another tenant's deterministic value" "belongs to another tenant" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/d1" -out "$T/o"
expect_fail "a deterministic value as a wrapped key" "kms-op" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:wrap -in "$T/d1" -out "$T/o"

# Blind indexes and pseudonyms: lengths, determinism, purposes, tenants.
bi() { ossl pkeyutl $P -encrypt -inkey "kms:tenant=${1}" -pkeyopt kms-op:blind-index "${@:2}" \
    -in "$T/phone" | xxd -p | tr -d '\n'; }
b256=$(bi acme)
[ ${#b256} -eq 64 ] && [ "$(bi acme)" = "$b256" ] || fail "blind index of 256 bits"
[ "$(bi acme -pkeyopt kms-bits:32)" = "${b256:0:8}" ] || fail "32 bits are not a prefix"
[ "$(bi acme -pkeyopt kms-purpose:other)" != "$b256" ] || fail "purpose does not matter"
[ "$(bi globex)" != "$b256" ] || fail "tenant does not matter"
ok "blind index: 256 bits, stable, truncated by kms-bits, per purpose and tenant"
ps=$(ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:pseudonym -in "$T/phone")
[[ $ps =~ ^ps_[a-z2-7]{26}$ ]] || fail "pseudonym text: $ps"
ps2=$(ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:pseudonym \
    -pkeyopt kms-purpose:export -in "$T/phone")
[ "$ps" != "$ps2" ] || fail "pseudonym purpose does not matter"
ok "pseudonym: ps_ and 26 base32 characters, per purpose"

# Arguments.
for bits in 0 24 33 264 abc; do
    expect_fail "kms-bits:$bits" "kms-bits" ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' \
        -pkeyopt kms-op:blind-index -pkeyopt "kms-bits:$bits" -in "$T/phone" -out "$T/o"
done
expect_fail "an empty purpose" "purpose must be 1 to 255 bytes" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:blind-index \
    -pkeyopt kms-purpose: -in "$T/phone" -out "$T/o"
expect_fail "a 256-byte purpose" "purpose must be 1 to 255 bytes" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:pseudonym \
    -pkeyopt "kms-purpose:$(printf 'p%.0s' $(seq 256))" -in "$T/phone" -out "$T/o"
expect_fail "kms-canonical:2" "kms-canonical must be 0 or 1" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:blind-index \
    -pkeyopt kms-canonical:2 -in "$T/phone" -out "$T/o"
expect_fail "an unknown kms-op" "kms-op must be" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:hash -in "$T/phone" \
    -out "$T/o"
for op in blind-index pseudonym; do
    expect_fail "decrypting with kms-op:$op" "has no decryption" \
        ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt "kms-op:$op" -in "$T/d1" \
        -out "$T/o"
done

# The independent Python vectors: deterministic values and blind indexes/pseudonyms.
cp "$ROOT_DIR/test/vectors/format_root.key" "$T/vroot.key"
chmod 600 "$T/vroot.key"
cp "$ROOT_DIR/test/vectors/format_keyring.json" "$T/vkeyring.json"
export PGKMS_ROOT_KEY="file:$T/vroot.key" PGKMS_KEYRING="$T/vkeyring.json"
n=0
while read -r line; do
    case $line in '#'*) continue ;; esac
    kind=$(sed 's/.*kind=\([^ ]*\).*/\1/' <<<"$line")
    purpose=$(sed 's/.* purpose=\([^ ]*\).*/\1/' <<<"$line")
    value=$(sed 's/.* value=\([^ ]*\).*/\1/' <<<"$line")
    expect=$(sed 's/.* out=\([^ ]*\).*/\1/' <<<"$line")
    if [ "$value" = - ]; then : >"$T/v"; else printf '%s' "$value" | xxd -r -p >"$T/v"; fi
    opts=(-pkeyopt "kms-op:$kind" -pkeyopt "hexkms-purpose:$purpose")
    if [ "$kind" = blind ]; then
        opts=(-pkeyopt kms-op:blind-index -pkeyopt "hexkms-purpose:$purpose"
            -pkeyopt "kms-bits:$(sed 's/.* bits=\([^ ]*\).*/\1/' <<<"$line")"
            -pkeyopt "kms-canonical:$(sed 's/.* canonical=\([^ ]*\).*/\1/' <<<"$line")")
        got=$(ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' "${opts[@]}" -in "$T/v" | xxd -p |
            tr -d '\n')
    else
        got=$(ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' "${opts[@]}" -in "$T/v")
    fi
    [ "$got" = "$expect" ] || fail "$kind vector $n: got $got, expected $expect"
    n=$((n + 1))
done <"$ROOT_DIR/test/vectors/search_vectors.txt"
[ $n -ge 11 ] || fail "only $n search vectors"
ok "$n blind index and pseudonym vectors reproduced"
