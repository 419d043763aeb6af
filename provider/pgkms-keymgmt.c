/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEYMGMT "PGKMS": tenant key handles. Import takes a keyring record (wrapped material only),
 * generation creates a tenant's default key; nothing is ever exported.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "pgkms-provider.h"

static void *km_new(void *provctx)
{
    return pgkms_prov_key_new(provctx);
}

static void km_free(void *keydata)
{
    pgkms_prov_key_free(keydata);
}

static int km_has(const void *keydata, int selection)
{
    const pgkms_prov_key *key = keydata;

    (void)selection;
    return key != NULL && key->loaded;
}

static void *km_load(const void *reference, size_t reference_sz)
{
    pgkms_prov_key *key;

    if (reference_sz != sizeof(key))
        return NULL;
    memcpy(&key, reference, sizeof(key));
    return pgkms_prov_key_up_ref(key) ? key : NULL;
}

static const OSSL_PARAM *km_import_types(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_utf8_string(PGKMS_PARAM_TENANT, NULL, 0),
        OSSL_PARAM_utf8_string(PGKMS_PARAM_KEYRING, NULL, 0),
        OSSL_PARAM_utf8_string(PGKMS_PARAM_KEY, NULL, 0),
        OSSL_PARAM_utf8_string(PGKMS_PARAM_ROOT_KEY, NULL, 0),
        OSSL_PARAM_utf8_string(PGKMS_PARAM_ROOT_KEY_PREVIOUS, NULL, 0),
        OSSL_PARAM_int(PGKMS_PARAM_CACHE_TTL, NULL),
        OSSL_PARAM_int(PGKMS_PARAM_ROOT_CREATE, NULL),
        OSSL_PARAM_END};

    (void)selection;
    return types;
}

static const char *param_utf8(const OSSL_PARAM params[], const char *name)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, name);
    const char *v = NULL;

    if (p != NULL && !OSSL_PARAM_get_utf8_string_ptr(p, &v))
        return NULL;
    return v;
}

static void param_int(const OSSL_PARAM params[], const char *name, int *out)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, name);

    if (p != NULL)
        (void)OSSL_PARAM_get_int(p, out);
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    pgkms_prov_key *key = keydata;
    const char *tenant = param_utf8(params, PGKMS_PARAM_TENANT);
    const char *json = param_utf8(params, PGKMS_PARAM_KEYRING);
    const char *select = param_utf8(params, PGKMS_PARAM_KEY);
    const char *root = param_utf8(params, PGKMS_PARAM_ROOT_KEY);
    const char *previous = param_utf8(params, PGKMS_PARAM_ROOT_KEY_PREVIOUS);
    int ttl = key->provctx->cache_ttl, create = 0;
    pgkms_keyring kr;
    pgkms_status st;
    pgkms_code rc;

    (void)selection;
    if (!pgkms_prov_config_ok(key->provctx))
        return 0;
    param_int(params, PGKMS_PARAM_CACHE_TTL, &ttl);
    param_int(params, PGKMS_PARAM_ROOT_CREATE, &create);
    if (key->loaded || tenant == NULL || json == NULL) {
        pgkms_prov_raise_code(key->provctx, PGKMS_E_INVALID_ARGUMENT,
                              "a pgkms key is imported once, from a tenant and a keyring");
        return 0;
    }
    rc = pgkms_keyring_parse(json, strlen(json), &kr, &st);
    if (rc == PGKMS_OK) {
        rc = pgkms_prov_key_load(key, tenant, &kr, select, root ? root : key->provctx->root_key,
                                 previous ? previous : key->provctx->root_key_previous,
                                 create ? PGKMS_ROOT_CREATE : 0, ttl, &st);
        pgkms_keyring_free(&kr);
    }
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(key->provctx, &st);
        return 0;
    }
    return 1;
}

/* Generation: a new default key for a tenant, returned as an importable keyring record. */
typedef struct gen_ctx {
    pgkms_prov_ctx *provctx;
    char *tenant;
    char *root;
    int ttl;
    int create;
    int rotate; /* key_id and version are set: make a new version of an existing key */
    uint8_t key_id[PGKMS_UUID_LEN];
    unsigned int version;
} gen_ctx;

static int km_gen_set_params(void *vgen, const OSSL_PARAM params[])
{
    gen_ctx *gen = vgen;
    const char *tenant = param_utf8(params, PGKMS_PARAM_TENANT);
    const char *root = param_utf8(params, PGKMS_PARAM_ROOT_KEY);

    if (tenant != NULL) {
        free(gen->tenant);
        if ((gen->tenant = strdup(tenant)) == NULL)
            return 0;
    }
    if (root != NULL) {
        free(gen->root);
        if ((gen->root = strdup(root)) == NULL)
            return 0;
    }
    param_int(params, PGKMS_PARAM_CACHE_TTL, &gen->ttl);
    param_int(params, PGKMS_PARAM_ROOT_CREATE, &gen->create);
    {
        const char *kid = param_utf8(params, PGKMS_PARAM_KEY_ID);
        const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_VERSION);

        if (kid != NULL) {
            if (pgkms_uuid_parse(kid, gen->key_id, NULL) != PGKMS_OK)
                return 0;
            gen->rotate = 1;
        }
        if (p != NULL && !OSSL_PARAM_get_uint(p, &gen->version))
            return 0;
    }
    return 1;
}

static void *km_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    gen_ctx *gen = calloc(1, sizeof(*gen));

    (void)selection;
    if (gen == NULL)
        return NULL;
    gen->provctx = provctx;
    gen->ttl = gen->provctx->cache_ttl;
    if (params != NULL && !km_gen_set_params(gen, params)) {
        free(gen);
        return NULL;
    }
    return gen;
}

static const OSSL_PARAM *km_gen_settable_params(void *vgen, void *provctx)
{
    static const OSSL_PARAM settable[] = {OSSL_PARAM_utf8_string(PGKMS_PARAM_TENANT, NULL, 0),
                                          OSSL_PARAM_utf8_string(PGKMS_PARAM_ROOT_KEY, NULL, 0),
                                          OSSL_PARAM_int(PGKMS_PARAM_CACHE_TTL, NULL),
                                          OSSL_PARAM_int(PGKMS_PARAM_ROOT_CREATE, NULL),
                                          OSSL_PARAM_utf8_string(PGKMS_PARAM_KEY_ID, NULL, 0),
                                          OSSL_PARAM_uint(PGKMS_PARAM_VERSION, NULL),
                                          OSSL_PARAM_END};

    (void)vgen;
    (void)provctx;
    return settable;
}

static void *km_gen(void *vgen, OSSL_CALLBACK *cb, void *cbarg)
{
    gen_ctx *gen = vgen;
    const char *root_uri = gen->root ? gen->root : gen->provctx->root_key;
    pgkms_prov_key *key = NULL;
    pgkms_root *root = NULL;
    pgkms_keyring kr = {0, NULL};
    pgkms_key_record rec;
    pgkms_status st;
    pgkms_code rc;
    char kid[PGKMS_UUID_STR_LEN + 1];

    (void)cb;
    (void)cbarg;
    if (!pgkms_prov_config_ok(gen->provctx))
        return NULL;
    if (gen->tenant == NULL) {
        pgkms_prov_raise_code(gen->provctx, PGKMS_E_INVALID_ARGUMENT,
                              "key generation needs a tenant");
        return NULL;
    }
    rc = pgkms_root_open(gen->provctx->libctx, root_uri, gen->create ? PGKMS_ROOT_CREATE : 0, &root,
                         &st);
    if (rc == PGKMS_OK)
        rc = gen->rotate ? pgkms_tenant_key_new_version(root, gen->tenant, gen->key_id,
                                                        gen->version, &rec, &st)
                         : pgkms_tenant_key_create(root, gen->tenant, 1, &rec, &st);
    pgkms_root_close(root);
    if (rc == PGKMS_OK)
        pgkms_uuid_format(rec.key_id, kid);
    if (rc == PGKMS_OK)
        rc = pgkms_keyring_add(&kr, &rec, &st);
    if (rc == PGKMS_OK) {
        key = pgkms_prov_key_new(gen->provctx);
        if (key == NULL)
            rc = pgkms_fail(&st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    if (rc == PGKMS_OK)
        rc = pgkms_prov_key_load(key, gen->tenant, &kr, kid, root_uri, NULL, 0, gen->ttl, &st);
    pgkms_keyring_free(&kr);
    if (rc != PGKMS_OK) {
        pgkms_prov_key_free(key);
        pgkms_prov_raise(gen->provctx, &st);
        return NULL;
    }
    return key;
}

static void km_gen_cleanup(void *vgen)
{
    gen_ctx *gen = vgen;

    if (gen == NULL)
        return;
    free(gen->tenant);
    free(gen->root);
    free(gen);
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
                                          OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
                                          OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
                                          OSSL_PARAM_utf8_string(PGKMS_PARAM_TENANT, NULL, 0),
                                          OSSL_PARAM_utf8_string(PGKMS_PARAM_KEY_ID, NULL, 0),
                                          OSSL_PARAM_utf8_string(PGKMS_PARAM_KEYRING, NULL, 0),
                                          OSSL_PARAM_END};

    (void)provctx;
    return gettable;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    pgkms_prov_key *key = keydata;
    OSSL_PARAM *p;
    int ok = 1;

    if (!key->loaded)
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL)
        ok &= OSSL_PARAM_set_int(p, 256);
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL)
        ok &= OSSL_PARAM_set_int(p, 256);
    /* pkeyutl reads at most 10 x this; the cipher refuses more than PGKMS_PROV_MAX_INPUT. */
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL)
        ok &= OSSL_PARAM_set_int(p, (int)(PGKMS_PROV_MAX_INPUT + PGKMS_OVERHEAD));
    if ((p = OSSL_PARAM_locate(params, PGKMS_PARAM_TENANT)) != NULL)
        ok &= OSSL_PARAM_set_utf8_string(p, key->ks.tenant);
    if ((p = OSSL_PARAM_locate(params, PGKMS_PARAM_KEY_ID)) != NULL) {
        char kid[PGKMS_UUID_STR_LEN + 1];

        pgkms_uuid_format(pgkms_keyset_selected(&key->ks)->key_id, kid);
        ok &= OSSL_PARAM_set_utf8_string(p, kid);
    }
    if ((p = OSSL_PARAM_locate(params, PGKMS_PARAM_KEYRING)) != NULL) {
        char *json = NULL;
        pgkms_status st;

        if (!CRYPTO_THREAD_read_lock(key->lock))
            return 0;
        if (pgkms_keyring_serialize(&key->ks.keys, &json, &st) != PGKMS_OK) {
            pgkms_prov_raise(key->provctx, &st);
            ok = 0;
        } else {
            ok &= OSSL_PARAM_set_utf8_string(p, json);
        }
        CRYPTO_THREAD_unlock(key->lock);
        free(json);
    }
    return ok;
}

static const char *km_query_operation_name(int operation_id)
{
    (void)operation_id;
    return PGKMS_KEY_TYPE;
}

const OSSL_DISPATCH pgkms_pgkms_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))km_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))km_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))km_gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_query_operation_name},
    {0, NULL}};
