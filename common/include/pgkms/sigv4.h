/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4 (HMAC-SHA256): canonical request, string to sign, signing key, and
 * the Authorization header value, as botocore's SigV4Auth computes them for JSON services.
 */
#ifndef PGKMS_SIGV4_H
#define PGKMS_SIGV4_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/status.h"

#define PGKMS_SIGV4_DATE_LEN 16 /* "20150830T123600Z" */
#define PGKMS_SIGV4_AUTH_MAX 512

typedef struct pgkms_sigv4_header {
    const char *name; /* any case; signed lowercase */
    const char *value;
} pgkms_sigv4_header;

typedef struct pgkms_sigv4_request {
    const char *method;
    const char *path;  /* canonical (already URI-encoded), "/" for the JSON services */
    const char *query; /* canonical query string, "" for none */
    const pgkms_sigv4_header *headers; /* every header to sign, host included */
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    const char *amz_date; /* X-Amz-Date value, UTC */
    const char *region;
    const char *service;
} pgkms_sigv4_request;

/* kSigning = HMAC chain over "AWS4" + secret, date (YYYYMMDD), region, service, "aws4_request". */
pgkms_code pgkms_sigv4_signing_key(OSSL_LIB_CTX *libctx, const char *secret, const char *date8,
                                   const char *region, const char *service, uint8_t out[32],
                                   pgkms_status *st) PGKMS_MUST_CHECK;
/* The canonical request (for tests and debugging: it holds no secret). Caller frees. */
char *pgkms_sigv4_canonical_request(OSSL_LIB_CTX *libctx, const pgkms_sigv4_request *r,
                                    char *signed_headers, size_t cap);
/*
 * "AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<h>, Signature=<hex>" into out;
 * the signature alone into sig_hex (65 bytes) when not NULL.
 */
pgkms_code pgkms_sigv4_authorization(OSSL_LIB_CTX *libctx, const pgkms_sigv4_request *r,
                                     const char *access_key_id, const char *secret_access_key,
                                     char *out, size_t cap, char *sig_hex,
                                     pgkms_status *st) PGKMS_MUST_CHECK;
/* X-Amz-Date for t (seconds since the epoch). */
void pgkms_sigv4_date(long long t, char out[PGKMS_SIGV4_DATE_LEN + 1]);

#endif
