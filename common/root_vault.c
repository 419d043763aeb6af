/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HashiCorp Vault / OpenBao transit root. The root key is a transit key that never leaves
 * Vault: wrap is POST /v1/<mount>/encrypt/<key>, unwrap is POST /v1/<mount>/decrypt/<key>,
 * and the wrapped bytes are Vault's ciphertext string ("vault:v<N>:..."), so key versions
 * follow Vault's rotation. The AAD goes as the derivation `context` of a derived key
 * (derived=true): Vault derives a key per context, a blob moved to another tenant key record
 * does not decrypt, and a key created without derivation is refused rather than silently
 * ignoring the binding. refresh reads the key (GET /v1/<mount>/keys/<key>), so a deleted key
 * or a withdrawn token or policy ends cached tenant keys within their TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "pgkms/codec.h"
#include "pgkms/credential.h"
#include "pgkms/http.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_kms.h"
#include "pgkms/secmem.h"

#define TOKEN_MAX  8192
#define LABEL_MAX  160
#define URL_MAX    (PGKMS_KMS_URI_MAX + 64)
#define AAD_B64MAX 1024

static const char ID_LABEL[] = "pgkms root id vault v1";

typedef struct vault_state {
    pgkms_http *http;
    char label[LABEL_MAX];
    char url_key[URL_MAX], url_encrypt[URL_MAX], url_decrypt[URL_MAX];
    char *namespace;  /* NULL: none */
    char *token_file; /* NULL: VAULT_TOKEN, then ~/.vault-token */
    pgkms_secret token;
} vault_state;

static int name_ok(const char *s, int slash)
{
    if (s[0] == '\0' || s[0] == '/' || s[strlen(s) - 1] == '/')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.' || (slash && *s == '/')))
            return 0;
    return 1;
}

static pgkms_code load_token(vault_state *vs, pgkms_status *st)
{
    const char *env = getenv("VAULT_TOKEN"), *home = getenv("HOME");
    char path[1024];
    struct stat sb;
    pgkms_code rc;

    pgkms_secret_clear(&vs->token);
    if (vs->token_file != NULL) {
        rc = pgkms_secret_read_file(vs->token_file, TOKEN_MAX, "Vault token file", &vs->token, st);
    } else if (env != NULL && env[0] != '\0') {
        rc = pgkms_secret_set(&vs->token, env, strlen(env), st);
    } else if (home != NULL && home[0] == '/' &&
               snprintf(path, sizeof(path), "%s/.vault-token", home) < (int)sizeof(path) &&
               stat(path, &sb) == 0) {
        rc = pgkms_secret_read_file(path, TOKEN_MAX, "Vault token file", &vs->token, st);
    } else {
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: no Vault token: set VAULT_TOKEN, or token_file=/path in the URI",
                          vs->label);
    }
    if (rc != PGKMS_OK) {
        char detail[PGKMS_DETAIL_MAX];

        snprintf(detail, sizeof(detail), "%s", st != NULL ? st->detail : "");
        return pgkms_fail(st, rc, "%s: %s", vs->label, detail);
    }
    if (!pgkms_secret_is_token(vs->token.data, vs->token.len)) {
        pgkms_secret_clear(&vs->token);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the Vault token contains spaces or control characters", vs->label);
    }
    return PGKMS_OK;
}

/* The first of Vault's "errors", made safe to quote. */
static void vault_message(const pgkms_http_response *r, char *out, size_t cap)
{
    json_t *errs = json_object_get(r->json, "errors");
    json_t *first = json_is_array(errs) ? json_array_get(errs, 0) : NULL;

    out[0] = '\0';
    if (json_is_string(first))
        pgkms_http_sanitize(json_string_value(first), out, cap);
}

static pgkms_code vault_refused(const vault_state *vs, const char *what,
                                const pgkms_http_response *r, pgkms_status *st)
{
    char msg[120];

    vault_message(r, msg, sizeof(msg));
    if (r->status == 400 && strstr(msg, "message authentication failed") != NULL)
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                          "%s: the wrapped key does not decrypt in its context", vs->label);
    if (r->status == 401 || r->status == 403)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: %s refused: permission denied (HTTP %ld); check the token and its "
                          "policy",
                          vs->label, what, r->status);
    if (r->status == 404)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: %s: no such key or mount (HTTP 404)%s%s", vs->label, what,
                          msg[0] ? ": " : "", msg);
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s refused (HTTP %ld)%s%s", vs->label,
                      what, r->status, msg[0] ? ": " : "", msg);
}

static pgkms_code vault_call(vault_state *vs, const char *method, const char *url,
                             const json_t *body, const char *what, pgkms_http_response *resp,
                             pgkms_status *st)
{
    pgkms_http_header h[3] = {{"X-Vault-Token", vs->token.data},
                              {"X-Vault-Request", "true"},
                              {"X-Vault-Namespace", vs->namespace}};
    pgkms_code rc;

    rc = pgkms_http_json(vs->http, method, url, h, vs->namespace != NULL ? 3 : 2, body, resp, st);
    if (rc == PGKMS_E_LIMIT)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s: answer too large", vs->label,
                          what);
    if (rc != PGKMS_OK)
        return rc;
    if (resp->status != 200)
        return vault_refused(vs, what, resp, st);
    if (!json_is_object(resp->json))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s: the answer is not a JSON object",
                          vs->label, what);
    return PGKMS_OK;
}

static const char *data_string(const json_t *answer, const char *name)
{
    return json_string_value(json_object_get(json_object_get(answer, "data"), name));
}

int pgkms_vault_ciphertext_ok(const uint8_t *in, size_t len)
{
    size_t i = 7, digits = 0;

    if (len < 10 || len > PGKMS_WRAPPED_MAX || memcmp(in, "vault:v", 7) != 0)
        return 0;
    for (; i < len && in[i] >= '0' && in[i] <= '9'; i++)
        digits++;
    if (digits == 0 || digits > 10 || i >= len || in[i] != ':' || i + 1 == len)
        return 0;
    for (i++; i < len; i++)
        if (!((in[i] >= 'A' && in[i] <= 'Z') || (in[i] >= 'a' && in[i] <= 'z') ||
              (in[i] >= '0' && in[i] <= '9') || in[i] == '+' || in[i] == '/' || in[i] == '='))
            return 0;
    return 1;
}

pgkms_code pgkms_vault_parse_ciphertext(const json_t *answer, const char *label, uint8_t *out,
                                        size_t *out_len, pgkms_status *st)
{
    const char *ct = data_string(answer, "ciphertext");
    size_t len = ct != NULL ? strlen(ct) : 0;

    if (ct == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed encrypt answer: no data.ciphertext string", label);
    if (!pgkms_vault_ciphertext_ok((const uint8_t *)ct, len))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed encrypt answer: data.ciphertext is not "
                          "\"vault:v<N>:<base64>\" of at most %d bytes",
                          label, PGKMS_WRAPPED_MAX);
    memcpy(out, ct, len);
    *out_len = len;
    return PGKMS_OK;
}

pgkms_code pgkms_vault_parse_plaintext(const json_t *answer, const char *label, uint8_t *key,
                                       size_t key_len, pgkms_status *st)
{
    const char *pt = data_string(answer, "plaintext");
    uint8_t *buf;
    size_t got = 0;
    pgkms_code rc;

    if (pt == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed decrypt answer: no data.plaintext string", label);
    if ((buf = pgkms_secure_alloc(key_len + 3)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = pgkms_base64_decode(pt, strlen(pt), buf, key_len + 3, &got, NULL);
    if (rc == PGKMS_OK && got == key_len)
        memcpy(key, buf, key_len);
    pgkms_secure_free(buf, key_len + 3);
    if (rc != PGKMS_OK || got != key_len)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed decrypt answer: data.plaintext is not base64 of %zu bytes",
                          label, key_len);
    return PGKMS_OK;
}

pgkms_code pgkms_vault_parse_key(const json_t *answer, const char *label, pgkms_status *st)
{
    const json_t *data = json_object_get(answer, "data");
    const json_t *derived = json_object_get(data, "derived");
    const json_t *enc = json_object_get(data, "supports_encryption");
    const json_t *dec = json_object_get(data, "supports_decryption");

    if (!json_is_object(data) || !json_is_boolean(derived))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: malformed key answer: no data.derived boolean", label);
    if (!json_is_true(derived))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the transit key is not derived: pgkms binds every wrapped key to "
                          "its record through the derivation context; create the key with "
                          "derived=true",
                          label);
    if ((enc != NULL && !json_is_true(enc)) || (dec != NULL && !json_is_true(dec)))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the transit key does not support encryption and decryption", label);
    return PGKMS_OK;
}

/* The key exists, may be read with this token, and is derived. */
static pgkms_code check_key(vault_state *vs, pgkms_status *st)
{
    pgkms_http_response r;
    pgkms_code rc = vault_call(vs, "GET", vs->url_key, NULL, "key read", &r, st);

    if (rc == PGKMS_OK)
        rc = pgkms_vault_parse_key(r.json, vs->label, st);
    pgkms_http_response_free(&r);
    return rc;
}

static pgkms_code vault_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                             const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len,
                             pgkms_status *st)
{
    vault_state *vs = root->state;
    size_t pt_cap = pgkms_base64_len(key_len) + 1;
    char *pt = NULL, ctx[AAD_B64MAX];
    json_t *body = NULL;
    pgkms_http_response r;
    pgkms_code rc;

    memset(&r, 0, sizeof(r));
    if (pgkms_base64_len(aad_len) >= sizeof(ctx))
        return pgkms_fail(st, PGKMS_E_LIMIT, "AAD of %zu bytes is too long", aad_len);
    /* Before encrypting: a token allowed to create keys would otherwise upsert a missing key. */
    rc = check_key(vs, st);
    if (rc != PGKMS_OK)
        return rc;
    if ((pt = pgkms_secure_alloc(pt_cap)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    pgkms_base64_encode(key, key_len, pt);
    pgkms_base64_encode(aad, aad_len, ctx);
    body = json_pack("{s:s, s:s}", "plaintext", pt, "context", ctx);
    if (body == NULL)
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    else
        rc = vault_call(vs, "POST", vs->url_encrypt, body, "encrypt", &r, st);
    if (rc == PGKMS_OK)
        rc = pgkms_vault_parse_ciphertext(r.json, vs->label, out, out_len, st);
    pgkms_json_wipe_free(body);
    pgkms_secure_free(pt, pt_cap);
    pgkms_http_response_free(&r);
    return rc;
}

static pgkms_code vault_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                               const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                               pgkms_status *st)
{
    vault_state *vs = root->state;
    char ct[PGKMS_WRAPPED_MAX + 1], ctx[AAD_B64MAX];
    json_t *body;
    pgkms_http_response r;
    pgkms_code rc;

    if (!pgkms_vault_ciphertext_ok(in, in_len))
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "%s: the wrapped key is not a Vault ciphertext (vault:v<N>:...)",
                          vs->label);
    if (pgkms_base64_len(aad_len) >= sizeof(ctx))
        return pgkms_fail(st, PGKMS_E_LIMIT, "AAD of %zu bytes is too long", aad_len);
    memcpy(ct, in, in_len);
    ct[in_len] = '\0';
    pgkms_base64_encode(aad, aad_len, ctx);
    body = json_pack("{s:s, s:s}", "ciphertext", ct, "context", ctx);
    if (body == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = vault_call(vs, "POST", vs->url_decrypt, body, "decrypt", &r, st);
    if (rc == PGKMS_OK)
        rc = pgkms_vault_parse_plaintext(r.json, vs->label, key, key_len, st);
    json_decref(body);
    pgkms_http_response_free(&r);
    return rc;
}

/* A token file is read again (Vault Agent rotates it); then the key must still be readable. */
static pgkms_code vault_refresh(pgkms_root *root, pgkms_status *st)
{
    vault_state *vs = root->state;
    pgkms_code rc = PGKMS_OK;

    if (vs->token_file != NULL)
        rc = load_token(vs, st);
    return rc == PGKMS_OK ? check_key(vs, st) : rc;
}

static void vault_close(pgkms_root *root)
{
    vault_state *vs = root->state;

    if (vs == NULL)
        return;
    pgkms_http_free(vs->http);
    pgkms_secret_clear(&vs->token);
    free(vs->namespace);
    free(vs->token_file);
    free(vs);
    root->state = NULL;
}

static const pgkms_root_ops vault_ops = {"vault", vault_wrap, vault_unwrap, vault_refresh,
                                         vault_close};

/* The id names the key, not a secret: H(label || authority || namespace || mount || key). */
static pgkms_code vault_id(pgkms_root *root, const char *authority, const char *ns,
                           const char *mount, const char *key, pgkms_status *st)
{
    const char *parts[] = {ID_LABEL, authority, ns != NULL ? ns : "", mount, key};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_MD *sha = EVP_MD_fetch(root->libctx, "SHA256", NULL);
    uint8_t digest[32];
    int ok = md != NULL && sha != NULL && EVP_DigestInit_ex(md, sha, NULL);

    for (size_t i = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++)
        ok = EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1); /* NUL-separated */
    ok = ok && EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    EVP_MD_free(sha);
    if (!ok)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "SHA-256 is not available");
    memcpy(root->id, digest, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

static pgkms_code vault_setup(pgkms_root *root, const pgkms_kms_uri *u, vault_state *vs,
                              pgkms_status *st)
{
    static const char *const known[] = {"token_file", "namespace", NULL};
    int tls = strcmp(u->scheme, "vault+https") == 0;
    char authority[300], hostport[300], *mount, *key, *slash;
    const char *opt;
    pgkms_http_config cfg;
    pgkms_code rc;

    snprintf(vs->label, sizeof(vs->label), "vault keyring %.*s", (int)strcspn(root->uri, "?"),
             root->uri);
    if (!tls && strcmp(u->scheme, "vault+http") != 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "not a vault+https:// URI");
    if (!tls && strcmp(u->host, "127.0.0.1") != 0 && strcmp(u->host, "::1") != 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "vault+http:// is only for a test server on 127.0.0.1 or [::1]; use "
                          "vault+https://");
    slash = strrchr(u->path, '/');
    if (slash == NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "a Vault keyring URI names <mount>/<key>: vault+https://host:8200/"
                          "transit/pgkms-root");
    *slash = '\0';
    mount = u->path;
    key = slash + 1;
    if (!name_ok(mount, 1) || !name_ok(key, 0))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "invalid Vault mount or key name in \"%.64s\" (letters, digits, _-. "
                          "and / between mount path segments)",
                          root->uri);
    pgkms_http_config_init(&cfg);
    rc = pgkms_kms_uri_http_config(u, known, &cfg, st);
    if (rc != PGKMS_OK)
        return rc;
    if (cfg.ca_file == NULL && (opt = getenv("VAULT_CACERT")) != NULL && opt[0] == '/')
        cfg.ca_file = opt;
    if ((opt = pgkms_kms_uri_option(u, "namespace")) != NULL) {
        if (!name_ok(opt, 1))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid Vault namespace");
        if ((vs->namespace = strdup(opt)) == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    if ((opt = pgkms_kms_uri_option(u, "token_file")) != NULL &&
        (vs->token_file = strdup(opt)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    pgkms_kms_uri_authority(u, tls ? 443 : 80, authority, sizeof(authority));
    snprintf(hostport, sizeof(hostport), "%s%s%s:%d", u->ipv6 ? "[" : "", u->host,
             u->ipv6 ? "]" : "", u->port != 0 ? u->port : (tls ? 443 : 80));
    if (snprintf(vs->url_key, URL_MAX, "%s://%s/v1/%s/keys/%s", tls ? "https" : "http", authority,
                 mount, key) >= URL_MAX ||
        snprintf(vs->url_encrypt, URL_MAX, "%s://%s/v1/%s/encrypt/%s", tls ? "https" : "http",
                 authority, mount, key) >= URL_MAX ||
        snprintf(vs->url_decrypt, URL_MAX, "%s://%s/v1/%s/decrypt/%s", tls ? "https" : "http",
                 authority, mount, key) >= URL_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "Vault keyring URI is too long");
    rc = vault_id(root, hostport, vs->namespace, mount, key, st);
    if (rc == PGKMS_OK)
        rc = load_token(vs, st);
    if (rc == PGKMS_OK)
        rc = pgkms_http_new(&cfg, vs->label, &vs->http, st);
    return rc;
}

pgkms_code pgkms_root_vault_open(pgkms_root *root, const char *rest, unsigned flags,
                                 pgkms_status *st)
{
    pgkms_kms_uri u;
    vault_state *vs;
    pgkms_code rc;

    (void)rest;
    (void)flags; /* Vault keys are created in Vault, never by pgkms */
    rc = pgkms_kms_uri_parse(root->uri, &u, st);
    if (rc != PGKMS_OK)
        return rc;
    vs = calloc(1, sizeof(*vs));
    if (vs == NULL) {
        pgkms_kms_uri_free(&u);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    root->state = vs;
    rc = vault_setup(root, &u, vs, st);
    pgkms_kms_uri_free(&u);
    if (rc != PGKMS_OK) {
        vault_close(root);
        return rc;
    }
    root->ops = &vault_ops;
    return PGKMS_OK;
}
