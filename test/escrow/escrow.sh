# SPDX-License-Identifier: Apache-2.0
# Escrow of the file root (docs/escrow.md): Shamir shares with pgkms-escrow, RSA-OAEP with plain
# openssl, and a recovered root decrypting what the CLI encrypted under the deleted original.
source "$(dirname "$0")/../lib.sh"
ESCROW=${PGKMS_ESCROW:-$ROOT_DIR/build/pgkms-escrow}
[ -x "$ESCROW" ] || fail "$ESCROW is not built (make tools)"
# Under $CHECKER like every openssl call, or alone under $ESCROW_CHECKER (run-all.sh).
escrow() { ${ESCROW_CHECKER:-${CHECKER:-}} "$ESCROW" "$@"; }
new_cli_env
cd "$T"

# Root id of a root key file, computed with plain openssl from docs/format.md §2.
root_id() {
    printf 'pgkms root id v1' | openssl mac -digest SHA256 -macopt "hexkey:$(head -c 64 "$1")" HMAC |
        tr 'A-F' 'a-f' | cut -c1-16
}
# no_key_in FILE...: the root key's hex (either case) appears in none of them.
no_key_in() {
    local hex
    hex=$(head -c 64 root.key)
    ! grep -qiF "$hex" "$@" || fail "the root key appears in $*"
}
# combine_fails "what" "pattern" OUT < shares: refused, with pattern, and OUT not created.
combine_fails() {
    local what=$1 pattern=$2 out=$3
    expect_fail "$what" "$pattern" escrow combine -o "$out"
    [ ! -e "$out" ] || fail "$what: $out was created"
    no_key_in "$T/out" "$T/err"
}

# --- the root id -------------------------------------------------------------------------
id=$(escrow id -k root.key)
[ "$id" = "$(root_id root.key)" ] || fail "root id $id differs from openssl mac's"
ok "pgkms-escrow id prints the root id ($id), as computed by openssl mac"
chmod 640 root.key
expect_fail "id of a root file readable by its group" "run chmod 600" escrow id -k root.key
chmod 600 root.key

# --- Shamir 3-of-5 -----------------------------------------------------------------------
escrow split -k root.key -n 3 -m 5 >shares 2>split.err
[ "$(wc -l <shares)" -eq 5 ] && [ ! -s split.err ] || fail "split did not print 5 lines only"
for i in 1 2 3 4 5; do
    sed -n "${i}p" shares | grep -qE "^pgkms-share-v1:$id:3:$i:[0-9a-f]{64}:[0-9a-f]{8}\$" ||
        fail "share $i is not in the documented form"
    sed -n "${i}p" shares >"share$i"
done
no_key_in shares split.err
ok "split -n 3 -m 5 prints 5 shares of root $id, without the key"

cat share1 share3 share5 | escrow combine -o rec135.key >combine.out
# Another order, with the blank lines, comments, indentation and CRLFs of pasted text.
{ echo "# custodians 5, 2 and 4"; sed 's/$/\r/' share5; echo; echo "   $(cat share2)"
  printf '\t%s  \n' "$(cat share4)"; } | escrow combine -o rec245.key >>combine.out
[ "$(cat combine.out)" = "$id"$'\n'"$id" ] || fail "combine did not print the root id twice"
cmp root.key rec135.key && cmp root.key rec245.key || fail "recovered files differ from the root"
[ "$(stat -c %a rec135.key)" = 600 ] && [ "$(stat -c %a rec245.key)" = 600 ] ||
    fail "a recovered root key file is not 0600"
[ "$(escrow id -k rec245.key)" = "$id" ] || fail "id of the recovered file"
ok "shares {1,3,5} and {2,4,5} recover the same 0600 root key file and root id"
cat shares | escrow combine -o rec-all.key >/dev/null && cmp root.key rec-all.key ||
    fail "all five shares"
ok "all five shares recover it too"

# --- refusals ----------------------------------------------------------------------------
cat share2 share4 | combine_fails "two shares of a 3-of-5" "needs 3 shares, only 2 given" r.key
: | combine_fails "no shares" "no shares given" r.key
cat share1 share3 share3 | combine_fails "a share given twice" "share 3 is given twice" r.key
# typo FILE OFFSET: the line with the character at OFFSET replaced by another hex digit.
typo() {
    local s r=0
    s=$(cat "$1")
    [ "${s:$2:1}" != 0 ] || r=1
    printf '%s\n' "${s:0:$2}$r${s:$(($2 + 1))}"
}
typo share1 46 >typo1 # a digit of the value (which starts at offset 36)
cmp -s share1 typo1 && fail "the typo did not change share 1"
cat typo1 share3 share5 | combine_fails "a typo in a share's value" \
    "line 1: share does not match its check: it was mistyped or altered" r.key
sed 's/:3:3:/:3:4:/' share3 | cat share1 - share5 |
    combine_fails "a typo in a share's index" "line 2: share does not match its check" r.key
cut -c1-100 share3 | cat share1 - share5 | combine_fails "a truncated share" "line 2:" r.key
(umask 077; openssl rand -hex 32 >other.key)
escrow split -k other.key -n 3 -m 5 >other.shares
other_id=$(escrow id -k other.key)
{ cat share1 share3; sed -n 5p other.shares; } |
    combine_fails "a share of another root" "share 1 is of root key $id, share 5 of root key $other_id" r.key
escrow split -k root.key -n 3 -m 5 >again.shares
{ cat share1 share3; sed -n 5p again.shares; } |
    combine_fails "a share of another split of the same root" "do not recombine to root key $id" r.key
escrow split -k root.key -n 2 -m 5 >two.shares
{ cat share1 share3; sed -n 5p two.shares; } |
    combine_fails "shares of a 3-of-5 and a 2-of-5 split" "shares of two splits are mixed" r.key
echo "not a share" | combine_fails "a line that is not a share" "line 1: not a pgkms share" r.key
cp rec135.key before
cat share2 share4 share5 | expect_fail "an existing output file" "already exists; it is never replaced" \
    escrow combine -o rec135.key
cmp before rec135.key || fail "the existing file was changed"
expect_fail "split with a threshold above the share count" "from 3 (the threshold) to 255" \
    escrow split -k root.key -n 3 -m 2
expect_fail "split with a threshold of 1" "from 2 to 255" escrow split -k root.key -n 1 -m 3
expect_fail "an unknown command" "unknown command" escrow frobnicate
set +e
escrow split -k root.key -n 1 -m 3 >/dev/null 2>&1
[ $? -eq 2 ] || fail "a usage error does not exit 2"
cat share1 | escrow combine -o r.key >/dev/null 2>&1
[ $? -eq 1 ] || fail "a refused combine does not exit 1"
set -e
ok "exit status 2 for usage errors, 1 for refusals"

# --- RSA escrow with plain openssl (docs/escrow.md) ---------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -aes-256-cbc -pass pass:custodian \
    -out escrow_priv.pem 2>/dev/null
openssl pkey -in escrow_priv.pem -passin pass:custodian -pubout -out escrow_pub.pem
openssl pkeyutl -encrypt -pubin -inkey escrow_pub.pem -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in root.key -out root.key.escrow
[ "$(stat -c %s root.key.escrow)" -eq 384 ] || fail "the escrow blob is not one RSA-3072 block"
no_key_in root.key.escrow
mkdir recovery
(
    cd recovery
    umask 022 # as careless as a default shell: the decrypted file is refused until chmod 600
    openssl pkeyutl -decrypt -inkey ../escrow_priv.pem -passin pass:custodian \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
        -in ../root.key.escrow -out root.key
    expect_fail "a decrypted root key file before chmod 600" "run chmod 600" escrow id -k root.key
    chmod 600 root.key
    [ "$(escrow id -k root.key)" = "$id" ] || fail "the RSA-recovered root has another id"
)
cmp root.key recovery/root.key || fail "RSA round trip"
ok "root.key escrowed to an RSA-3072 public key decrypts with openssl pkeyutl to root $id"
# Standard OAEP (SHA-256, MGF1-SHA-256): any RSA implementation, an HSM included, recovers it.
# (Python's OpenSSL must not look for its legacy provider in build/provider.)
py() { env -u OPENSSL_MODULES /usr/bin/python3 "$@"; }
if py -c 'import cryptography' 2>/dev/null; then
    py - root.key.escrow escrow_priv.pem root.key <<'EOF' || fail "OAEP check"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
blob, pem, root = (open(p, "rb").read() for p in sys.argv[1:])
key = serialization.load_pem_private_key(pem, b"custodian")
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
assert key.decrypt(blob, oaep) == root
EOF
    ok "the escrow blob is RSAES-OAEP with SHA-256 and MGF1-SHA-256 (checked with Python)"
else
    echo "skip: no python3-cryptography, the OAEP parameters are not checked independently"
fi
expect_fail "the escrow blob under another private key" "" \
    openssl pkeyutl -decrypt -inkey <(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
        2>/dev/null) -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -in root.key.escrow -out wrong.key

# --- disaster recovery: the original root is gone -----------------------------------------
printf 'Ada Lovelace, 13812345678' >value
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in value -out value.kms
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:customers.phone \
    -in value -out value-ctx.kms
ossl storeutl $P -noout -text 'kms:tenant=acme' | grep -q "version 1: keyring file, root $id" ||
    fail "the keyring does not name root $id"
rm -f root.key rec135.key rec245.key rec-all.key before
expect_fail "decrypting without the root" "could not open root key file" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in value.kms -out out
cat share5 share2 share3 | escrow combine -o "$T/dr.key" >/dev/null
export PGKMS_ROOT_KEY="file:$T/dr.key"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in value.kms -out out
cmp value out || fail "value decrypted under the recovered root"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:customers.phone \
    -in value-ctx.kms -out out-ctx
cmp value out-ctx || fail "value with a context decrypted under the recovered root"
ok "values encrypted by the CLI decrypt with the root recovered from shares {5,2,3}"
export PGKMS_ROOT_KEY="file:$T/recovery/root.key"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in value.kms -out out2
cmp value out2 || fail "value decrypted under the RSA-recovered root"
ok "and with the root recovered from the RSA escrow"
export PGKMS_ROOT_KEY="file:$T/other.key"
expect_fail "another root" "is wrapped under root key $id" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in value.kms -out out3
