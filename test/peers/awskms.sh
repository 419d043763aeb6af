# SPDX-License-Identifier: Apache-2.0
# AWS KMS root keyring against a stub that checks every SigV4 signature with botocore's own
# signer, and that botocore's KMS client drives too: CLI round trip, wrong secret, session
# tokens, SQL on an own cluster, revocation (DisableKey, ScheduleKeyDeletion), outage, retries.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/lib/kms.sh"
need_cluster
need_py botocore cryptography
cd "$ROOT_DIR"
c="$T/cluster"
trap 'stop_stub aws; scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT

region=eu-west-1
id=AKIDPGKMSTEST
secret="$(openssl rand -base64 30 | tr -d '\n')"
tmp_id=ASIAPGKMSTEMP
tmp_secret="$(openssl rand -base64 30 | tr -d '\n')"
tmp_token="FQoG$(openssl rand -hex 40)"
printf '%s %s\n%s %s %s\n' "$id" "$secret" "$tmp_id" "$tmp_secret" "$tmp_token" >"$T/stub-creds"
start_stub aws test/peers/awskms_stub.py --region "$region" --credentials "$T/stub-creds" \
    --state "$T/aws.json"
endpoint="http://127.0.0.1:$aws_PORT"
key_id=$(stub_ctl "$aws_PORT" /_stub/key '{"alias": "alias/pgkms-root"}' |
    py -c 'import json,sys; print(json.load(sys.stdin)["KeyId"])')

# botocore's KMS client against the stub: the stub's protocol is KMS's, and its signature check
# accepts botocore's own requests (and refuses them under a wrong secret).
kms_py() {
    py - "$endpoint" "$region" "$id" "$secret" "$key_id" "$@"
}
# kms_op Operation: one call of botocore's client on our key (DisableKey, EnableKey, ...).
kms_op() {
    kms_py "$1" <<'PY'
import re, sys, botocore.session
endpoint, region, akid, secret, key_id, op = sys.argv[1:7]
kms = botocore.session.get_session().create_client("kms", endpoint_url=endpoint,
    region_name=region, aws_access_key_id=akid, aws_secret_access_key=secret)
args = {"PendingWindowInDays": 7} if op == "ScheduleKeyDeletion" else {}
getattr(kms, re.sub(r"(?<!^)([A-Z])", r"_\1", op).lower())(KeyId=key_id, **args)
PY
}
kms_py <<'PY' || fail "botocore against the stub"
import sys, botocore.session, botocore.exceptions
endpoint, region, akid, secret, key_id = sys.argv[1:6]
s = botocore.session.get_session()
kms = s.create_client("kms", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id=akid, aws_secret_access_key=secret)
md = kms.describe_key(KeyId="alias/pgkms-root")["KeyMetadata"]
assert md["KeyId"] == key_id and md["KeyState"] == "Enabled", md
blob = kms.encrypt(KeyId=key_id, Plaintext=b"k" * 32, EncryptionContext={"a": "b"})["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionContext={"a": "b"})["Plaintext"] == b"k" * 32
try:
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "c"})
    raise SystemExit("decrypt in another context succeeded")
except kms.exceptions.InvalidCiphertextException:
    pass
bad = s.create_client("kms", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id=akid, aws_secret_access_key=secret + "x")
try:
    bad.describe_key(KeyId=key_id)
    raise SystemExit("a wrong secret was accepted")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidSignatureException", e.response
PY
ok "botocore: DescribeKey, Encrypt, Decrypt, a refused context and a refused wrong secret"

# 1. The CLI, credentials from the environment.
export AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret PGKMS_KEYRING="$T/keyring.json"
export PGKMS_ROOT_KEY="awskms://$region/$key_id?endpoint=$endpoint"
stub_ctl "$aws_PORT" /_stub/log/clear '{}' >/dev/null
printf 'personal data\n' >"$T/data"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" -out "$T/data.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "CLI round trip through AWS KMS"
stub_ctl "$aws_PORT" /_stub/log >"$T/log.json"
py - "$T/log.json" "$T/keyring.json" "$key_id" <<'PY' || fail "requests or record"
import base64, json, sys
log, ring, key_id = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
ops = [e["headers"]["x-amz-target"] for e in log]
# create; then use and read, each unwrap preceded by a check of the key (DescribeKey)
assert ops == ["TrentService.Encrypt"] + ["TrentService.DescribeKey", "TrentService.Decrypt"] * 2, ops
for e in log:
    assert e["signature"] == "ok", e
log = [e for e in log if e["headers"]["x-amz-target"] != "TrentService.DescribeKey"]
for e in log:
    assert e["signature"] == "ok", e
    assert e["headers"]["content-type"] == "application/x-amz-json-1.1", e["headers"]
    body = json.loads(e["body"])
    assert body["KeyId"] == key_id, body
    assert list(body["EncryptionContext"]) == ["pgkms-aad"], body
    aad = base64.b64decode(body["EncryptionContext"]["pgkms-aad"])
    assert aad.startswith(b"pgkms tmk v1") and b"acme" in aad, aad
v = ring["keys"][0]["versions"][0]
assert v["keyring"] == "awskms", v
PY
ok "openssl pkeyutl round trip; Encrypt and Decrypt signed (botocore agrees), KeyId and pgkms-aad context sent"

AWS_SECRET_ACCESS_KEY="$secret-wrong" expect_fail "a wrong SigV4 secret" \
    "InvalidSignatureException" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
stub_ctl "$aws_PORT" /_stub/log | py -c 'import json,sys; assert json.load(sys.stdin)[-1]["signature"] == "InvalidSignatureException"' ||
    fail "the stub did not refuse the wrong signature"
AWS_ACCESS_KEY_ID=$tmp_id AWS_SECRET_ACCESS_KEY=$tmp_secret AWS_SESSION_TOKEN=$tmp_token \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "session token round trip"
AWS_ACCESS_KEY_ID=$tmp_id AWS_SECRET_ACCESS_KEY=$tmp_secret expect_fail "no session token" \
    "UnrecognizedClientException" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
ok "temporary credentials with AWS_SESSION_TOKEN (signed X-Amz-Security-Token) work"

# The AAD is bound as the EncryptionContext: a wrapped key moved to another record fails.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=globex' -in "$T/data" -out "$T/globex.kms"
py - "$T/keyring.json" "$T/swapped.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
acme = [x for x in k["keys"] if x["tenant"] == "acme"][0]
globex = [x for x in k["keys"] if x["tenant"] == "globex"][0]
globex["versions"][0]["wrapped"] = acme["versions"][0]["wrapped"]
json.dump(k, open(sys.argv[2], "w"))
PY
PGKMS_KEYRING="$T/swapped.json" expect_fail "acme's wrapped key in globex's record" \
    "does not unwrap" ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/globex.kms" \
    -out "$T/x"
# Credentials never come from the URI; a shared credentials file (owner-only) does.
expect_fail "a secret in the URI" "credentials do not belong" \
    env PGKMS_ROOT_KEY="$PGKMS_ROOT_KEY&secret_access_key=$secret" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
printf '[pgkms]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$id" "$secret" \
    >"$T/credentials"
chmod 600 "$T/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    PGKMS_ROOT_KEY="$PGKMS_ROOT_KEY&credentials_file=$T/credentials&profile=pgkms" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "credentials file round trip"
ok "credentials_file= with profile= works; secrets in the URI are refused"

# 2. SQL on a cluster of our own; the server reads a credentials file it owns.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
ttl=4
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$id" "$secret" \
    >"$T/server-creds.src"
server_file "$T/server-creds.src" "$T/server-creds"
root="awskms://$region/alias/pgkms-root?endpoint=$endpoint&credentials_file=$T/server-creds"
root="$root&connect_timeout_ms=500&timeout_ms=1000&retries=2&holddown_ms=1000"
own_cluster "$c" "$root" "$ttl"
sql -c "CREATE TABLE t (id int, v kms.encrypted)"
sql -c "INSERT INTO t VALUES (1, kms.encrypt('aws protected', 'acme'))"
[ "$(sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt(v) FROM t")" = 'aws protected' ] ||
    fail "SQL round trip"
[ "$(sql -c "SELECT DISTINCT keyring FROM kms.key_versions")" = awskms ] || fail "keyring column"
ok "SQL: kms.root_key = awskms://..., credentials_file owned by the server; encrypt/decrypt"

q="SELECT kms.decrypt(v) FROM t;"
open_session 3
ask 3 "SET kms.tenant = 'acme';" >/dev/null
ask 3 "\\set VERBOSITY verbose" >/dev/null
[ "$(ask 3 "$q")" = 'aws protected' ] || fail "session 3"

# 3. Revocation: DisableKey ends every session within the TTL; EnableKey brings them back.
kms_op DisableKey
t_dis=$(now_ms)
poll 3 "$q" '^ERROR:  58000' $((ttl + 3)) >/dev/null
sed -n 1p "$T/poll.last"
elapsed=$(($(now_ms) - t_dis))
grep -qi "AWS KMS keyring awskms://$region/alias/pgkms-root: .*disabled" "$T/poll.last" ||
    fail "disabled: $(cat "$T/poll.last")"
[ "$elapsed" -le $(((ttl + 2) * 1000)) ] || fail "revocation took $elapsed ms (TTL ${ttl}s)"
ok "DisableKey: 58000 naming the keyring in the open session after $elapsed ms (TTL ${ttl}s)"
kms_op EnableKey
ms=$(poll 3 "$q" '^aws protected$' 5)
ok "EnableKey: the same session decrypts again after $ms ms"

# 4. Outage: cached keys work until the TTL, then 58000; the stub's return is noticed by itself.
stop_stub aws
t_stop=$(now_ms)
[ "$(ask 3 "$q")" = 'aws protected' ] || fail "the cached key failed at once in an outage"
poll 3 "$q" '^ERROR:  58000' $((ttl + 5)) >/dev/null
sed -n 1p "$T/poll.last"
grep -q "AWS KMS keyring awskms://$region/alias/pgkms-root" "$T/poll.last" ||
    fail "the error does not name the keyring: $(cat "$T/poll.last")"
! grep -qF "$secret" "$T/poll.last" || fail "the secret appears in a message"
ok "outage: cached key kept working, 58000 naming the keyring $(($(now_ms) - t_stop)) ms after the stop (TTL ${ttl}s)"
start_stub aws test/peers/awskms_stub.py --port "$aws_PORT" --region "$region" \
    --credentials "$T/stub-creds" --state "$T/aws.json"
ms=$(poll 3 "$q" '^aws protected$' 10)
ok "stub restarted: the same session recovered by itself after $ms ms (hold-down 1000 ms)"

# 5. Retries: throttling (400 ThrottlingException) and 503 are retried; AccessDenied is not.
stub_ctl "$aws_PORT" /_stub/log/clear '{}' >/dev/null
stub_ctl "$aws_PORT" /_stub/fail '{"count": 2, "status": 400, "type": "ThrottlingException"}' \
    >/dev/null
timed sql -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" || fail "throttled: $(cat "$T/out")"
[ "$(cat "$T/out")" = 'aws protected' ] || fail "after retries: $(cat "$T/out")"
n=$(stub_ctl "$aws_PORT" /_stub/log | py -c 'import json,sys; print(len(json.load(sys.stdin)))')
# The keyring is checked (DescribeKey) before the unwrap (Decrypt): 2 throttled, then 2 answers.
[ "$n" = 4 ] || fail "$n requests for throttled, throttled, ok, ok"
ok "ThrottlingException twice, then success on the third attempt in $(cat "$T/timed.ms") ms"
stub_ctl "$aws_PORT" /_stub/fail '{"count": 1, "status": 503}' >/dev/null
[ "$(sql -c "SET kms.tenant = 'acme'" -c "$q")" = 'aws protected' ] || fail "after a 503"
stub_ctl "$aws_PORT" /_stub/log/clear '{}' >/dev/null
stub_ctl "$aws_PORT" /_stub/fail '{"count": 1, "status": 400, "type": "AccessDeniedException"}' \
    >/dev/null
psql -XAtq -v VERBOSITY=verbose -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" 2>&1 &&
    fail "AccessDenied succeeded"
# The first request of an unwrap is the key check (DescribeKey), refused here.
grep -q '58000: AWS KMS keyring .*DescribeKey refused: AccessDeniedException' "$T/out" ||
    fail "denied: $(cat "$T/out")"
grep ERROR "$T/out"
n=$(stub_ctl "$aws_PORT" /_stub/log | py -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] || fail "AccessDenied was retried ($n requests)"
ok "AccessDeniedException: one request, no retry, 58000"

# 6. Scheduled deletion of the KMS key: within the TTL no session can decrypt.
[ "$(ask 3 "$q")" = 'aws protected' ] || fail "session 3 before the deletion"
kms_op ScheduleKeyDeletion
t_del=$(now_ms)
poll 3 "$q" '^ERROR:  58000' $((ttl + 3)) >/dev/null
sed -n 1p "$T/poll.last"
elapsed=$(($(now_ms) - t_del))
grep -qi "pending.*deletion" "$T/poll.last" || fail "deletion: $(cat "$T/poll.last")"
sql -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" 2>&1 && fail "a new session decrypted"
ok "ScheduleKeyDeletion: 58000 in the open session after $elapsed ms (TTL ${ttl}s), at once in a new one"
exec 3>&-
