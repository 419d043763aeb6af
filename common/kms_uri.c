/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parsing of KMS keyring URIs (see kms_uri.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "pgkms/kms_uri.h"

/* Option names that would carry a credential: refused with a pointer to the right place. */
static const char *const secret_names[] = {
    "token",      "secret",        "password",          "access_key",
    "secret_key", "session_token", "secret_access_key", "access_key_id",
    NULL};

static int path_char(char c)
{
    return isalnum((unsigned char)c) || strchr("-._~:/@+=,", c) != NULL;
}

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void pgkms_kms_uri_free(pgkms_kms_uri *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->nopts; i++) {
        free(u->opts[i].name);
        free(u->opts[i].value);
    }
    free(u->opts);
    free(u->scheme);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof(*u));
}

static pgkms_code parse_query(const char *q, pgkms_kms_uri *u, pgkms_status *st)
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&"), nlen = strcspn(q, "=&");
        pgkms_kms_option *opts;
        char *name, *value;
        int bad;

        if (nlen == 0 || nlen >= len)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "keyring URI option \"%.*s\" is not name=value",
                              (int)(len > 32 ? 32 : len), q);
        for (size_t i = 0; i < nlen; i++)
            if (!(islower((unsigned char)q[i]) || isdigit((unsigned char)q[i]) || q[i] == '_'))
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                  "invalid keyring URI option name \"%.*s\"",
                                  (int)(nlen > 32 ? 32 : nlen), q);
        if ((name = dup_range(q, nlen)) == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        for (size_t i = 0; secret_names[i] != NULL; i++) {
            if (strcmp(name, secret_names[i]) == 0) {
                free(name);
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                  "credentials do not belong in a keyring URI (option \"%s\"): "
                                  "use a credentials file or the environment",
                                  secret_names[i]);
            }
        }
        if (pgkms_kms_uri_option(u, name) != NULL) {
            pgkms_code rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                       "keyring URI option \"%s\" is given twice", name);

            free(name);
            return rc;
        }
        value = pgkms_percent_decode(q + nlen + 1, len - nlen - 1, &bad);
        if (value == NULL || value[0] == '\0') {
            pgkms_code rc = value == NULL && !bad
                                ? pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory")
                                : pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                             "keyring URI option \"%s\" has an empty or badly "
                                             "percent-encoded value",
                                             name);

            free(name);
            free(value);
            return rc;
        }
        opts = realloc(u->opts, (u->nopts + 1) * sizeof(*opts));
        if (opts == NULL) {
            free(name);
            free(value);
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        }
        u->opts = opts;
        u->opts[u->nopts].name = name;
        u->opts[u->nopts].value = value;
        u->nopts++;
        q += len;
        if (*q == '&')
            q++;
    }
    return PGKMS_OK;
}

static pgkms_code parse(const char *uri, pgkms_kms_uri *u, pgkms_status *st)
{
    const char *p = uri, *sep = strstr(uri, "://"), *auth, *end;
    size_t n;

    if (strlen(uri) > PGKMS_KMS_URI_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "keyring URI longer than %d characters",
                          PGKMS_KMS_URI_MAX);
    if (strchr(uri, '#') != NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "a keyring URI has no #fragment");
    if (sep == NULL || sep == uri || !isalpha((unsigned char)uri[0]))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "keyring URI \"%.64s\" has no scheme://",
                          uri);
    for (p = uri; p < sep; p++)
        if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid keyring URI scheme");
    if ((u->scheme = dup_range(uri, (size_t)(sep - uri))) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    for (char *s = u->scheme; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    auth = sep + 3;
    n = strcspn(auth, "/?");
    if (memchr(auth, '@', n) != NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "credentials do not belong in a keyring URI (user@host): use a "
                          "credentials file or the environment");
    end = auth + n;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', n);

        if (close == NULL || close == auth + 1)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "unterminated [IPv6] host");
        for (p = auth + 1; p < close; p++)
            if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid IPv6 host");
        u->host = dup_range(auth + 1, (size_t)(close - auth - 1));
        u->ipv6 = 1;
        p = close + 1;
    } else {
        for (p = auth; p < end && *p != ':'; p++)
            if (!host_char(*p))
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                  "invalid character '%c' in the host of keyring URI", *p);
        if (p == auth)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "keyring URI \"%.64s\" has no host",
                              uri);
        u->host = dup_range(auth, (size_t)(p - auth));
    }
    if (u->host == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    for (char *s = u->host; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    if (p < end) {
        long port = 0;

        if (*p != ':' || p + 1 == end)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid port in keyring URI");
        for (p++; p < end; p++) {
            if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535)
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid port in keyring URI");
        }
        if (port == 0)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid port in keyring URI");
        u->port = (int)port;
    }
    p = end;
    if (*p == '/')
        p++;
    n = strcspn(p, "?");
    for (size_t i = 0; i < n; i++)
        if (!path_char(p[i]))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "invalid character '%c' in the path of keyring URI", p[i]);
    if ((u->path = dup_range(p, n)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    p += n;
    return *p == '?' ? parse_query(p + 1, u, st) : PGKMS_OK;
}

pgkms_code pgkms_kms_uri_parse(const char *uri, pgkms_kms_uri *out, pgkms_status *st)
{
    pgkms_code rc;

    memset(out, 0, sizeof(*out));
    rc = parse(uri, out, st);
    if (rc != PGKMS_OK)
        pgkms_kms_uri_free(out);
    return rc;
}

const char *pgkms_kms_uri_option(const pgkms_kms_uri *u, const char *name)
{
    for (size_t i = 0; i < u->nopts; i++)
        if (strcmp(u->opts[i].name, name) == 0)
            return u->opts[i].value;
    return NULL;
}

pgkms_code pgkms_kms_uri_http_config(const pgkms_kms_uri *u, const char *const *known,
                                     pgkms_http_config *cfg, pgkms_status *st)
{
    for (size_t i = 0; i < u->nopts; i++) {
        const char *name = u->opts[i].name;
        int mine = 0;

        if (pgkms_http_config_knows(name)) {
            pgkms_code rc = pgkms_http_config_set(cfg, name, u->opts[i].value, st);

            if (rc != PGKMS_OK)
                return rc;
            continue;
        }
        for (size_t k = 0; known != NULL && known[k] != NULL; k++)
            mine |= strcmp(name, known[k]) == 0;
        if (!mine)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "unknown option \"%s\" in %s:// keyring URI", name, u->scheme);
    }
    return PGKMS_OK;
}

void pgkms_kms_uri_authority(const pgkms_kms_uri *u, int default_port, char *out, size_t cap)
{
    int port = u->port != 0 ? u->port : default_port;
    const char *open = u->ipv6 ? "[" : "", *close = u->ipv6 ? "]" : "";

    if (port == default_port || port == 0)
        snprintf(out, cap, "%s%s%s", open, u->host, close);
    else
        snprintf(out, cap, "%s%s%s:%d", open, u->host, close, port);
}
