/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STORE "kms": opens kms:tenant=<t>[;key=<alias|id>][;version=<n>] (also after kms://)
 * against the configured keyring file, creating the tenant's default key on first use.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include "pgkms-provider.h"

typedef struct store_ctx {
    pgkms_prov_ctx *provctx;
    char tenant[PGKMS_TENANT_MAX + 1];
    char key[128];
    uint32_t version;
    int done;
    int failed; /* a failed load is reported once before EOF, so storeutl exits non-zero */
} store_ctx;

/* Splits "tenant=a;key=b;version=3"; unknown or repeated attributes are refused. */
static pgkms_code parse_uri(store_ctx *s, const char *uri, pgkms_status *st)
{
    const char *p;
    int have_tenant = 0, have_key = 0, have_version = 0;

    if (strncmp(uri, "kms://", 6) == 0)
        p = uri + 6;
    else if (strncmp(uri, "kms:", 4) == 0)
        p = uri + 4;
    else
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "not a kms: URI");
    while (*p != '\0') {
        const char *end = strchr(p, ';'), *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p), nlen, vlen;

        eq = memchr(p, '=', len);
        if (eq == NULL)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "kms: URI attributes are name=value pairs separated by ';'");
        nlen = (size_t)(eq - p);
        vlen = len - nlen - 1;
        if (nlen == 6 && strncmp(p, "tenant", 6) == 0 && !have_tenant++) {
            if (vlen == 0 || vlen > PGKMS_TENANT_MAX)
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid tenant in kms: URI");
            memcpy(s->tenant, eq + 1, vlen);
            s->tenant[vlen] = '\0';
        } else if (nlen == 3 && strncmp(p, "key", 3) == 0 && !have_key++) {
            if (vlen == 0 || vlen >= sizeof(s->key))
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid key in kms: URI");
            memcpy(s->key, eq + 1, vlen);
            s->key[vlen] = '\0';
        } else if (nlen == 7 && strncmp(p, "version", 7) == 0 && !have_version++) {
            char buf[12], *stop;
            unsigned long v;

            if (vlen == 0 || vlen >= sizeof(buf))
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid version in kms: URI");
            memcpy(buf, eq + 1, vlen);
            buf[vlen] = '\0';
            v = strtoul(buf, &stop, 10);
            if (*stop != '\0' || v == 0 || v > 0x7FFFFFFF)
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid version in kms: URI");
            s->version = (uint32_t)v;
        } else {
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "unknown or repeated attribute \"%.*s\" in kms: URI", (int)nlen, p);
        }
        p += len + (end ? 1 : 0);
    }
    if (!have_tenant)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "kms: URI needs tenant=<name>");
    return pgkms_tenant_validate(s->tenant, st);
}

static void *st_open(void *provctx, const char *uri)
{
    store_ctx *s = calloc(1, sizeof(*s));
    pgkms_status st;

    if (s == NULL)
        return NULL;
    if (!pgkms_prov_config_ok(provctx)) {
        free(s);
        return NULL;
    }
    s->provctx = provctx;
    if (parse_uri(s, uri, &st) != PGKMS_OK) {
        pgkms_prov_raise(provctx, &st);
        free(s);
        return NULL;
    }
    return s;
}

static const OSSL_PARAM *st_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
                                          OSSL_PARAM_END};

    (void)provctx;
    return settable;
}

static int st_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    (void)vctx;
    (void)params;
    return 1; /* only keys live here; expectations need no filtering */
}

/* Reads the keyring, creating the tenant's default key under a lock when it has none. */
static pgkms_code load_keyring(store_ctx *s, pgkms_keyring *kr, pgkms_status *st)
{
    pgkms_prov_ctx *ctx = s->provctx;
    pgkms_root *root = NULL;
    pgkms_key_record rec;
    int lock = -1;
    pgkms_code rc;

    if (ctx->keyring == NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "no keyring file: set %s or \"%s\" in the provider's openssl.cnf "
                          "section",
                          PGKMS_ENV_KEYRING, PGKMS_CONF_KEYRING);
    if (ctx->root_key == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "no root key: set %s or \"%s\" in the provider's openssl.cnf section",
                          PGKMS_ENV_ROOT_KEY, PGKMS_CONF_ROOT_KEY);
    /* Reading needs no lock (the file is replaced atomically); creating a key does. */
    rc = pgkms_keyring_load(ctx->keyring, kr, st);
    if (rc != PGKMS_OK || s->key[0] != '\0' || pgkms_keyring_find_default(kr, s->tenant) != NULL)
        return rc;
    pgkms_keyring_free(kr);
    rc = pgkms_keyring_lock(ctx->keyring, &lock, st);
    if (rc == PGKMS_OK)
        rc = pgkms_keyring_load(ctx->keyring, kr, st);
    if (rc == PGKMS_OK && pgkms_keyring_find_default(kr, s->tenant) == NULL) {
        rc = pgkms_root_open(ctx->libctx, ctx->root_key, 0, &root, st);
        if (rc == PGKMS_OK)
            rc = pgkms_tenant_key_create(root, s->tenant, 1, &rec, st);
        if (rc == PGKMS_OK)
            rc = pgkms_keyring_add(kr, &rec, st);
        if (rc == PGKMS_OK)
            rc = pgkms_keyring_save(ctx->keyring, kr, st);
        pgkms_root_close(root);
    }
    pgkms_keyring_unlock(lock);
    return rc;
}

static int st_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    store_ctx *s = vctx;
    pgkms_prov_key *key = NULL;
    pgkms_keyring kr = {0, NULL};
    pgkms_status st;
    pgkms_code rc;
    int ok = 0;

    (void)pw_cb;
    (void)pw_cbarg;
    if (s->failed) {
        s->done = 1;
        return 0;
    }
    rc = load_keyring(s, &kr, &st);
    if (rc == PGKMS_OK && (key = pgkms_prov_key_new(s->provctx)) == NULL)
        rc = pgkms_fail(&st, PGKMS_E_NO_MEMORY, "out of memory");
    if (rc == PGKMS_OK)
        rc = pgkms_prov_key_load(key, s->tenant, &kr, s->key[0] ? s->key : NULL,
                                 s->provctx->root_key, s->provctx->root_key_previous, 0,
                                 s->provctx->cache_ttl, &st);
    if (rc == PGKMS_OK && s->version != 0) {
        const pgkms_key_record *rec = pgkms_keyset_selected(&key->ks);

        if (pgkms_key_record_version(rec, s->version) == NULL)
            rc = pgkms_fail(&st, PGKMS_E_KEY_NOT_FOUND,
                            "the key of tenant \"%s\" has no version %u", s->tenant, s->version);
        key->pinned_version = s->version;
    }
    pgkms_keyring_free(&kr);
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(s->provctx, &st);
        s->failed = 1;
    } else {
        int type = OSSL_OBJECT_PKEY;
        OSSL_PARAM params[4];

        params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                                     (char *)PGKMS_KEY_TYPE, 0);
        params[2] =
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(key));
        params[3] = OSSL_PARAM_construct_end();
        ok = object_cb(params, object_cbarg);
        s->done = 1;
    }
    pgkms_prov_key_free(key); /* KEYMGMT load took its own reference */
    return ok;
}

static int st_eof(void *vctx)
{
    return ((store_ctx *)vctx)->done;
}

static int st_close(void *vctx)
{
    free(vctx);
    return 1;
}

const OSSL_DISPATCH pgkms_kms_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))st_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))st_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))st_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))st_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))st_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))st_close},
    {0, NULL}};
