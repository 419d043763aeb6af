/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP root: an AES-256 key on a KMIP 1.2 server that never leaves it. Each wrap picks a random
 * 16-byte salt and asks the server to Encrypt a fixed 32-byte block with the root key in CBC
 * mode with the salt as IV; the first 32 bytes of the answer, through HKDF, are a key
 * encryption key of that record only, which wraps the tenant key with AES-256-GCM and the AAD
 * here, as the file root does. Unwrapping asks for the same block again. See
 * docs/keyrings-kmip.md for why, and for the URI.
 *
 * Nothing of a connection survives a call: each open, wrap, unwrap and refresh connects, sends
 * its requests and disconnects, so a forked process never shares a TLS session, and every call
 * ends by one deadline (the URI's timeout). After a call finds no server (connect, handshake or
 * exchange failed), calls fail at once for the hold-down, so that while the server is down or
 * silent the statements of a backend do not each wait the timeout again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "pgkms/aead.h"
#include "pgkms/codec.h"
#include "pgkms/format.h"
#include "pgkms/kdf.h"
#include "pgkms/kmip.h"
#include "pgkms/root.h"
#include "pgkms/secmem.h"

#define DEFAULT_PORT        "5696" /* IANA port of KMIP over TLS */
#define DEFAULT_TIMEOUT_MS  5000
#define DEFAULT_HOLDDOWN_MS 2000 /* as the HTTP keyrings' holddown_ms */
#define SALT_LEN            16   /* one AES block: the IV of the server's CBC encryption */
#define PRF_LEN             32
#define WRAP_VERSION        1
#define WRAP_OVERHEAD       (1 + SALT_LEN + PGKMS_NONCE_LEN + PGKMS_TAG_LEN)
#define REF_MAX             256
#define PATH_MAX_LEN        1024

/* The block the server encrypts: two AES blocks, so the answer carries 256 bits. */
static const uint8_t PRF_INPUT[PRF_LEN] = "pgkms kmip prf 1pgkms kmip prf 2";
/* The salt of the root id: identifies the key's material without revealing it. */
static const uint8_t ID_SALT[SALT_LEN] = "pgkms root id v1";
static const char ID_INFO[] = "pgkms kmip root id v1";
static const char KEK_INFO[] = "pgkms kmip wrap v1";

typedef struct kmip_state {
    char name[128]; /* the URI without its query, for messages */
    char host[256];
    char port[8];
    char ref[REF_MAX];           /* unique identifier or name, as configured */
    char uid[PGKMS_KMIP_ID_MAX]; /* unique identifier, resolved at open */
    int timeout_ms;
    int holddown_ms;
    int64_t down_until_ms; /* hold-down: fail at once until then (monotonic) */
    char down_why[160];    /* the failure that started it */
    SSL_CTX *tls;
} kmip_state;

/* One call's connection and buffers; in secure memory, since answers carry key material. */
typedef struct kmip_call {
    kmip_state *ks;
    pgkms_kmip_conn conn;
    uint8_t req[1024];
    uint8_t resp[PGKMS_KMIP_MESSAGE_MAX];
    size_t req_len;
    pgkms_kmip_response r;
    uint8_t prf[PRF_LEN];
    uint8_t kek[PGKMS_AES256_KEY_LEN];
} kmip_call;

/* Rewrites st as "KMIP keyring <name>: <detail>", with code PGKMS_E_ROOT_UNAVAILABLE. */
static pgkms_code unavailable(const kmip_state *ks, pgkms_status *st)
{
    char detail[PGKMS_DETAIL_MAX];

    if (st == NULL)
        return PGKMS_E_ROOT_UNAVAILABLE;
    memcpy(detail, st->detail, sizeof(detail));
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "KMIP keyring %s: %s", ks->name, detail);
}

/* Percent-decodes src[0..len) into dst (cap bytes with the NUL); 0 if bad or too long. */
static int pct_decode(const char *src, size_t len, char *dst, size_t cap)
{
    char *tmp = pgkms_percent_decode(src, len, NULL);
    size_t n = tmp != NULL ? strlen(tmp) : cap;

    if (n < cap)
        memcpy(dst, tmp, n + 1);
    free(tmp);
    return n < cap;
}

/* What the query gave: files, and whether timeout and holddown were set (each at most once). */
typedef struct kmip_files {
    char ca[PATH_MAX_LEN], cert[PATH_MAX_LEN], key[PATH_MAX_LEN];
    int timeout_given, holddown_given;
} kmip_files;

static pgkms_code bad_uri(pgkms_status *st, const char *what)
{
    return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                      "invalid KMIP keyring URI: %s (expected kmip://host[:port]/key?cert=/path"
                      "&key=/path[&ca=/path][&timeout=seconds][&holddown=seconds])",
                      what);
}

/* One query parameter "name=value" of the URI. */
static pgkms_code parse_param(const char *p, size_t len, kmip_state *ks, kmip_files *f,
                              pgkms_status *st)
{
    const char *eq = memchr(p, '=', len);
    char value[PATH_MAX_LEN], *end;
    size_t nlen;
    char *dst = NULL;

    if (eq == NULL)
        return bad_uri(st, "a parameter has no value");
    nlen = (size_t)(eq - p);
    if (!pct_decode(eq + 1, len - nlen - 1, value, sizeof(value)) || value[0] == '\0')
        return bad_uri(st, "a parameter value is empty, too long or badly escaped");
    if (nlen == 2 && memcmp(p, "ca", 2) == 0)
        dst = f->ca;
    else if (nlen == 4 && memcmp(p, "cert", 4) == 0)
        dst = f->cert;
    else if (nlen == 3 && memcmp(p, "key", 3) == 0)
        dst = f->key;
    else if (nlen == 7 && memcmp(p, "timeout", 7) == 0) {
        double s = strtod(value, &end);

        if (f->timeout_given++)
            return bad_uri(st, "a parameter is given twice");
        if (*end != '\0' || !(s > 0 && s <= 300))
            return bad_uri(st, "timeout must be a number of seconds above 0, at most 300");
        ks->timeout_ms = (int)(s * 1000 + 0.5) > 0 ? (int)(s * 1000 + 0.5) : 1;
        return PGKMS_OK;
    } else if (nlen == 8 && memcmp(p, "holddown", 8) == 0) {
        double s = strtod(value, &end);

        if (f->holddown_given++)
            return bad_uri(st, "a parameter is given twice");
        if (*end != '\0' || !(s >= 0 && s <= 3600))
            return bad_uri(st, "holddown must be a number of seconds from 0 to 3600");
        ks->holddown_ms = (int)(s * 1000 + 0.5);
        return PGKMS_OK;
    } else {
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "invalid KMIP keyring URI: unknown parameter \"%.*s\" (known: ca, cert, "
                          "holddown, key, timeout)",
                          (int)(nlen > 32 ? 32 : nlen), p);
    }
    if (dst[0] != '\0')
        return bad_uri(st, "a parameter is given twice");
    if (value[0] != '/')
        return bad_uri(st, "ca, cert and key must be absolute paths");
    memcpy(dst, value, strlen(value) + 1);
    return PGKMS_OK;
}

/* A file from the URI, else from the environment variable env (if set and absolute). */
static void from_env(char *dst, const char *env)
{
    const char *v = getenv(env);

    if (dst[0] == '\0' && v != NULL && v[0] == '/' && strlen(v) < PATH_MAX_LEN)
        memcpy(dst, v, strlen(v) + 1);
}

/* rest is what follows "kmip://": host[:port]/key[?query]. */
static pgkms_code parse_uri(const char *rest, kmip_state *ks, kmip_files *f, pgkms_status *st)
{
    const char *p = rest, *host, *slash, *q, *end;
    size_t hlen;

    memset(f, 0, sizeof(*f));
    ks->timeout_ms = DEFAULT_TIMEOUT_MS;
    ks->holddown_ms = DEFAULT_HOLDDOWN_MS;
    if (*p == '[') { /* [IPv6 address] */
        host = ++p;
        if ((p = strchr(p, ']')) == NULL)
            return bad_uri(st, "unterminated [ in the host");
        hlen = (size_t)(p++ - host);
    } else {
        host = p;
        hlen = strcspn(p, ":/?");
        p += hlen;
    }
    if (hlen == 0 || hlen >= sizeof(ks->host))
        return bad_uri(st, "no host, or a host name too long");
    memcpy(ks->host, host, hlen);
    ks->host[hlen] = '\0';
    strcpy(ks->port, DEFAULT_PORT);
    if (*p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);

        if (e == p + 1 || port < 1 || port > 65535 || (*e != '/' && *e != '\0' && *e != '?'))
            return bad_uri(st, "the port must be a number from 1 to 65535");
        snprintf(ks->port, sizeof(ks->port), "%ld", port);
        p = e;
    }
    if (*p != '/')
        return bad_uri(st, "no key identifier or name after the host");
    slash = p + 1;
    q = strchr(slash, '?');
    end = q != NULL ? q : slash + strlen(slash);
    if (!pct_decode(slash, (size_t)(end - slash), ks->ref, sizeof(ks->ref)) || ks->ref[0] == '\0')
        return bad_uri(st, "the key identifier or name is empty, too long or badly escaped");
    while (q != NULL && *q != '\0') {
        const char *start = q + 1, *amp = strchr(start, '&');
        size_t len = amp != NULL ? (size_t)(amp - start) : strlen(start);
        pgkms_code rc = parse_param(start, len, ks, f, st);

        if (rc != PGKMS_OK)
            return rc;
        q = amp;
    }
    from_env(f->ca, "PGKMS_KMIP_CA");
    from_env(f->cert, "PGKMS_KMIP_CERT");
    from_env(f->key, "PGKMS_KMIP_KEY");
    if (f->cert[0] == '\0' || f->key[0] == '\0')
        return bad_uri(st, "no client certificate and key (cert= and key=, or PGKMS_KMIP_CERT "
                           "and PGKMS_KMIP_KEY)");
    return PGKMS_OK;
}

static void call_end(kmip_call *c)
{
    if (c == NULL)
        return;
    pgkms_kmip_disconnect(&c->conn);
    pgkms_secure_free(c, sizeof(*c));
}

/* No usable answer from the server: remember why, and hold down (st: the transport's error). */
static pgkms_code no_server(kmip_state *ks, pgkms_status *st)
{
    if (ks->holddown_ms > 0) {
        ks->down_until_ms = pgkms_kmip_now_ms() + ks->holddown_ms;
        snprintf(ks->down_why, sizeof(ks->down_why), "%.159s", st->detail);
    }
    return unavailable(ks, st);
}

static pgkms_code call_begin(kmip_state *ks, kmip_call **out, pgkms_status *st)
{
    int64_t now = pgkms_kmip_now_ms();
    kmip_call *c;
    pgkms_code rc;

    *out = NULL;
    if (now < ks->down_until_ms)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP keyring %s: unavailable (%s); next attempt in %lld ms", ks->name,
                          ks->down_why, (long long)(ks->down_until_ms - now));
    if ((c = pgkms_secure_alloc(sizeof(*c))) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    c->ks = ks;
    c->conn.fd = -1;
    rc = pgkms_kmip_connect(ks->tls, ks->host, ks->port, now + ks->timeout_ms, &c->conn, st);
    if (rc != PGKMS_OK) {
        call_end(c);
        return no_server(ks, st);
    }
    *out = c;
    return PGKMS_OK;
}

/* Sends c->req and checks that the answer is a success; names the operation otherwise. */
static pgkms_code call_request(kmip_call *c, uint32_t op, const char *opname, pgkms_status *st)
{
    size_t len = 0;
    pgkms_code rc;

    rc = pgkms_kmip_roundtrip(&c->conn, c->req, c->req_len, c->resp, sizeof(c->resp), &len, st);
    if (rc != PGKMS_OK)
        return no_server(c->ks, st);
    c->ks->down_until_ms = 0;
    rc = pgkms_kmip_parse_response(c->resp, len, op, &c->r, st);
    if (rc == PGKMS_OK && c->r.status != PGKMS_KMIP_RESULT_SUCCESS)
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s of key \"%.64s\" failed: %s%s%.100s",
                        opname, c->ks->uid[0] ? c->ks->uid : c->ks->ref,
                        pgkms_kmip_reason_name(c->r.reason), c->r.message[0] ? ": " : "",
                        c->r.message);
    return rc == PGKMS_OK ? PGKMS_OK : unavailable(c->ks, st);
}

/* The unique identifier of ks->ref: the one key with that name, else ref itself. */
static pgkms_code resolve(kmip_call *c, pgkms_status *st)
{
    kmip_state *ks = c->ks;
    size_t count;
    pgkms_code rc;

    rc = pgkms_kmip_locate_request(c->req, sizeof(c->req), ks->ref, &c->req_len, st);
    if (rc == PGKMS_OK)
        rc = call_request(c, PGKMS_KMIP_OP_LOCATE, "Locate", st);
    if (rc == PGKMS_OK && pgkms_kmip_locate_result(&c->r, ks->uid, &count, st) != PGKMS_OK)
        rc = unavailable(ks, st);
    if (rc != PGKMS_OK)
        return rc;
    if (count > 1) {
        ks->uid[0] = '\0';
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP keyring %s: several keys are named \"%.64s\"; use the key's "
                          "unique identifier",
                          ks->name, ks->ref);
    }
    if (count == 0) {
        if (strlen(ks->ref) >= sizeof(ks->uid))
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "KMIP keyring %s: no key is named \"%.64s\"", ks->name, ks->ref);
        strcpy(ks->uid, ks->ref);
    }
    return PGKMS_OK;
}

static const char *state_name(uint32_t state)
{
    static const char *const names[] = {
        "unknown",   "Pre-Active",           "Active", "Deactivated", "Compromised",
        "Destroyed", "Destroyed Compromised"};

    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

/* The key must be an Active AES-256 key: a revoked, destroyed or replaced one is refused. */
static pgkms_code check_key(kmip_call *c, pgkms_status *st)
{
    static const char *const attrs[] = {"State", "Cryptographic Algorithm", "Cryptographic Length"};
    kmip_state *ks = c->ks;
    uint32_t state = 0, alg = 0, bits = 0;
    pgkms_code rc;

    rc = pgkms_kmip_get_attributes_request(c->req, sizeof(c->req), ks->uid, attrs, 3, &c->req_len,
                                           st);
    if (rc == PGKMS_OK)
        rc = call_request(c, PGKMS_KMIP_OP_GET_ATTRIBUTES, "Get Attributes", st);
    if (rc != PGKMS_OK)
        return rc;
    if (pgkms_kmip_attribute_u32(&c->r, attrs[0], &state, st) != PGKMS_OK ||
        pgkms_kmip_attribute_u32(&c->r, attrs[1], &alg, st) != PGKMS_OK ||
        pgkms_kmip_attribute_u32(&c->r, attrs[2], &bits, st) != PGKMS_OK)
        return unavailable(ks, st);
    if (state != PGKMS_KMIP_STATE_ACTIVE)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP keyring %s: key \"%.64s\" is %s, not Active", ks->name, ks->uid,
                          state_name(state));
    if (alg != PGKMS_KMIP_ALG_AES || bits != 256)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP keyring %s: key \"%.64s\" is not an AES-256 key", ks->name,
                          ks->uid);
    return PGKMS_OK;
}

/* c->prf = the first 32 bytes of AES-256-CBC(root, iv = salt, PRF_INPUT), computed by the server.
 */
static pgkms_code server_prf(kmip_call *c, const uint8_t salt[SALT_LEN], pgkms_status *st)
{
    const uint8_t *data;
    size_t len;
    pgkms_code rc;

    rc = pgkms_kmip_encrypt_request(c->req, sizeof(c->req), c->ks->uid, salt, SALT_LEN, PRF_INPUT,
                                    PRF_LEN, &c->req_len, st);
    if (rc == PGKMS_OK)
        rc = call_request(c, PGKMS_KMIP_OP_ENCRYPT, "Encrypt", st);
    if (rc != PGKMS_OK)
        return rc;
    if (pgkms_kmip_encrypt_result(&c->r, &data, &len, st) != PGKMS_OK)
        return unavailable(c->ks, st);
    if (len < PRF_LEN) {
        pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "Encrypt returned %zu bytes, expected %d", len,
                   PRF_LEN);
        return unavailable(c->ks, st);
    }
    memcpy(c->prf, data, PRF_LEN);
    return PGKMS_OK;
}

/* c->kek for the record with this salt. */
static pgkms_code derive_kek(kmip_state *ks, const uint8_t salt[SALT_LEN], OSSL_LIB_CTX *libctx,
                             kmip_call **out, pgkms_status *st)
{
    kmip_call *c;
    pgkms_code rc = call_begin(ks, &c, st);

    *out = NULL;
    if (rc != PGKMS_OK)
        return rc;
    rc = server_prf(c, salt, st);
    if (rc == PGKMS_OK)
        rc = pgkms_hkdf_sha256(libctx, c->prf, PRF_LEN, (const uint8_t *)KEK_INFO,
                               sizeof(KEK_INFO) - 1, c->kek, sizeof(c->kek), st);
    if (rc != PGKMS_OK) {
        call_end(c);
        return rc;
    }
    *out = c;
    return PGKMS_OK;
}

/* Wrapped: version (1) || salt (16) || nonce (12) || ciphertext || tag (16). */
static pgkms_code kmip_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                            const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len,
                            pgkms_status *st)
{
    uint8_t *nonce = out + 1 + SALT_LEN, *ct = nonce + PGKMS_NONCE_LEN;
    kmip_call *c;
    pgkms_code rc;

    if (key_len + WRAP_OVERHEAD > PGKMS_WRAPPED_MAX)
        return pgkms_fail(st, PGKMS_E_LIMIT, "key of %zu bytes is too long to wrap", key_len);
    out[0] = WRAP_VERSION;
    if (RAND_bytes_ex(root->libctx, out + 1, SALT_LEN + PGKMS_NONCE_LEN, 0) <= 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    rc = derive_kek(root->state, out + 1, root->libctx, &c, st);
    if (rc != PGKMS_OK)
        return rc;
    rc = pgkms_gcm_seal_once(root->libctx, c->kek, nonce, aad, aad_len, key, key_len, ct,
                             ct + key_len, st);
    call_end(c);
    if (rc == PGKMS_OK)
        *out_len = key_len + WRAP_OVERHEAD;
    return rc;
}

static pgkms_code kmip_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                              const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                              pgkms_status *st)
{
    kmip_state *ks = root->state;
    const uint8_t *nonce = in + 1 + SALT_LEN;
    kmip_call *c;
    pgkms_code rc;

    if (in_len != key_len + WRAP_OVERHEAD || in[0] != WRAP_VERSION)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "KMIP-wrapped key has %zu bytes or version %u, expected %zu and %d",
                          in_len, in_len > 0 ? in[0] : 0u, key_len + WRAP_OVERHEAD, WRAP_VERSION);
    rc = derive_kek(ks, in + 1, root->libctx, &c, st);
    if (rc != PGKMS_OK)
        return rc;
    rc = pgkms_gcm_open_once(root->libctx, c->kek, nonce, aad, aad_len, nonce + PGKMS_NONCE_LEN,
                             key_len, in + in_len - PGKMS_TAG_LEN, key, st);
    call_end(c);
    if (rc == PGKMS_E_AUTH_FAILED)
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "wrapped tenant key does not verify under KMIP key \"%.64s\"", ks->uid);
    return rc;
}

/* Asks the server again, so a key revoked or destroyed there stops working within the TTL. */
static pgkms_code kmip_refresh(pgkms_root *root, pgkms_status *st)
{
    kmip_call *c;
    pgkms_code rc = call_begin(root->state, &c, st);

    if (rc != PGKMS_OK)
        return rc;
    rc = check_key(c, st);
    call_end(c);
    return rc;
}

static void kmip_close(pgkms_root *root)
{
    kmip_state *ks = root->state;

    if (ks == NULL)
        return;
    SSL_CTX_free(ks->tls);
    free(ks);
    root->state = NULL;
}

static const pgkms_root_ops kmip_ops = {"kmip", kmip_wrap, kmip_unwrap, kmip_refresh, kmip_close};

/* Resolves the key, checks it and computes the root id: one connection, three requests. */
static pgkms_code first_contact(pgkms_root *root, kmip_state *ks, pgkms_status *st)
{
    uint8_t id[PGKMS_ROOT_ID_LEN];
    kmip_call *c;
    pgkms_code rc = call_begin(ks, &c, st);

    if (rc != PGKMS_OK)
        return rc;
    rc = resolve(c, st);
    if (rc == PGKMS_OK)
        rc = check_key(c, st);
    /* No key by that name, and none by that identifier either: say so plainly. */
    if (rc != PGKMS_OK && strcmp(ks->uid, ks->ref) == 0 &&
        c->r.status != PGKMS_KMIP_RESULT_SUCCESS && c->r.reason == PGKMS_KMIP_REASON_ITEM_NOT_FOUND)
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "KMIP keyring %s: no key is named \"%.64s\" or has it as unique identifier",
                        ks->name, ks->ref);
    if (rc == PGKMS_OK)
        rc = server_prf(c, ID_SALT, st);
    if (rc == PGKMS_OK)
        rc = pgkms_hkdf_sha256(root->libctx, c->prf, PRF_LEN, (const uint8_t *)ID_INFO,
                               sizeof(ID_INFO) - 1, id, sizeof(id), st);
    call_end(c);
    if (rc == PGKMS_OK)
        memcpy(root->id, id, PGKMS_ROOT_ID_LEN);
    return rc;
}

pgkms_code pgkms_root_kmip_open(pgkms_root *root, const char *rest, unsigned flags,
                                pgkms_status *st)
{
    kmip_state *ks = calloc(1, sizeof(*ks));
    kmip_files *f = calloc(1, sizeof(*f));
    pgkms_code rc;

    (void)flags; /* keys are created on the server by its administrator, never here */
    if (ks == NULL || f == NULL) {
        free(ks);
        free(f);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    snprintf(ks->name, sizeof(ks->name), "%.*s", (int)strcspn(root->uri, "?"), root->uri);
    rc = parse_uri(rest, ks, f, st);
    if (rc == PGKMS_OK && pgkms_kmip_tls_new(root->libctx, f->ca[0] ? f->ca : NULL, f->cert, f->key,
                                             &ks->tls, st) != PGKMS_OK)
        rc = unavailable(ks, st);
    free(f);
    if (rc == PGKMS_OK)
        rc = first_contact(root, ks, st);
    if (rc != PGKMS_OK) {
        SSL_CTX_free(ks->tls);
        free(ks);
        return rc;
    }
    root->state = ks;
    root->ops = &kmip_ops;
    return PGKMS_OK;
}
