/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/JSON client of the KMS keyrings on libcurl and jansson (see http.h for the rules). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "pgkms/http.h"

#ifndef PGKMS_VERSION
#define PGKMS_VERSION "dev"
#endif

#define MAX_SOCKETS 8 /* curl keeps at most MAXCONNECTS idle; happy eyeballs opens two more */

struct pgkms_http {
    pgkms_http_config cfg;
    char *ca_file;
    char *label;
    CURL *curl;
    pid_t pid; /* process that created curl */
    int socks[MAX_SOCKETS];
    int nsocks;
    int64_t down_until_ms; /* hold-down: fail at once until then */
    char down_why[96];
    uint64_t rng; /* jitter only: not a secret */
};

typedef struct recv_buf {
    char *data;
    size_t len, cap, max;
    int too_large;
} recv_buf;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/*
 * jansson frees with free(): strings of a parsed decrypt answer (a plaintext key) would linger
 * in the heap. A free that wipes the block first is a drop-in for free() whatever allocated the
 * block, so installing it is safe at any time; we do so only over jansson's default pair.
 */
static void wiping_free(void *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, malloc_usable_size(p));
        free(p);
    }
}

static void global_init(void)
{
    json_malloc_t m;
    json_free_t f;

    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    json_get_alloc_funcs(&m, &f);
    if (m == malloc && f == free)
        json_set_alloc_funcs(malloc, wiping_free);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    /* Signals (a backend's SIGALRM, SIGINT) interrupt the wait: sleep the rest. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void pgkms_http_config_init(pgkms_http_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = PGKMS_HTTP_CONNECT_TIMEOUT_MS;
    cfg->timeout_ms = PGKMS_HTTP_TIMEOUT_MS;
    cfg->retries = PGKMS_HTTP_RETRIES;
    cfg->backoff_ms = PGKMS_HTTP_BACKOFF_MS;
    cfg->backoff_max_ms = PGKMS_HTTP_BACKOFF_MAX_MS;
    cfg->holddown_ms = PGKMS_HTTP_HOLDDOWN_MS;
    cfg->max_response = PGKMS_HTTP_MAX_RESPONSE;
}

static const struct {
    const char *name;
    long min, max;
} numeric_options[] = {
    {"connect_timeout_ms", 1, 600000},
    {"timeout_ms", 1, 600000},
    {"retries", 0, PGKMS_HTTP_RETRIES_MAX},
    {"holddown_ms", 0, 3600000},
};

int pgkms_http_config_knows(const char *name)
{
    if (strcmp(name, "ca_file") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(numeric_options) / sizeof(numeric_options[0]); i++)
        if (strcmp(name, numeric_options[i].name) == 0)
            return 1;
    return 0;
}

pgkms_code pgkms_http_config_set(pgkms_http_config *cfg, const char *name, const char *value,
                                 pgkms_status *st)
{
    char *end;
    long v;

    if (strcmp(name, "ca_file") == 0) {
        if (value[0] != '/')
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "ca_file must be an absolute path, not \"%.64s\"", value);
        cfg->ca_file = value;
        return PGKMS_OK;
    }
    for (size_t i = 0; i < sizeof(numeric_options) / sizeof(numeric_options[0]); i++) {
        if (strcmp(name, numeric_options[i].name) != 0)
            continue;
        errno = 0;
        v = strtol(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno != 0 || v < numeric_options[i].min ||
            v > numeric_options[i].max)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "%s must be an integer from %ld to %ld, not \"%.32s\"", name,
                              numeric_options[i].min, numeric_options[i].max, value);
        if (strcmp(name, "connect_timeout_ms") == 0)
            cfg->connect_timeout_ms = v;
        else if (strcmp(name, "timeout_ms") == 0)
            cfg->timeout_ms = v;
        else if (strcmp(name, "retries") == 0)
            cfg->retries = (int)v;
        else
            cfg->holddown_ms = v;
        return PGKMS_OK;
    }
    return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "unknown HTTP option \"%.32s\"", name);
}

pgkms_code pgkms_http_new(const pgkms_http_config *cfg, const char *label, pgkms_http **out,
                          pgkms_status *st)
{
    pgkms_http *c;

    *out = NULL;
    (void)pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "libcurl initialization failed: %s",
                          curl_easy_strerror(global_rc));
    if (cfg->retries < 0 || cfg->retries > PGKMS_HTTP_RETRIES_MAX || cfg->timeout_ms <= 0 ||
        cfg->connect_timeout_ms <= 0 || cfg->max_response == 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid HTTP client settings");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    c->cfg = *cfg;
    c->label = strdup(label);
    c->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
    if (c->label == NULL || (cfg->ca_file != NULL && c->ca_file == NULL)) {
        pgkms_http_free(c);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    c->cfg.ca_file = c->ca_file;
    c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)now_ms() << 20 ^ (uint64_t)getpid();
    *out = c;
    return PGKMS_OK;
}

const char *pgkms_http_label(const pgkms_http *c)
{
    return c->label;
}

/*
 * A handle inherited through fork() shares its sockets (and TLS sessions) with the parent.
 * Cleaning it up normally would read from and write a TLS close_notify into the parent's
 * connections, so each inherited socket is first replaced by /dev/null under the same
 * descriptor number: the cleanup then talks to nothing and closes only our copies.
 */
static void detach_inherited(pgkms_http *c)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

    for (int i = 0; i < c->nsocks; i++) {
        if (devnull < 0 || dup2(devnull, c->socks[i]) < 0)
            close(c->socks[i]); /* at worst the cleanup writes to a closed descriptor */
    }
    if (devnull >= 0)
        close(devnull);
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
    c->nsocks = 0;
    c->down_until_ms = 0;
}

void pgkms_http_free(pgkms_http *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL) {
        if (c->pid != getpid())
            detach_inherited(c);
        else
            curl_easy_cleanup(c->curl);
    }
    free(c->label);
    free(c->ca_file);
    free(c);
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    pgkms_http *c = arg;
    int fd;

    if (purpose != CURLSOCKTYPE_IPCXN || c->nsocks >= MAX_SOCKETS)
        return CURL_SOCKET_BAD;
    fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd >= 0)
        c->socks[c->nsocks++] = fd;
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int close_socket(void *arg, curl_socket_t fd)
{
    pgkms_http *c = arg;

    for (int i = 0; i < c->nsocks; i++) {
        if (c->socks[i] == fd) {
            c->socks[i] = c->socks[--c->nsocks];
            break;
        }
    }
    return close(fd);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    recv_buf *b = arg;
    size_t n = size * nmemb;

    if (n > b->max - b->len) {
        b->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *grown;

        while (cap < b->len + n + 1)
            cap *= 2;
        /* Grow by copy so the old block is wiped, never left behind by realloc. */
        grown = malloc(cap);
        if (grown == NULL)
            return 0;
        if (b->data != NULL) {
            memcpy(grown, b->data, b->len);
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* http:// only to the loopback address; everything else must be https:// (verified). */
static int url_allowed(const char *url)
{
    static const char *const loopback[] = {"http://127.0.0.1", "http://[::1]"};

    if (strncmp(url, "https://", 8) == 0)
        return 1;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(loopback[i]);

        if (strncmp(url, loopback[i], n) == 0 && (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
            return 1;
    }
    return 0;
}

/* Header lines we own (so we can wipe them) chained as curl expects; curl only reads them. */
typedef struct header_list {
    struct curl_slist *nodes;
    size_t n;
} header_list;

static void headers_free(header_list *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->nodes[i].data != NULL) {
            OPENSSL_cleanse(h->nodes[i].data, strlen(h->nodes[i].data));
            free(h->nodes[i].data);
        }
    }
    free(h->nodes);
    h->nodes = NULL;
    h->n = 0;
}

static int headers_build(header_list *h, const pgkms_http_header *hs, size_t n)
{
    h->n = 0;
    h->nodes = n > 0 ? calloc(n, sizeof(struct curl_slist)) : NULL;
    if (n > 0 && h->nodes == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hs[i].name) + strlen(hs[i].value) + 3;
        char *line = malloc(len);

        if (line == NULL)
            return 0;
        /* "Name:" with nothing after it removes a header curl would add (Expect, Accept). */
        snprintf(line, len, hs[i].value[0] ? "%s: %s" : "%s:%s", hs[i].name, hs[i].value);
        h->nodes[i].data = line;
        h->nodes[i].next = i + 1 < n ? &h->nodes[i + 1] : NULL;
        h->n = i + 1;
    }
    return 1;
}

static int setup(pgkms_http *c, const pgkms_http_request *req, const header_list *h, recv_buf *b,
                 char *errbuf)
{
    CURL *e = c->curl;
    int ok = 1;

    curl_easy_reset(e); /* keeps the connection, DNS and TLS session caches */
    ok &= curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK; /* no SIGALRM in a backend */
#if LIBCURL_VERSION_NUM >= 0x075500
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http") == CURLE_OK;
#else
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP)) ==
          CURLE_OK;
#endif
    ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK; /* tokens stay here */
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    if (c->cfg.ca_file != NULL)
        ok &= curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg.ca_file) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_MAXCONNECTS, 2L) == CURLE_OK;
    ok &=
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->cfg.max_response) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "pgkms/" PGKMS_VERSION) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, b) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->n > 0 ? h->nodes : NULL) == CURLE_OK;
    if (strcmp(req->method, "GET") == 0) {
        ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    } else {
        if (strcmp(req->method, "POST") != 0)
            ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
        if (req->body != NULL || strcmp(req->method, "DELETE") != 0) {
            ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) ==
                  CURLE_OK;
            ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "") == CURLE_OK;
        }
    }
    return ok;
}

static int transient(CURLcode cc, unsigned flags)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1; /* nothing was sent */
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return !(flags & PGKMS_HTTP_NOT_IDEMPOTENT);
    default:
        return 0;
    }
}

static long backoff(pgkms_http *c, int retry)
{
    long d = c->cfg.backoff_ms;

    for (int i = 0; i < retry && d < c->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > c->cfg.backoff_max_ms)
        d = c->cfg.backoff_max_ms;
    if (d <= 1)
        return d;
    /* xorshift64: spreads the retries of many backends over [d/2, d]. */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return d / 2 + (long)(c->rng % (uint64_t)(d / 2 + 1));
}

static void response_reset(pgkms_http_response *resp)
{
    pgkms_json_wipe_free(resp->json);
    resp->json = NULL;
    if (resp->body != NULL) {
        OPENSSL_cleanse(resp->body, resp->body_len);
        free(resp->body);
    }
    resp->body = NULL;
    resp->body_len = 0;
}

void pgkms_http_response_free(pgkms_http_response *resp)
{
    if (resp != NULL) {
        response_reset(resp);
        resp->status = 0;
    }
}

pgkms_code pgkms_http_send(pgkms_http *c, const pgkms_http_request *req, pgkms_http_response *resp,
                           pgkms_status *st)
{
    header_list h = {NULL, 0};
    char errbuf[CURL_ERROR_SIZE], why[sizeof(c->down_why)];
    pgkms_code rc = PGKMS_E_ROOT_UNAVAILABLE;
    int64_t now = now_ms();
    int exhausted = 0;

    memset(resp, 0, sizeof(*resp));
    if (!url_allowed(req->url))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "%s: plain http:// is allowed only to 127.0.0.1 or [::1]; use https://",
                          c->label);
    if (c->curl != NULL && c->pid != getpid())
        detach_inherited(c);
    if (c->down_until_ms > now)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: unavailable (%s); next attempt in %lld ms", c->label, c->down_why,
                          (long long)(c->down_until_ms - now));
    if (c->curl == NULL) {
        if ((c->curl = curl_easy_init()) == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "%s: could not create a curl handle",
                              c->label);
        c->pid = getpid();
        c->nsocks = 0;
    }
    if (!headers_build(&h, req->headers, req->nheaders)) {
        headers_free(&h);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    why[0] = '\0';
    for (int attempt = 0; attempt <= c->cfg.retries; attempt++) {
        recv_buf b = {NULL, 0, 0, c->cfg.max_response, 0};
        CURLcode cc;

        if (attempt > 0)
            sleep_ms(backoff(c, attempt - 1));
        response_reset(resp);
        errbuf[0] = '\0';
        if (!setup(c, req, &h, &b, errbuf)) {
            rc = pgkms_fail(st, PGKMS_E_INTERNAL, "%s: could not set up the request", c->label);
            break;
        }
        cc = curl_easy_perform(c->curl);
        resp->attempts = attempt + 1;
        resp->body = b.data;
        resp->body_len = b.len;
        resp->status = 0;
        if (cc == CURLE_OK) {
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
            if (resp->body == NULL && (resp->body = calloc(1, 1)) == NULL) {
                rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
                break;
            }
            resp->json = resp->body_len > 0
                             ? json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL)
                             : NULL;
            if (resp->status >= 500 || resp->status == 429) {
                snprintf(why, sizeof(why), "HTTP %ld", resp->status);
                /* 429 and 503 say the request was not acted upon; other 5xx may have been. */
                if ((req->flags & PGKMS_HTTP_NOT_IDEMPOTENT) && resp->status != 429 &&
                    resp->status != 503) {
                    exhausted = 1;
                    break;
                }
            } else if (req->retryable != NULL && req->retryable(resp, req->retry_arg)) {
                snprintf(why, sizeof(why), "HTTP %ld", resp->status);
            } else {
                rc = PGKMS_OK;
                break;
            }
        } else if (b.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            rc = pgkms_fail(st, PGKMS_E_LIMIT, "%s: answer larger than %zu bytes refused", c->label,
                            c->cfg.max_response);
            break;
        } else {
            char msg[CURL_ERROR_SIZE];

            pgkms_http_sanitize(errbuf[0] ? errbuf : curl_easy_strerror(cc), msg, sizeof(msg));
            if (!transient(cc, req->flags)) {
                rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s", c->label, msg);
                break;
            }
            pgkms_http_sanitize(msg, why, sizeof(why));
        }
        exhausted = attempt == c->cfg.retries;
    }
    headers_free(&h);
    if (rc == PGKMS_OK) {
        c->down_until_ms = 0;
        return PGKMS_OK;
    }
    if (exhausted) {
        rc =
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: no usable answer after %d attempt%s (%s)",
                       c->label, resp->attempts, resp->attempts > 1 ? "s" : "", why);
        if (c->cfg.holddown_ms > 0) {
            c->down_until_ms = now_ms() + c->cfg.holddown_ms;
            pgkms_http_sanitize(why, c->down_why, sizeof(c->down_why));
        }
    }
    response_reset(resp);
    return rc;
}

pgkms_code pgkms_http_json(pgkms_http *c, const char *method, const char *url,
                           const pgkms_http_header *headers, size_t nheaders, const json_t *body,
                           pgkms_http_response *resp, pgkms_status *st)
{
    pgkms_http_header *all = calloc(nheaders + 2, sizeof(*all));
    pgkms_http_request req;
    size_t len = 0, n = 0;
    char *text = NULL;
    pgkms_code rc;

    memset(resp, 0, sizeof(*resp));
    if (all == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    all[n++] = (pgkms_http_header){"Accept", "application/json"};
    if (body != NULL) {
        all[n++] = (pgkms_http_header){"Content-Type", "application/json"};
        if ((text = pgkms_json_dump_secret(body, &len)) == NULL) {
            free(all);
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        }
    }
    for (size_t i = 0; i < nheaders; i++)
        all[n++] = headers[i];
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = all;
    req.nheaders = n;
    req.body = text;
    req.body_len = len;
    rc = pgkms_http_send(c, &req, resp, st);
    pgkms_http_secret_free(text, len);
    free(all);
    return rc;
}

char *pgkms_json_dump_secret(const json_t *j, size_t *len)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    char *buf;

    *len = 0;
    if (n == 0 || (buf = malloc(n + 1)) == NULL)
        return NULL;
    if (json_dumpb(j, buf, n, JSON_COMPACT) != n) {
        pgkms_http_secret_free(buf, n + 1);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

void pgkms_http_secret_free(char *p, size_t len)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, len);
        free(p);
    }
}

static void wipe_strings(json_t *j, int depth)
{
    const char *key;
    json_t *v;
    size_t i;

    if (depth > 64)
        return;
    if (json_is_string(j)) {
        OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, key, v) wipe_strings(v, depth + 1);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) wipe_strings(v, depth + 1);
    }
}

void pgkms_json_wipe_free(json_t *j)
{
    if (j != NULL) {
        wipe_strings(j, 0);
        json_decref(j);
    }
}

void pgkms_http_sanitize(const char *in, char *out, size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return;
    for (; in != NULL && *in != '\0' && n + 1 < cap; in++)
        out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}
