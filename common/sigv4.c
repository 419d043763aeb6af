/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 on OpenSSL HMAC-SHA256 and SHA-256 (sigv4.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "pgkms/codec.h"
#include "pgkms/kdf.h"
#include "pgkms/secmem.h"
#include "pgkms/sigv4.h"

#define MAX_HEADERS 16

typedef struct canon_header {
    char name[64];
    const char *value;
} canon_header;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const canon_header *)a)->name, ((const canon_header *)b)->name);
}

/* Appends to a growing string; returns 0 when out of memory. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 512;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 1;
}

static int puts_(sbuf *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* Header values: leading and trailing spaces dropped, inner runs of spaces made one. */
static int put_trimmed(sbuf *b, const char *v)
{
    int space = 0, any = 0;

    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = any;
            continue;
        }
        if (space && !put(b, " ", 1))
            return 0;
        if (!put(b, v, 1))
            return 0;
        space = 0;
        any = 1;
    }
    return 1;
}

static int sha256_hex(OSSL_LIB_CTX *libctx, const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    size_t mdlen = 0;

    if (!EVP_Q_digest(libctx, "SHA256", NULL, data, len, md, &mdlen) || mdlen != 32)
        return 0;
    pgkms_hex_encode(md, 32, out);
    return 1;
}

char *pgkms_sigv4_canonical_request(OSSL_LIB_CTX *libctx, const pgkms_sigv4_request *r,
                                    char *signed_headers, size_t cap)
{
    canon_header hs[MAX_HEADERS];
    sbuf b = {NULL, 0, 0};
    size_t sh = 0;
    char body_hash[65];
    int ok;

    if (r->nheaders > MAX_HEADERS || cap == 0)
        return NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        size_t n = strlen(r->headers[i].name);

        if (n >= sizeof(hs[i].name))
            return NULL;
        for (size_t k = 0; k <= n; k++)
            hs[i].name[k] = (char)tolower((unsigned char)r->headers[i].name[k]);
        hs[i].value = r->headers[i].value;
    }
    qsort(hs, r->nheaders, sizeof(hs[0]), by_name);
    signed_headers[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        int n = snprintf(signed_headers + sh, cap - sh, "%s%s", i ? ";" : "", hs[i].name);

        if (n < 0 || (size_t)n >= cap - sh)
            return NULL;
        sh += (size_t)n;
    }
    if (!sha256_hex(libctx, r->body != NULL ? r->body : (const uint8_t *)"", r->body_len,
                    body_hash))
        return NULL;
    ok = puts_(&b, r->method) && puts_(&b, "\n") && puts_(&b, r->path) && puts_(&b, "\n") &&
         puts_(&b, r->query) && puts_(&b, "\n");
    for (size_t i = 0; ok && i < r->nheaders; i++)
        ok = puts_(&b, hs[i].name) && puts_(&b, ":") && put_trimmed(&b, hs[i].value) &&
             puts_(&b, "\n");
    ok = ok && puts_(&b, "\n") && puts_(&b, signed_headers) && puts_(&b, "\n") &&
         puts_(&b, body_hash);
    if (!ok) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

pgkms_code pgkms_sigv4_signing_key(OSSL_LIB_CTX *libctx, const char *secret, const char *date8,
                                   const char *region, const char *service, uint8_t out[32],
                                   pgkms_status *st)
{
    const char *steps[] = {date8, region, service, "aws4_request"};
    size_t slen = strlen(secret);
    uint8_t *k = pgkms_secure_alloc(4 + slen + 32);
    pgkms_code rc = PGKMS_OK;

    if (k == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, slen);
    rc = pgkms_hmac_sha256(libctx, k, 4 + slen, (const uint8_t *)steps[0], strlen(steps[0]), out,
                           st);
    for (int i = 1; rc == PGKMS_OK && i < 4; i++) {
        memcpy(k, out, 32);
        rc = pgkms_hmac_sha256(libctx, k, 32, (const uint8_t *)steps[i], strlen(steps[i]), out, st);
    }
    pgkms_secure_free(k, 4 + slen + 32);
    if (rc != PGKMS_OK)
        pgkms_wipe(out, 32);
    return rc;
}

pgkms_code pgkms_sigv4_authorization(OSSL_LIB_CTX *libctx, const pgkms_sigv4_request *r,
                                     const char *access_key_id, const char *secret_access_key,
                                     char *out, size_t cap, char *sig_hex, pgkms_status *st)
{
    char signed_headers[MAX_HEADERS * 64], date8[9], scope[160], creq_hash[65], sts[320];
    char hex[65];
    uint8_t key[32], sig[32];
    char *creq;
    pgkms_code rc;
    int n;

    if (strlen(r->amz_date) != PGKMS_SIGV4_DATE_LEN || r->amz_date[8] != 'T')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "malformed X-Amz-Date");
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date8, r->region, r->service);
    if (n < 0 || (size_t)n >= sizeof(scope))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "SigV4 scope too long");
    creq = pgkms_sigv4_canonical_request(libctx, r, signed_headers, sizeof(signed_headers));
    if (creq == NULL)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not build the SigV4 canonical request");
    n = sha256_hex(libctx, creq, strlen(creq), creq_hash);
    free(creq);
    if (!n)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "SHA-256 failed");
    n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "SigV4 string to sign too long");
    rc = pgkms_sigv4_signing_key(libctx, secret_access_key, date8, r->region, r->service, key, st);
    if (rc == PGKMS_OK)
        rc = pgkms_hmac_sha256(libctx, key, sizeof(key), (const uint8_t *)sts, (size_t)n, sig, st);
    pgkms_wipe(key, sizeof(key));
    if (rc != PGKMS_OK)
        return rc;
    pgkms_hex_encode(sig, sizeof(sig), hex);
    n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 access_key_id, scope, signed_headers, hex);
    if (n < 0 || (size_t)n >= cap)
        return pgkms_fail(st, PGKMS_E_LIMIT, "SigV4 Authorization header too long");
    if (sig_hex != NULL)
        memcpy(sig_hex, hex, sizeof(hex));
    return PGKMS_OK;
}

void pgkms_sigv4_date(long long t, char out[PGKMS_SIGV4_DATE_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, PGKMS_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}
