/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS KMS root. The root key is a symmetric KMS key that never leaves AWS: wrap is
 * TrentService.Encrypt, unwrap is TrentService.Decrypt (with the KeyId, so a blob of another
 * key is refused), and the wrapped bytes are the CiphertextBlob. The AAD is bound as the
 * EncryptionContext {"pgkms-aad": base64(AAD)}: KMS authenticates it, a blob moved to another
 * tenant key record does not decrypt, and CloudTrail logs it (tenant and key id, no secret).
 * refresh is DescribeKey, so a disabled key, a key pending deletion or withdrawn permissions
 * end cached tenant keys within their TTL. Requests are signed with SigV4 (sigv4.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>

#include "pgkms/codec.h"
#include "pgkms/credential.h"
#include "pgkms/http.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_kms.h"
#include "pgkms/secmem.h"
#include "pgkms/sigv4.h"

#define LABEL_MAX    160
#define URL_MAX      320
#define KEY_ID_MAX   256
#define AAD_B64MAX   1024
#define CONTEXT_KEY  "pgkms-aad"
#define CONTENT_TYPE "application/x-amz-json-1.1"

static const char ID_LABEL[] = "pgkms root id awskms v1";

typedef struct aws_state {
    pgkms_http *http;
    OSSL_LIB_CTX *libctx;
    char label[LABEL_MAX];
    char region[64];
    char key_id[KEY_ID_MAX + 1];
    char url[URL_MAX];
    char host[300];         /* Host header, signed */
    char *credentials_file; /* NULL: the environment, then the shared credentials file */
    char *profile;
    int from_file; /* credentials come from a file: read it again on refresh */
    char *file_used;
    pgkms_secret access_key, secret_key, session_token;
} aws_state;

static void clear_credentials(aws_state *as)
{
    pgkms_secret_clear(&as->access_key);
    pgkms_secret_clear(&as->secret_key);
    pgkms_secret_clear(&as->session_token);
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* The [profile] section of a shared credentials file (INI), parsed in its secure copy. */
static pgkms_code read_credentials_file(aws_state *as, const char *path, pgkms_status *st)
{
    pgkms_secret file;
    char *line, *next;
    int in_profile = 0;
    pgkms_code rc;

    rc = pgkms_secret_read_file(path, PGKMS_CREDENTIAL_FILE_MAX, "AWS credentials file", &file, st);
    if (rc != PGKMS_OK) {
        char detail[PGKMS_DETAIL_MAX];

        snprintf(detail, sizeof(detail), "%s", st != NULL ? st->detail : "");
        return pgkms_fail(st, rc, "%s: %s", as->label, detail);
    }
    for (line = file.data; rc == PGKMS_OK && line != NULL; line = next) {
        char *eq, *name, *value;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        line = trim(line);
        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            char *end = strchr(line, ']');

            if (end != NULL)
                *end = '\0';
            in_profile = strcmp(trim(line + 1), as->profile) == 0;
            continue;
        }
        if (!in_profile || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        name = trim(line);
        value = trim(eq + 1);
        if (strcmp(name, "aws_access_key_id") == 0)
            rc = pgkms_secret_set(&as->access_key, value, strlen(value), st);
        else if (strcmp(name, "aws_secret_access_key") == 0)
            rc = pgkms_secret_set(&as->secret_key, value, strlen(value), st);
        else if (strcmp(name, "aws_session_token") == 0)
            rc = pgkms_secret_set(&as->session_token, value, strlen(value), st);
    }
    pgkms_secret_clear(&file);
    if (rc == PGKMS_OK && (as->access_key.len == 0 || as->secret_key.len == 0))
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "%s: profile [%s] of \"%s\" has no aws_access_key_id and "
                        "aws_secret_access_key",
                        as->label, as->profile, path);
    return rc;
}

static pgkms_code load_credentials(aws_state *as, pgkms_status *st)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN"),
               *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    char path[1024];
    struct stat sb;
    pgkms_code rc = PGKMS_OK;

    clear_credentials(as);
    free(as->file_used);
    as->file_used = NULL;
    as->from_file = 0;
    if (as->credentials_file != NULL) {
        snprintf(path, sizeof(path), "%s", as->credentials_file);
        as->from_file = 1;
    } else if (id != NULL && id[0] != '\0' && secret != NULL && secret[0] != '\0') {
        rc = pgkms_secret_set(&as->access_key, id, strlen(id), st);
        if (rc == PGKMS_OK)
            rc = pgkms_secret_set(&as->secret_key, secret, strlen(secret), st);
        if (rc == PGKMS_OK && token != NULL && token[0] != '\0')
            rc = pgkms_secret_set(&as->session_token, token, strlen(token), st);
    } else if (shared != NULL && shared[0] == '/') {
        snprintf(path, sizeof(path), "%s", shared);
        as->from_file = 1;
    } else if (home != NULL && home[0] == '/' &&
               snprintf(path, sizeof(path), "%s/.aws/credentials", home) < (int)sizeof(path) &&
               stat(path, &sb) == 0) {
        as->from_file = 1;
    } else {
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: no AWS credentials: set AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY, or credentials_file=/path in the URI",
                          as->label);
    }
    if (as->from_file) {
        if ((as->file_used = strdup(path)) == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        rc = read_credentials_file(as, path, st);
    }
    if (rc != PGKMS_OK)
        return rc;
    if (!pgkms_secret_is_token(as->access_key.data, as->access_key.len) ||
        !pgkms_secret_is_token(as->secret_key.data, as->secret_key.len) ||
        (as->session_token.len > 0 &&
         !pgkms_secret_is_token(as->session_token.data, as->session_token.len))) {
        clear_credentials(as);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the AWS credentials contain spaces or control characters",
                          as->label);
    }
    return PGKMS_OK;
}

pgkms_code pgkms_awskms_error(long status, const json_t *answer, const char *label, const char *op,
                              pgkms_status *st)
{
    const char *type = json_string_value(json_object_get(answer, "__type"));
    const char *msg = json_string_value(json_object_get(answer, "message"));
    char t[80], m[120];

    if (msg == NULL)
        msg = json_string_value(json_object_get(answer, "Message"));
    if (type != NULL && strchr(type, '#') != NULL)
        type = strchr(type, '#') + 1; /* "com.amazonaws.kms#NotFoundException" */
    pgkms_http_sanitize(type, t, sizeof(t));
    pgkms_http_sanitize(msg, m, sizeof(m));
    if (strcmp(t, "InvalidCiphertextException") == 0 || strcmp(t, "IncorrectKeyException") == 0)
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                          "%s: %s: the wrapped key does not decrypt with this key and context "
                          "(%s)",
                          label, op, t);
    if (t[0] == '\0')
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s refused (HTTP %ld)", label, op,
                          status);
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s refused: %s%s%s", label, op, t,
                      m[0] ? ": " : "", m);
}

/* AWS throttles with 400 ThrottlingException: worth a retry like a 429. */
static int throttled(const pgkms_http_response *resp, void *arg)
{
    const char *type = json_string_value(json_object_get(resp->json, "__type"));

    (void)arg;
    if (type != NULL && strchr(type, '#') != NULL)
        type = strchr(type, '#') + 1;
    return resp->status == 400 && type != NULL && strcmp(type, "ThrottlingException") == 0;
}

static pgkms_code aws_call(aws_state *as, const char *op, const json_t *body,
                           pgkms_http_response *resp, pgkms_status *st)
{
    char target[64], date[PGKMS_SIGV4_DATE_LEN + 1], auth[PGKMS_SIGV4_AUTH_MAX];
    int token = as->session_token.len > 0;
    pgkms_sigv4_header sh[5] = {{"content-type", CONTENT_TYPE},
                                {"host", as->host},
                                {"x-amz-date", date},
                                {"x-amz-target", target},
                                {"x-amz-security-token", as->session_token.data}};
    pgkms_http_header hh[7] = {{"Host", as->host},
                               {"Content-Type", CONTENT_TYPE},
                               {"X-Amz-Date", date},
                               {"X-Amz-Target", target},
                               {"Authorization", auth},
                               {"Expect", ""},
                               {"X-Amz-Security-Token", as->session_token.data}};
    pgkms_sigv4_request sr;
    pgkms_http_request req;
    size_t len = 0;
    char *text = pgkms_json_dump_secret(body, &len);
    pgkms_code rc;

    memset(resp, 0, sizeof(*resp));
    if (text == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    snprintf(target, sizeof(target), "TrentService.%s", op);
    pgkms_sigv4_date((long long)time(NULL), date);
    memset(&sr, 0, sizeof(sr));
    sr.method = "POST";
    sr.path = "/";
    sr.query = "";
    sr.headers = sh;
    sr.nheaders = token ? 5 : 4;
    sr.body = (const uint8_t *)text;
    sr.body_len = len;
    sr.amz_date = date;
    sr.region = as->region;
    sr.service = "kms";
    rc = pgkms_sigv4_authorization(as->libctx, &sr, as->access_key.data, as->secret_key.data, auth,
                                   sizeof(auth), NULL, st);
    if (rc == PGKMS_OK) {
        memset(&req, 0, sizeof(req));
        req.method = "POST";
        req.url = as->url;
        req.headers = hh;
        req.nheaders = token ? 7 : 6;
        req.body = text;
        req.body_len = len;
        req.retryable = throttled;
        rc = pgkms_http_send(as->http, &req, resp, st);
    }
    pgkms_http_secret_free(text, len);
    if (rc == PGKMS_E_LIMIT)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s: answer too large", as->label, op);
    if (rc != PGKMS_OK)
        return rc;
    if (resp->status != 200)
        return pgkms_awskms_error(resp->status, resp->json, as->label, op, st);
    if (!json_is_object(resp->json))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s: the answer is not a JSON object",
                          as->label, op);
    return PGKMS_OK;
}

pgkms_code pgkms_awskms_parse_ciphertext(const json_t *answer, const char *label, uint8_t *out,
                                         size_t *out_len, pgkms_status *st)
{
    const char *blob = json_string_value(json_object_get(answer, "CiphertextBlob"));

    if (blob == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed Encrypt answer: no CiphertextBlob string", label);
    if (pgkms_base64_decode(blob, strlen(blob), out, PGKMS_WRAPPED_MAX, out_len, NULL) !=
            PGKMS_OK ||
        *out_len == 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed Encrypt answer: CiphertextBlob is not base64 of 1 to %d "
                          "bytes",
                          label, PGKMS_WRAPPED_MAX);
    return PGKMS_OK;
}

pgkms_code pgkms_awskms_parse_plaintext(const json_t *answer, const char *label, uint8_t *key,
                                        size_t key_len, pgkms_status *st)
{
    const char *pt = json_string_value(json_object_get(answer, "Plaintext"));
    uint8_t *buf;
    size_t got = 0;
    pgkms_code rc;

    if (pt == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed Decrypt answer: no Plaintext string", label);
    if ((buf = pgkms_secure_alloc(key_len + 3)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = pgkms_base64_decode(pt, strlen(pt), buf, key_len + 3, &got, NULL);
    if (rc == PGKMS_OK && got == key_len)
        memcpy(key, buf, key_len);
    pgkms_secure_free(buf, key_len + 3);
    if (rc != PGKMS_OK || got != key_len)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed Decrypt answer: Plaintext is not base64 of %zu bytes",
                          label, key_len);
    return PGKMS_OK;
}

pgkms_code pgkms_awskms_parse_key(const json_t *answer, const char *label, pgkms_status *st)
{
    const json_t *md = json_object_get(answer, "KeyMetadata");
    const char *state = json_string_value(json_object_get(md, "KeyState"));
    const char *usage = json_string_value(json_object_get(md, "KeyUsage"));
    const char *spec = json_string_value(json_object_get(md, "KeySpec"));
    const json_t *enabled = json_object_get(md, "Enabled");
    char s[40];

    if (!json_is_object(md) || state == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed DescribeKey answer: no KeyMetadata.KeyState", label);
    if (strcmp(state, "Enabled") != 0 || (enabled != NULL && !json_is_true(enabled))) {
        pgkms_http_sanitize(state, s, sizeof(s));
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: the KMS key is %s, not Enabled", label,
                          s);
    }
    if ((usage != NULL && strcmp(usage, "ENCRYPT_DECRYPT") != 0) ||
        (spec != NULL && strcmp(spec, "SYMMETRIC_DEFAULT") != 0))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the KMS key must be a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT",
                          label);
    return PGKMS_OK;
}

static json_t *context_of(const uint8_t *aad, size_t aad_len)
{
    char b64[AAD_B64MAX];

    if (pgkms_base64_len(aad_len) >= sizeof(b64))
        return NULL;
    pgkms_base64_encode(aad, aad_len, b64);
    return json_pack("{s:s}", CONTEXT_KEY, b64);
}

static pgkms_code aws_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len, const uint8_t *key,
                           size_t key_len, uint8_t *out, size_t *out_len, pgkms_status *st)
{
    aws_state *as = root->state;
    size_t pt_cap = pgkms_base64_len(key_len) + 1;
    char *pt = pgkms_secure_alloc(pt_cap);
    json_t *ctx = context_of(aad, aad_len), *body = NULL;
    pgkms_http_response r;
    pgkms_code rc;

    memset(&r, 0, sizeof(r));
    if (pt != NULL && ctx != NULL) {
        pgkms_base64_encode(key, key_len, pt);
        body = json_pack("{s:s, s:s, s:O}", "KeyId", as->key_id, "Plaintext", pt,
                         "EncryptionContext", ctx);
    }
    if (body == NULL)
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    else
        rc = aws_call(as, "Encrypt", body, &r, st);
    if (rc == PGKMS_OK)
        rc = pgkms_awskms_parse_ciphertext(r.json, as->label, out, out_len, st);
    pgkms_json_wipe_free(body);
    json_decref(ctx);
    pgkms_secure_free(pt, pt_cap);
    pgkms_http_response_free(&r);
    return rc;
}

static pgkms_code aws_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                             const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                             pgkms_status *st)
{
    aws_state *as = root->state;
    char blob[((PGKMS_WRAPPED_MAX + 2) / 3) * 4 + 1];
    json_t *ctx = context_of(aad, aad_len), *body = NULL;
    pgkms_http_response r;
    pgkms_code rc;

    memset(&r, 0, sizeof(r));
    if (in_len == 0 || in_len > PGKMS_WRAPPED_MAX) {
        json_decref(ctx);
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "%s: wrapped key of %zu bytes", as->label,
                          in_len);
    }
    pgkms_base64_encode(in, in_len, blob);
    if (ctx != NULL)
        body = json_pack("{s:s, s:s, s:O}", "CiphertextBlob", blob, "KeyId", as->key_id,
                         "EncryptionContext", ctx);
    if (body == NULL)
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    else
        rc = aws_call(as, "Decrypt", body, &r, st);
    if (rc == PGKMS_OK)
        rc = pgkms_awskms_parse_plaintext(r.json, as->label, key, key_len, st);
    json_decref(body);
    json_decref(ctx);
    pgkms_http_response_free(&r);
    return rc;
}

/* Credential files are read again (they are rotated); then the key must be usable. */
static pgkms_code aws_refresh(pgkms_root *root, pgkms_status *st)
{
    aws_state *as = root->state;
    pgkms_http_response r;
    json_t *body;
    pgkms_code rc = PGKMS_OK;

    if (as->from_file)
        rc = load_credentials(as, st);
    if (rc != PGKMS_OK)
        return rc;
    if ((body = json_pack("{s:s}", "KeyId", as->key_id)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = aws_call(as, "DescribeKey", body, &r, st);
    if (rc == PGKMS_OK)
        rc = pgkms_awskms_parse_key(r.json, as->label, st);
    json_decref(body);
    pgkms_http_response_free(&r);
    return rc;
}

static void aws_close(pgkms_root *root)
{
    aws_state *as = root->state;

    if (as == NULL)
        return;
    pgkms_http_free(as->http);
    clear_credentials(as);
    free(as->credentials_file);
    free(as->profile);
    free(as->file_used);
    free(as);
    root->state = NULL;
}

static const pgkms_root_ops aws_ops = {"awskms", aws_wrap, aws_unwrap, aws_refresh, aws_close};

/* The id names the key, not a secret: H(label || region || key id); the endpoint is left out. */
static pgkms_code aws_id(pgkms_root *root, const aws_state *as, pgkms_status *st)
{
    const char *parts[] = {ID_LABEL, as->region, as->key_id};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_MD *sha = EVP_MD_fetch(root->libctx, "SHA256", NULL);
    uint8_t digest[32];
    int ok = md != NULL && sha != NULL && EVP_DigestInit_ex(md, sha, NULL);

    for (size_t i = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++)
        ok = EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1);
    ok = ok && EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    EVP_MD_free(sha);
    if (!ok)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "SHA-256 is not available");
    memcpy(root->id, digest, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

static int region_ok(const char *r)
{
    size_t n = strlen(r);

    if (n == 0 || n >= 64 || r[0] == '-' || r[n - 1] == '-')
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return 0;
    return 1;
}

/* A key id, key ARN, alias/<name> or alias ARN; an ARN's region must be the URI's. */
static pgkms_code check_key_id(const char *id, const char *region, pgkms_status *st)
{
    size_t n = strlen(id);

    if (n == 0 || n > KEY_ID_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "an AWS KMS keyring URI names a key: awskms://<region>/<key id or ARN>");
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == ':' || *p == '/'))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid AWS KMS key id \"%.64s\"", id);
    if (strncmp(id, "arn:", 4) == 0) {
        /* arn:<partition>:kms:<region>:<account>:key/<id> */
        const char *f = id;
        size_t rlen;

        for (int i = 0; i < 3 && f != NULL; i++)
            f = strchr(f, ':') != NULL ? strchr(f, ':') + 1 : NULL;
        rlen = f != NULL ? strcspn(f, ":") : 0;
        if (f == NULL || strncmp(id, "arn:", 4) != 0 || strstr(id, ":kms:") == NULL ||
            f[rlen] != ':')
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "malformed AWS KMS key ARN \"%.64s\"",
                              id);
        if (rlen != strlen(region) || strncmp(f, region, rlen) != 0)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "the key ARN is in region %.*s, but the URI names region %s",
                              (int)rlen, f, region);
    } else if (strchr(id, ':') != NULL) {
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid AWS KMS key id \"%.64s\"", id);
    }
    return PGKMS_OK;
}

/* https://kms.<region>.amazonaws.com, or the endpoint option (https, or http to loopback). */
static pgkms_code set_endpoint(aws_state *as, const char *endpoint, pgkms_status *st)
{
    pgkms_kms_uri e;
    int tls;
    pgkms_code rc;

    if (endpoint == NULL) {
        const char *suffix =
            strncmp(as->region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";

        snprintf(as->host, sizeof(as->host), "kms.%s.%s", as->region, suffix);
        snprintf(as->url, sizeof(as->url), "https://%s/", as->host);
        return PGKMS_OK;
    }
    rc = pgkms_kms_uri_parse(endpoint, &e, st);
    if (rc != PGKMS_OK)
        return rc;
    tls = strcmp(e.scheme, "https") == 0;
    if ((!tls && strcmp(e.scheme, "http") != 0) || e.path[0] != '\0' || e.nopts > 0)
        rc =
            pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                       "endpoint must be https://host[:port] (or http://127.0.0.1:port for tests)");
    else if (!tls && strcmp(e.host, "127.0.0.1") != 0 && strcmp(e.host, "::1") != 0)
        rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                        "an http:// endpoint is only for a test server on 127.0.0.1 or [::1]; use "
                        "https://");
    if (rc == PGKMS_OK) {
        pgkms_kms_uri_authority(&e, tls ? 443 : 80, as->host, sizeof(as->host));
        snprintf(as->url, sizeof(as->url), "%s://%s/", tls ? "https" : "http", as->host);
    }
    pgkms_kms_uri_free(&e);
    return rc;
}

static pgkms_code aws_setup(pgkms_root *root, const pgkms_kms_uri *u, aws_state *as,
                            pgkms_status *st)
{
    static const char *const known[] = {"endpoint", "credentials_file", "profile", NULL};
    const char *opt;
    pgkms_http_config cfg;
    pgkms_code rc;

    snprintf(as->label, sizeof(as->label), "AWS KMS keyring %.*s", (int)strcspn(root->uri, "?"),
             root->uri);
    as->libctx = root->libctx;
    if (strcmp(u->scheme, "awskms") != 0 || u->port != 0 || !region_ok(u->host))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "an AWS KMS keyring URI is awskms://<region>/<key id or ARN>, not "
                          "\"%.64s\"",
                          root->uri);
    snprintf(as->region, sizeof(as->region), "%s", u->host);
    rc = check_key_id(u->path, as->region, st);
    if (rc != PGKMS_OK)
        return rc;
    snprintf(as->key_id, sizeof(as->key_id), "%s", u->path);
    pgkms_http_config_init(&cfg);
    rc = pgkms_kms_uri_http_config(u, known, &cfg, st);
    if (rc == PGKMS_OK)
        rc = set_endpoint(as, pgkms_kms_uri_option(u, "endpoint"), st);
    if (rc != PGKMS_OK)
        return rc;
    if (cfg.ca_file == NULL && (opt = getenv("AWS_CA_BUNDLE")) != NULL && opt[0] == '/')
        cfg.ca_file = opt;
    opt = pgkms_kms_uri_option(u, "profile");
    if (opt == NULL && (opt = getenv("AWS_PROFILE")) == NULL)
        opt = "default";
    if ((as->profile = strdup(opt)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    if ((opt = pgkms_kms_uri_option(u, "credentials_file")) != NULL &&
        (as->credentials_file = strdup(opt)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = aws_id(root, as, st);
    if (rc == PGKMS_OK)
        rc = load_credentials(as, st);
    if (rc == PGKMS_OK)
        rc = pgkms_http_new(&cfg, as->label, &as->http, st);
    return rc;
}

pgkms_code pgkms_root_awskms_open(pgkms_root *root, const char *rest, unsigned flags,
                                  pgkms_status *st)
{
    pgkms_kms_uri u;
    aws_state *as;
    pgkms_code rc;

    (void)rest;
    (void)flags; /* KMS keys are created in AWS, never by pgkms */
    rc = pgkms_kms_uri_parse(root->uri, &u, st);
    if (rc != PGKMS_OK)
        return rc;
    as = calloc(1, sizeof(*as));
    if (as == NULL) {
        pgkms_kms_uri_free(&u);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    root->state = as;
    rc = aws_setup(root, &u, as, st);
    pgkms_kms_uri_free(&u);
    if (rc != PGKMS_OK) {
        aws_close(root);
        return rc;
    }
    root->ops = &aws_ops;
    return PGKMS_OK;
}
