# SPDX-License-Identifier: Apache-2.0
# The CLI reads the format test vectors (written by an independent Python implementation), and
# reproduces the deterministic ones.
source "$(dirname "$0")/../lib.sh"

cp "$ROOT_DIR/test/vectors/format_root.key" "$T/root.key"
chmod 600 "$T/root.key"
cp "$ROOT_DIR/test/vectors/format_keyring.json" "$T/keyring.json"
export PGKMS_ROOT_KEY="file:$T/root.key" PGKMS_KEYRING="$T/keyring.json"
n=0
while read -r line; do
    case $line in '#'*) continue ;; esac
    name=$(sed 's/.*name=\([^ ]*\).*/\1/' <<<"$line")
    alg=$(sed 's/.* alg=\([^ ]*\).*/\1/' <<<"$line")
    ctx=$(sed 's/.* context=\([^ ]*\).*/\1/' <<<"$line")
    pt=$(sed 's/.* pt=\([^ ]*\).*/\1/' <<<"$line")
    value=$(sed 's/.* value=\([^ ]*\).*/\1/' <<<"$line")
    opts=()
    [ "$ctx" = - ] || opts+=(-pkeyopt "hexkms-context:$ctx")
    [ "$alg" = 2 ] && opts+=(-pkeyopt kms-op:wrap)
    printf '%s' "$value" | xxd -r -p >"$T/v"
    if [ "$pt" = - ]; then : >"$T/expect"; else printf '%s' "$pt" | xxd -r -p >"$T/expect"; fi
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' "${opts[@]}" -in "$T/v" -out "$T/got"
    cmp "$T/expect" "$T/got" || fail "vector $name"
    if [ "$alg" = 3 ]; then
        # Deterministic: encrypting the plaintext again gives exactly the vector's bytes.
        ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-op:det "${opts[@]}" \
            -in "$T/expect" -out "$T/again"
        cmp "$T/v" "$T/again" || fail "vector $name: kms-op:det gives other bytes"
    fi
    ok "vector $name"
    n=$((n + 1))
done <"$ROOT_DIR/test/vectors/format_vectors.txt"
[ $n -ge 12 ] || fail "only $n vectors"
