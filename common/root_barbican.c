/* SPDX-License-Identifier: Apache-2.0 */
/* OpenStack Barbican root: a project's 32-byte secret fetched and used locally (see header). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgkms/codec.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_barbican.h"
#include "pgkms/secmem.h"

#define SCHEME_PREFIX "barbican+"
#define SECRETS_PATH  "/v1/secrets"
#define TOKEN_BUF     (PGKMS_BARBICAN_TOKEN_MAX + 2)
#define MAX_OPTIONS   16

static const char URI_FORM[] =
    "a Barbican root URI is barbican+https://host[:port]/<secret uuid>?project=<project id>";

/* ---- URI ---------------------------------------------------------------------------------- */

/* X-Project-Id travels in a header: visible ASCII only, so nothing can end the header line. */
static int header_safe(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int env_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s != '\0'; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static char *concat(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *s = malloc(n);

    if (s != NULL)
        snprintf(s, n, "%s%s%s%s", a, b, c, d);
    return s;
}

/* One name=value of the query; value is decoded and owned by the caller on success. */
static pgkms_code set_option(pgkms_barbican_target *t, const char *name, char *value,
                             pgkms_status *st)
{
    char **slot = NULL;

    if (strcmp(name, "project") == 0) {
        if (!header_safe(value, PGKMS_BARBICAN_PROJECT_MAX))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "project must be 1 to %d visible ASCII characters",
                              PGKMS_BARBICAN_PROJECT_MAX);
        slot = &t->project;
    } else if (strcmp(name, "token_file") == 0) {
        if (value[0] != '/')
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "token_file must be an absolute path, not \"%.64s\"", value);
        slot = &t->token_file;
    } else if (strcmp(name, "token_env") == 0) {
        if (!env_name_ok(value))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "token_env must name an environment variable, not \"%.64s\"", value);
        slot = &t->token_env;
    } else if (strcmp(name, "ca_file") == 0) {
        pgkms_code rc = pgkms_http_config_set(&t->http, name, value, st);

        if (rc != PGKMS_OK)
            return rc;
        slot = &t->ca_file;
    } else if (pgkms_http_config_knows(name)) {
        pgkms_code rc = pgkms_http_config_set(&t->http, name, value, st);

        if (rc == PGKMS_OK)
            free(value);
        return rc;
    } else {
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "unknown option \"%.32s\" in a Barbican root URI (known: project, "
                          "token_file, token_env, ca_file, connect_timeout_ms, timeout_ms, "
                          "retries, holddown_ms)",
                          name);
    }
    *slot = value;
    return PGKMS_OK;
}

static pgkms_code parse_query(pgkms_barbican_target *t, const char *q, pgkms_status *st)
{
    char *seen[MAX_OPTIONS];
    size_t nseen = 0;
    pgkms_code rc = PGKMS_OK;

    while (rc == PGKMS_OK && *q != '\0') {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        char *name = NULL, *value = NULL;

        if (eq == NULL || eq == q) {
            rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                            "a Barbican root URI's query is name=value pairs joined by &");
            break;
        }
        name = pgkms_percent_decode(q, (size_t)(eq - q), NULL);
        value = pgkms_percent_decode(eq + 1, len - (size_t)(eq - q) - 1, NULL);
        if (name == NULL || value == NULL) {
            rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                            "bad percent-encoding in a Barbican root URI");
        } else {
            for (size_t i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0)
                    rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                    "option \"%.32s\" is given twice in a Barbican root URI", name);
            if (rc == PGKMS_OK && nseen == MAX_OPTIONS)
                rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                "too many options in a Barbican root URI");
            if (rc == PGKMS_OK && (rc = set_option(t, name, value, st)) == PGKMS_OK) {
                value = NULL; /* owned by t now */
                seen[nseen++] = name;
                name = NULL;
            }
        }
        free(name);
        free(value);
        q += len;
        if (*q == '&')
            q++;
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    return rc;
}

pgkms_code pgkms_barbican_parse(const char *uri, pgkms_barbican_target *t, pgkms_status *st)
{
    const char *scheme, *auth, *path, *query, *last;
    size_t auth_len, path_len, prefix_len;
    char id_text[PGKMS_UUID_STR_LEN + 1], *endpoint;
    uint8_t id[PGKMS_UUID_LEN];
    pgkms_code rc;

    memset(t, 0, sizeof(*t));
    pgkms_http_config_init(&t->http);
    t->http.max_response = PGKMS_BARBICAN_MAX_RESPONSE;
    /* Spaces and controls would reach the URL and the messages: they must be percent-encoded. */
    for (const char *c = uri; *c != '\0'; c++) {
        if ((size_t)(c - uri) >= PGKMS_KMS_URI_MAX)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "a Barbican root URI is longer than %d bytes", PGKMS_KMS_URI_MAX);
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "a Barbican root URI holds only visible ASCII characters; "
                              "percent-encode the others in option values");
    }
    if (strncmp(uri, SCHEME_PREFIX, strlen(SCHEME_PREFIX)) == 0)
        uri += strlen(SCHEME_PREFIX);
    if (strncmp(uri, "https://", 8) == 0)
        scheme = "https://";
    else if (strncmp(uri, "http://", 7) == 0)
        scheme = "http://";
    else
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "%s", URI_FORM);
    auth = uri + strlen(scheme);
    auth_len = strcspn(auth, "/?#");
    if (auth_len == 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "%s", URI_FORM);
    if (memchr(auth, '@', auth_len) != NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "credentials do not belong in a Barbican root URI: use token_file or "
                          "token_env");
    path = auth + auth_len;
    path_len = strcspn(path, "?#");
    if (path[path_len] == '#')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "a Barbican root URI has no #fragment");
    query = path[path_len] == '?' ? path + path_len + 1 : path + path_len;
    if (strchr(query, '#') != NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "a Barbican root URI has no #fragment");
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    for (last = path + path_len; last > path && last[-1] != '/'; last--)
        ;
    if (path_len == 0 || (size_t)(path + path_len - last) != PGKMS_UUID_STR_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "%s (no secret uuid in the path)",
                          URI_FORM);
    memcpy(id_text, last, PGKMS_UUID_STR_LEN);
    id_text[PGKMS_UUID_STR_LEN] = '\0';
    if (pgkms_uuid_parse(id_text, id, NULL) != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "\"%s\" is not a Barbican secret uuid",
                          id_text);
    pgkms_uuid_format(id, id_text);
    /* The secret_ref Barbican returns (.../v1/secrets/<id>) is accepted as it is. */
    prefix_len = (size_t)(last - 1 - path);
    if (prefix_len >= strlen(SECRETS_PATH) &&
        strncmp(path + prefix_len - strlen(SECRETS_PATH), SECRETS_PATH, strlen(SECRETS_PATH)) == 0)
        prefix_len -= strlen(SECRETS_PATH);
    if (memchr(path, '%', prefix_len) != NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "percent-encoding is not accepted in a Barbican root URI's path");
    endpoint = malloc(strlen(scheme) + auth_len + prefix_len + 1);
    if (endpoint == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    snprintf(endpoint, strlen(scheme) + auth_len + prefix_len + 1, "%s%.*s%.*s", scheme,
             (int)auth_len, auth, (int)prefix_len, path);
    t->secret_id = strdup(id_text);
    t->payload_url = concat(endpoint, SECRETS_PATH "/", id_text, "/payload");
    t->label = concat("barbican keyring " SCHEME_PREFIX, endpoint, "/", id_text);
    free(endpoint);
    if (t->secret_id == NULL || t->payload_url == NULL || t->label == NULL) {
        pgkms_barbican_target_free(t);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    rc = parse_query(t, query, st);
    if (rc == PGKMS_OK && t->project == NULL)
        rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                        "a Barbican root URI needs ?project=<project id> (sent as X-Project-Id)");
    if (rc == PGKMS_OK && t->token_file != NULL && t->token_env != NULL)
        rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                        "a Barbican root URI takes token_file or token_env, not both");
    if (rc != PGKMS_OK)
        pgkms_barbican_target_free(t);
    else
        t->http.ca_file = t->ca_file;
    return rc;
}

void pgkms_barbican_target_free(pgkms_barbican_target *t)
{
    free(t->label);
    free(t->secret_id);
    free(t->payload_url);
    free(t->project);
    free(t->token_file);
    free(t->token_env);
    free(t->ca_file);
    memset(t, 0, sizeof(*t));
}

/* ---- token -------------------------------------------------------------------------------- */

static pgkms_code token_check(const pgkms_barbican_target *t, const char *token, size_t len,
                              const char *from, pgkms_status *st)
{
    if (len == 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: the token in %s is empty", t->label,
                          from);
    if (len > PGKMS_BARBICAN_TOKEN_MAX)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the token in %s is longer than %d bytes", t->label, from,
                          PGKMS_BARBICAN_TOKEN_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)token[i] < 0x21 || (unsigned char)token[i] > 0x7e)
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "%s: the token in %s has characters a header cannot carry", t->label,
                              from);
    return PGKMS_OK;
}

static pgkms_code read_token_file(const pgkms_barbican_target *t, char *buf, pgkms_status *st)
{
    struct stat sb;
    ssize_t n;
    size_t len;
    int fd = open(t->token_file, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: could not open token file \"%s\": %s",
                          t->label, t->token_file, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: token file \"%s\" is not a file",
                          t->label, t->token_file);
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: token file \"%s\" is accessible by group or others (mode %03o); "
                          "run chmod 600 on it",
                          t->label, t->token_file, (unsigned)(sb.st_mode & 0777));
    }
    n = read(fd, buf, TOKEN_BUF - 1);
    close(fd);
    if (n < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: could not read token file \"%s\": %s",
                          t->label, t->token_file, strerror(errno));
    len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    return token_check(t, buf, len, "token_file", st);
}

pgkms_code pgkms_barbican_token(const pgkms_barbican_target *t, char **token, pgkms_status *st)
{
    char *buf;
    pgkms_code rc;

    *token = NULL;
    if (t->token_file == NULL && t->token_env == NULL)
        return PGKMS_OK;
    if ((buf = pgkms_secure_alloc(TOKEN_BUF)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a token");
    if (t->token_file != NULL) {
        rc = read_token_file(t, buf, st);
    } else {
        const char *v = getenv(t->token_env);
        size_t len = v != NULL ? strlen(v) : 0;

        if (v == NULL)
            rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                            "%s: environment variable %s (token_env) is not set", t->label,
                            t->token_env);
        else
            rc = token_check(t, v, len, "token_env", st);
        if (rc == PGKMS_OK)
            memcpy(buf, v, len + 1);
    }
    if (rc != PGKMS_OK) {
        pgkms_secure_free(buf, TOKEN_BUF);
        return rc;
    }
    *token = buf;
    return PGKMS_OK;
}

void pgkms_barbican_token_free(char *token)
{
    pgkms_secure_free(token, TOKEN_BUF);
}

/* ---- payload ------------------------------------------------------------------------------ */

pgkms_code pgkms_barbican_payload(const pgkms_barbican_target *t, long status, const char *body,
                                  size_t body_len, const json_t *json,
                                  uint8_t secret[PGKMS_ROOT_SECRET_LEN], pgkms_status *st)
{
    const char *desc = json_string_value(json_object_get(json, "description"));
    char why[100] = "";

    if (status == 200) {
        if (body_len != PGKMS_ROOT_SECRET_LEN)
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "%s: the secret has %zu bytes; a root needs a 32-byte (AES-256) "
                              "symmetric secret",
                              t->label, body_len);
        memcpy(secret, body, PGKMS_ROOT_SECRET_LEN);
        return PGKMS_OK;
    }
    if (desc != NULL) {
        why[0] = ':';
        why[1] = ' ';
        pgkms_http_sanitize(desc, why + 2, sizeof(why) - 2);
    }
    switch (status) {
    case 401:
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: not authenticated (HTTP 401%s); the token is missing, expired or "
                          "invalid",
                          t->label, why);
    case 403:
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: access to the secret is denied for project %.40s (HTTP 403%s)",
                          t->label, t->project, why);
    case 404:
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the secret does not exist (HTTP 404%s); it was deleted or the id "
                          "is wrong",
                          t->label, why);
    case 406:
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s: the secret has no binary payload (HTTP 406); store it with "
                          "payload_content_type application/octet-stream",
                          t->label);
    default:
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: unexpected answer HTTP %ld%s",
                          t->label, status, why);
    }
}

/* ---- the root ----------------------------------------------------------------------------- */

typedef struct barbican_state {
    pgkms_barbican_target t;
    pgkms_http *http;
    pgkms_root_kek *kek; /* secure memory; NULL once a fetch has failed */
    int64_t fetched_ms;  /* monotonic time of the last successful fetch */
} barbican_state;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_kek(barbican_state *bs)
{
    pgkms_secure_free(bs->kek, sizeof(*bs->kek));
    bs->kek = NULL;
}

/* GETs the payload; on success the KEK and id are replaced, on failure the KEK is dropped. */
static pgkms_code fetch(pgkms_root *root, barbican_state *bs, pgkms_status *st)
{
    pgkms_http_header h[3] = {{"Accept", "application/octet-stream"},
                              {"X-Project-Id", bs->t.project},
                              {"X-Auth-Token", NULL}};
    pgkms_http_request req;
    pgkms_http_response resp;
    uint8_t *secret = NULL, id[PGKMS_ROOT_ID_LEN];
    pgkms_root_kek *fresh = NULL;
    char *token = NULL;
    pgkms_code rc;

    rc = pgkms_barbican_token(&bs->t, &token, st);
    if (rc != PGKMS_OK) {
        drop_kek(bs);
        return rc;
    }
    h[2].value = token;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = bs->t.payload_url;
    req.headers = h;
    req.nheaders = token != NULL ? 3 : 2;
    rc = pgkms_http_send(bs->http, &req, &resp, st);
    pgkms_barbican_token_free(token);
    if (rc == PGKMS_E_LIMIT) /* a payload is 32 bytes: whatever answered is not one */
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "%s: answer larger than %d bytes refused; is the URL a Barbican?",
                        bs->t.label, PGKMS_BARBICAN_MAX_RESPONSE);
    if (rc == PGKMS_OK) {
        secret = pgkms_secure_alloc(PGKMS_ROOT_SECRET_LEN);
        fresh = pgkms_secure_alloc(sizeof(*fresh));
        if (secret == NULL || fresh == NULL)
            rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for the root key");
    }
    if (rc == PGKMS_OK)
        rc = pgkms_barbican_payload(&bs->t, resp.status, resp.body, resp.body_len, resp.json,
                                    secret, st);
    pgkms_http_response_free(&resp);
    if (rc == PGKMS_OK)
        rc = pgkms_root_kek_derive(root->libctx, secret, fresh, id, st);
    pgkms_secure_free(secret, PGKMS_ROOT_SECRET_LEN);
    drop_kek(bs);
    if (rc != PGKMS_OK) {
        pgkms_secure_free(fresh, sizeof(*fresh));
        return rc;
    }
    bs->kek = fresh;
    bs->fetched_ms = now_ms();
    memcpy(root->id, id, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

static pgkms_code no_secret(const barbican_state *bs, pgkms_status *st)
{
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                      "%s: the secret is not available (its last fetch failed)", bs->t.label);
}

static pgkms_code barbican_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                                const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len,
                                pgkms_status *st)
{
    barbican_state *bs = root->state;

    if (bs->kek == NULL)
        return no_secret(bs, st);
    return pgkms_root_kek_wrap(root->libctx, bs->kek, aad, aad_len, key, key_len, out, out_len, st);
}

static pgkms_code barbican_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                                  const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                                  pgkms_status *st)
{
    barbican_state *bs = root->state;

    if (bs->kek == NULL)
        return no_secret(bs, st);
    return pgkms_root_kek_unwrap(root->libctx, bs->kek, aad, aad_len, in, in_len, key, key_len, st);
}

/*
 * Fetches the secret again. Unwraps of several keys in a row (and the first unwrap right after
 * open) share one fetch: a refresh within PGKMS_BARBICAN_MIN_REFETCH_MS of a successful fetch
 * reuses it.
 */
static pgkms_code barbican_refresh(pgkms_root *root, pgkms_status *st)
{
    barbican_state *bs = root->state;

    if (bs->kek != NULL && now_ms() - bs->fetched_ms < PGKMS_BARBICAN_MIN_REFETCH_MS)
        return PGKMS_OK;
    return fetch(root, bs, st);
}

static void barbican_close(pgkms_root *root)
{
    barbican_state *bs = root->state;

    if (bs == NULL)
        return;
    drop_kek(bs);
    pgkms_http_free(bs->http);
    pgkms_barbican_target_free(&bs->t);
    free(bs);
    root->state = NULL;
}

static const pgkms_root_ops barbican_ops = {"barbican", barbican_wrap, barbican_unwrap,
                                            barbican_refresh, barbican_close};

pgkms_code pgkms_root_barbican_open(pgkms_root *root, const char *uri, unsigned flags,
                                    pgkms_status *st)
{
    barbican_state *bs = calloc(1, sizeof(*bs));
    pgkms_code rc;

    (void)flags; /* pgkms creates nothing in Barbican: the operator stores the secret */
    if (bs == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    root->state = bs;
    rc = pgkms_barbican_parse(uri, &bs->t, st);
    if (rc == PGKMS_OK)
        rc = pgkms_http_new(&bs->t.http, bs->t.label, &bs->http, st);
    if (rc == PGKMS_OK)
        rc = fetch(root, bs, st);
    if (rc != PGKMS_OK) {
        barbican_close(root);
        return rc;
    }
    root->ops = &barbican_ops;
    return PGKMS_OK;
}
