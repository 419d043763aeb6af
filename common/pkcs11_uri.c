/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 7512 PKCS#11 URIs: the grammar, percent-decoding, and the attributes a root key needs. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgkms/codec.h"
#include "pgkms/pkcs11_uri.h"

#define OBJECT_MAX 255 /* longest CKA_LABEL matched */

typedef enum { A_STRING, A_BYTES, A_TYPE, A_REFUSED } attr_kind;

typedef struct attr_def {
    const char *name;
    attr_kind kind;
    size_t field;    /* offset of the char * (or uint8_t *) in pgkms_pkcs11_uri */
    size_t max;      /* longest decoded value */
    const char *why; /* A_REFUSED: the reason given */
} attr_def;

#define F(m) offsetof(pgkms_pkcs11_uri, m)

static const char NOT_BY_SLOT[] = "select the token by its label (token=), not its slot: "
                                  "slot ids change when tokens are added or re-initialised";
static const char NOT_SUPPORTED[] = "select the token with token=, serial=, manufacturer= or "
                                    "model=";

static const attr_def path_attrs[] = {
    {"token", A_STRING, F(token), PGKMS_P11_LABEL_MAX, NULL},
    {"manufacturer", A_STRING, F(manufacturer), PGKMS_P11_LABEL_MAX, NULL},
    {"model", A_STRING, F(model), PGKMS_P11_SHORT_MAX, NULL},
    {"serial", A_STRING, F(serial), PGKMS_P11_SHORT_MAX, NULL},
    {"object", A_STRING, F(object), OBJECT_MAX, NULL},
    {"id", A_BYTES, F(id), PGKMS_P11_ID_MAX, NULL},
    {"type", A_TYPE, 0, 16, NULL},
    {"slot-id", A_REFUSED, 0, 0, NOT_BY_SLOT},
    {"slot-description", A_REFUSED, 0, 0, NOT_BY_SLOT},
    {"slot-manufacturer", A_REFUSED, 0, 0, NOT_BY_SLOT},
    {"library-manufacturer", A_REFUSED, 0, 0, NOT_SUPPORTED},
    {"library-description", A_REFUSED, 0, 0, NOT_SUPPORTED},
    {"library-version", A_REFUSED, 0, 0, NOT_SUPPORTED},
};

static const attr_def query_attrs[] = {
    {"module-path", A_STRING, F(module_path), PGKMS_P11_URI_MAX, NULL},
    {"pin-source", A_STRING, F(pin_ref), PGKMS_P11_URI_MAX, NULL},
    {"pin-value", A_REFUSED, 0, 0,
     "a PIN written in the URI would show in settings, logs and process lists; "
     "use pin-source=file:/path or pin-source=env:NAME"},
    {"module-name", A_REFUSED, 0, 0, "name the module by its absolute module-path"},
};

#define NPATH  (sizeof(path_attrs) / sizeof(path_attrs[0]))
#define NQUERY (sizeof(query_attrs) / sizeof(query_attrs[0]))

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* pk11-pchar (path) and pk11-qchar (query), percent-encoding aside. */
static int is_allowed(unsigned char c, int query)
{
    if (c == '\0')
        return 0;
    if (is_unreserved(c) || strchr(":[]@!$'()*+,=", c) != NULL)
        return 1;
    return query && strchr("/?|", c) != NULL;
}

/* Decodes the value of attribute name into a NUL-terminated malloc'ed buffer. */
static pgkms_code decode(const attr_def *a, const char *s, size_t len, int query, uint8_t **out,
                         size_t *out_len, pgkms_status *st)
{
    uint8_t *buf = malloc(len + 1);
    size_t n = 0;

    if (buf == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < len ? pgkms_hex_digit(s[i + 1]) : -1;
            int lo = hi >= 0 ? pgkms_hex_digit(s[i + 2]) : -1;

            if (hi < 0 || lo < 0) {
                free(buf);
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                  "pkcs11 URI: attribute \"%s\" has a \"%%\" not followed by two "
                                  "hex digits",
                                  a->name);
            }
            buf[n++] = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else if (is_allowed(c, query)) {
            buf[n++] = c;
        } else {
            free(buf);
            if (c > 0x20 && c < 0x7f)
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                                  "pkcs11 URI: character \"%c\" in attribute \"%s\" must be "
                                  "percent-encoded (%%%02X)",
                                  c, a->name, c);
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: byte 0x%02x in attribute \"%s\" must be "
                              "percent-encoded (%%%02X)",
                              c, a->name, c);
        }
    }
    buf[n] = '\0';
    if (n > a->max) {
        free(buf);
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: attribute \"%s\" is longer than %zu bytes", a->name, a->max);
    }
    if (a->kind == A_STRING && memchr(buf, '\0', n) != NULL) {
        free(buf);
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: attribute \"%s\" contains a NUL byte (%%00)", a->name);
    }
    *out = buf;
    *out_len = n;
    return PGKMS_OK;
}

static pgkms_code set_attr(pgkms_pkcs11_uri *u, const attr_def *a, const char *value, size_t len,
                           int query, pgkms_status *st)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    pgkms_code rc;

    if (a->kind == A_REFUSED)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "pkcs11 URI: \"%s\" is not accepted: %s",
                          a->name, a->why);
    rc = decode(a, value, len, query, &buf, &n, st);
    if (rc != PGKMS_OK)
        return rc;
    if (a->kind == A_TYPE) {
        int ok = strcmp((char *)buf, "secret-key") == 0;

        free(buf);
        return ok ? PGKMS_OK
                  : pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                               "pkcs11 URI: the root key is an AES secret key: type must be "
                               "\"secret-key\"");
    }
    if (a->kind == A_BYTES) {
        u->id = buf;
        u->id_len = n;
        u->has_id = 1;
        return PGKMS_OK;
    }
    *(char **)((char *)u + a->field) = (char *)buf;
    return PGKMS_OK;
}

/* An attribute of the other part (e.g. module-path before the "?") is named as such. */
static pgkms_code unknown_attr(const char *name, size_t nlen, int query, pgkms_status *st)
{
    const attr_def *other = query ? path_attrs : query_attrs;
    size_t nother = query ? NPATH : NQUERY;
    int n = (int)(nlen > 64 ? 64 : nlen);

    for (size_t i = 0; i < nother; i++)
        if (strlen(other[i].name) == nlen && memcmp(other[i].name, name, nlen) == 0)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: \"%.*s\" belongs in the %s", n, name,
                              query ? "path (before \"?\", separated by \";\")"
                                    : "query (after \"?\", separated by \"&\")");
    return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "pkcs11 URI: unknown %s attribute \"%.*s\"",
                      query ? "query" : "path", n, name);
}

/* Parses the ";"- or "&"-separated attributes in [s, s + len). */
static pgkms_code parse_part(pgkms_pkcs11_uri *u, const char *s, size_t len, int query,
                             pgkms_status *st)
{
    const attr_def *defs = query ? query_attrs : path_attrs;
    size_t ndefs = query ? NQUERY : NPATH;
    char sep = query ? '&' : ';';
    unsigned seen = 0;
    const char *end = s + len;

    if (len == 0)
        return PGKMS_OK;
    for (const char *p = s;; p++) {
        const char *e = memchr(p, sep, (size_t)(end - p));
        const char *eq;
        size_t i, nlen;
        pgkms_code rc;

        if (e == NULL)
            e = end;
        if (e == p)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: empty attribute in the %s (a stray \"%c\")",
                              query ? "query" : "path", sep);
        eq = memchr(p, '=', (size_t)(e - p));
        if (eq == NULL)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: \"%.*s\" is not an attribute (name=value)",
                              (int)(e - p > 64 ? 64 : e - p), p);
        nlen = (size_t)(eq - p);
        for (i = 0; i < ndefs; i++)
            if (strlen(defs[i].name) == nlen && memcmp(defs[i].name, p, nlen) == 0)
                break;
        if (i == ndefs)
            return unknown_attr(p, nlen, query, st);
        if (seen & (1u << i))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: attribute \"%s\" is given twice", defs[i].name);
        seen |= 1u << i;
        rc = set_attr(u, &defs[i], eq + 1, (size_t)(e - eq - 1), query, st);
        if (rc != PGKMS_OK)
            return rc;
        if (e == end)
            return PGKMS_OK;
        p = e;
    }
}

static int env_name_ok(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (; *s != '\0'; s++)
        if (!(is_unreserved((unsigned char)*s) && *s != '-' && *s != '.' && *s != '~'))
            return 0;
    return 1;
}

/* pin-source: "env:NAME", "file:/path", "file:///path" or "/path". */
static pgkms_code parse_pin_source(pgkms_pkcs11_uri *u, pgkms_status *st)
{
    const char *src = u->pin_ref, *ref = NULL;
    char *copy;

    if (src == NULL) {
        u->pin_kind = PGKMS_PIN_DEFAULT;
        return PGKMS_OK;
    }
    if (strncmp(src, "env:", 4) == 0) {
        if (!env_name_ok(src + 4))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: pin-source \"env:\" needs an environment variable "
                              "name of letters, digits and _");
        u->pin_kind = PGKMS_PIN_ENV;
        ref = src + 4;
    } else {
        if (strncmp(src, "file://", 7) == 0)
            ref = src + 7;
        else if (strncmp(src, "file:", 5) == 0)
            ref = src + 5;
        else
            ref = src;
        if (ref[0] != '/')
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "pkcs11 URI: pin-source must be file:/absolute/path, an absolute "
                              "path or env:NAME");
        u->pin_kind = PGKMS_PIN_FILE;
    }
    copy = strdup(ref);
    if (copy == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    free(u->pin_ref);
    u->pin_ref = copy;
    return PGKMS_OK;
}

pgkms_code pgkms_pkcs11_uri_parse(const char *uri, pgkms_pkcs11_uri *out, pgkms_status *st)
{
    const char *path, *q;
    size_t len;
    pgkms_code rc;

    memset(out, 0, sizeof(*out));
    if (uri == NULL || strncasecmp(uri, "pkcs11:", 7) != 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "not a pkcs11: URI");
    len = strlen(uri);
    if (len > PGKMS_P11_URI_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "pkcs11 URI is longer than %d characters",
                          PGKMS_P11_URI_MAX);
    path = uri + 7;
    q = strchr(path, '?');
    rc = parse_part(out, path, q != NULL ? (size_t)(q - path) : strlen(path), 0, st);
    if (rc == PGKMS_OK && q != NULL)
        rc = parse_part(out, q + 1, strlen(q + 1), 1, st);
    if (rc != PGKMS_OK)
        return rc;
    if (out->token == NULL || out->token[0] == '\0')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: token=<label> is required (the token is chosen by label)");
    if (out->object == NULL || out->object[0] == '\0')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: object=<label> is required (the root key's label)");
    if (out->module_path == NULL || out->module_path[0] != '/')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: ?module-path=<absolute path of the PKCS#11 module> is "
                          "required");
    return parse_pin_source(out, st);
}

void pgkms_pkcs11_uri_free(pgkms_pkcs11_uri *u)
{
    if (u == NULL)
        return;
    free(u->token);
    free(u->manufacturer);
    free(u->model);
    free(u->serial);
    free(u->object);
    free(u->id);
    free(u->module_path);
    free(u->pin_ref);
    memset(u, 0, sizeof(*u));
}
