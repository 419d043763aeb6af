/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one HTTP/JSON client (libcurl + jansson) of the KMS keyrings: Vault, AWS KMS, Barbican.
 *
 * - TLS verification is always on. ca_file replaces the system CA store; there is no switch
 *   that turns verification off. Plain http:// is accepted only to 127.0.0.1 or [::1] (test
 *   servers on the same host), never to another address.
 * - Every attempt is bounded by connect_timeout_ms and timeout_ms. Connect errors, timeouts,
 *   5xx and 429 answers (and answers the caller marks retryable) are retried `retries` times
 *   with exponential backoff and jitter. When the retries are spent, the client fails at once
 *   for holddown_ms instead of waiting on the network again for every caller.
 * - Credentials travel only in headers the caller builds from files or the environment. Header
 *   lines, request bodies and response bodies are wiped (OPENSSL_cleanse) after use and never
 *   logged; details name the client's label and URL paths only. libcurl's and OpenSSL's own
 *   transfer buffers are outside our reach (docs/keyrings.md).
 * - Fork safety: a client notices that it runs in a new process and gets a new curl handle;
 *   connections inherited from the parent are detached without a byte sent on them.
 *   curl_global_init runs once per process.
 * A client is not thread-safe: callers serialize its use (keysets are locked by their users).
 */
#ifndef PGKMS_HTTP_H
#define PGKMS_HTTP_H

#include <stddef.h>
#include <jansson.h>

#include "pgkms/status.h"

#define PGKMS_HTTP_CONNECT_TIMEOUT_MS 2000
#define PGKMS_HTTP_TIMEOUT_MS         5000
#define PGKMS_HTTP_RETRIES            2
#define PGKMS_HTTP_BACKOFF_MS         100
#define PGKMS_HTTP_BACKOFF_MAX_MS     2000
#define PGKMS_HTTP_HOLDDOWN_MS        2000
#define PGKMS_HTTP_MAX_RESPONSE       (64 * 1024)
#define PGKMS_HTTP_RETRIES_MAX        10

typedef struct pgkms_http_config {
    const char *ca_file;     /* PEM file of trusted CAs instead of the system store; NULL: system */
    long connect_timeout_ms; /* per attempt */
    long timeout_ms;         /* per attempt, connect to last byte */
    int retries;             /* attempts after the first (0..PGKMS_HTTP_RETRIES_MAX) */
    long backoff_ms;         /* wait before the first retry; doubles per retry, jittered */
    long backoff_max_ms;     /* cap of one wait */
    long holddown_ms;        /* after failed retries, fail at once for this long (0: never) */
    size_t max_response;     /* larger answers are refused */
} pgkms_http_config;

/* The defaults above. */
void pgkms_http_config_init(pgkms_http_config *cfg);
/*
 * The URI options every HTTP keyring accepts: ca_file, connect_timeout_ms, timeout_ms, retries,
 * holddown_ms. knows() says whether name is one of them; set() parses and checks its value
 * (cfg->ca_file then points into value, which must outlive pgkms_http_new).
 */
int pgkms_http_config_knows(const char *name);
pgkms_code pgkms_http_config_set(pgkms_http_config *cfg, const char *name, const char *value,
                                 pgkms_status *st) PGKMS_MUST_CHECK;

typedef struct pgkms_http pgkms_http;

/* label names the keyring in every detail ("vault keyring vault+https://h:8200/transit/k"). */
pgkms_code pgkms_http_new(const pgkms_http_config *cfg, const char *label, pgkms_http **out,
                          pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_http_free(pgkms_http *c);
const char *pgkms_http_label(const pgkms_http *c);

typedef struct pgkms_http_header {
    const char *name;
    const char *value; /* may be a secret: the line built from it is wiped after the request */
} pgkms_http_header;

typedef struct pgkms_http_response {
    long status; /* HTTP status of the last attempt */
    char *body;  /* NUL-terminated; wiped and freed by pgkms_http_response_free */
    size_t body_len;
    json_t *json; /* the body parsed as JSON, or NULL when it is not JSON */
    int attempts; /* how many requests were sent */
} pgkms_http_response;

#define PGKMS_HTTP_NOT_IDEMPOTENT 0x1 /* retry only when the server surely did not act */

typedef struct pgkms_http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *url;    /* https://..., or http:// to 127.0.0.1 / [::1] */
    const pgkms_http_header *headers;
    size_t nheaders;
    const char *body; /* sent as is, never copied; NULL: none */
    size_t body_len;
    unsigned flags;
    /* Answers worth retrying besides 5xx and 429 (AWS throttles with 400); NULL: none. */
    int (*retryable)(const pgkms_http_response *resp, void *arg);
    void *retry_arg;
} pgkms_http_request;

/*
 * Sends req with retries. PGKMS_OK: an answer arrived that is not worth retrying, whatever its
 * status (the caller judges it). PGKMS_E_ROOT_UNAVAILABLE: no usable answer (connect error,
 * timeout, TLS failure, 5xx/429 after the retries, hold-down), with the reason in st.
 * PGKMS_E_LIMIT: the answer exceeded max_response. resp is zeroed first; free it in every case.
 */
pgkms_code pgkms_http_send(pgkms_http *c, const pgkms_http_request *req, pgkms_http_response *resp,
                           pgkms_status *st) PGKMS_MUST_CHECK;
/* pgkms_http_send with a JSON body (NULL: none) and JSON Content-Type/Accept headers. */
pgkms_code pgkms_http_json(pgkms_http *c, const char *method, const char *url,
                           const pgkms_http_header *headers, size_t nheaders, const json_t *body,
                           pgkms_http_response *resp, pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_http_response_free(pgkms_http_response *resp);

/* Compact JSON text of j in a buffer the caller releases with pgkms_http_secret_free. */
char *pgkms_json_dump_secret(const json_t *j, size_t *len);
void pgkms_http_secret_free(char *p, size_t len);
/* Wipes every string value inside j, then releases the caller's reference. NULL is fine. */
void pgkms_json_wipe_free(json_t *j);
/* A server's text made safe for a detail: printable ASCII only, at most cap - 1 bytes. */
void pgkms_http_sanitize(const char *in, char *out, size_t cap);

#endif
