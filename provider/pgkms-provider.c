/* SPDX-License-Identifier: Apache-2.0 */
/* Provider entry: configuration, algorithm tables, error reasons, lazily fetched crypto. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "pgkms-provider.h"

static const OSSL_ALGORITHM keymgmt_algs[] = {{PGKMS_KEY_TYPE, "provider=pgkms",
                                               pgkms_pgkms_keymgmt_functions,
                                               "pgkms tenant key (envelope encryption)"},
                                              {NULL, NULL, NULL, NULL}};

static const OSSL_ALGORITHM asym_cipher_algs[] = {
    {PGKMS_KEY_TYPE, "provider=pgkms", pgkms_pgkms_asym_cipher_functions,
     "pgkms envelope encryption (AES-256-GCM under a tenant key)"},
    {NULL, NULL, NULL, NULL}};

static const OSSL_ALGORITHM store_algs[] = {{PGKMS_STORE_SCHEME, "provider=pgkms",
                                             pgkms_kms_store_functions,
                                             "pgkms tenant keys by kms: URI"},
                                            {NULL, NULL, NULL, NULL}};

static const OSSL_ALGORITHM encoder_algs[] = {{PGKMS_KEY_TYPE, "provider=pgkms,output=text",
                                               pgkms_pgkms_text_encoder_functions,
                                               "pgkms tenant key description"},
                                              {NULL, NULL, NULL, NULL}};

/* Reason strings, indexed by pgkms_code. */
static const OSSL_ITEM reason_strings[] = {{PGKMS_E_INVALID_ARGUMENT, "invalid argument"},
                                           {PGKMS_E_BAD_FORMAT, "malformed pgkms data"},
                                           {PGKMS_E_AUTH_FAILED, "authentication failed"},
                                           {PGKMS_E_KEY_NOT_FOUND, "key not found"},
                                           {PGKMS_E_KEY_STATE, "key not usable in its state"},
                                           {PGKMS_E_DENIED, "permission denied"},
                                           {PGKMS_E_ROOT_UNAVAILABLE, "root key unavailable"},
                                           {PGKMS_E_NO_MEMORY, "out of memory"},
                                           {PGKMS_E_INTERNAL, "internal error"},
                                           {PGKMS_E_LIMIT, "input too large"},
                                           {0, NULL}};

void pgkms_prov_raise_code(const pgkms_prov_ctx *ctx, pgkms_code code, const char *fmt, ...)
{
    va_list ap;

    if (ctx == NULL || ctx->new_error == NULL)
        return;
    ctx->new_error(ctx->handle);
    va_start(ap, fmt);
    ctx->vset_error(ctx->handle, (uint32_t)code, fmt, ap);
    va_end(ap);
}

void pgkms_prov_raise(const pgkms_prov_ctx *ctx, const pgkms_status *st)
{
    pgkms_prov_raise_code(ctx, st->code, "%s", st->detail);
}

int pgkms_prov_config_ok(const pgkms_prov_ctx *ctx)
{
    if (ctx->config_error[0] == '\0')
        return 1;
    pgkms_prov_raise_code(ctx, PGKMS_E_INVALID_ARGUMENT, "%s", ctx->config_error);
    return 0;
}

const pgkms_crypto *pgkms_prov_crypto(pgkms_prov_ctx *ctx, pgkms_status *st)
{
    const pgkms_crypto *c = NULL;

    if (!CRYPTO_THREAD_write_lock(ctx->lock)) {
        pgkms_fail(st, PGKMS_E_INTERNAL, "lock failed");
        return NULL;
    }
    if (ctx->crypto_ready || pgkms_crypto_init(&ctx->crypto, ctx->libctx, NULL, st) == PGKMS_OK) {
        ctx->crypto_ready = 1;
        c = &ctx->crypto;
    }
    CRYPTO_THREAD_unlock(ctx->lock);
    return c;
}

static const OSSL_ALGORITHM *query(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher_algs;
    case OSSL_OP_STORE:
        return store_algs;
    case OSSL_OP_ENCODER:
        return encoder_algs;
    }
    return NULL;
}

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0), OSSL_PARAM_END};

    (void)provctx;
    return p;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, "pgkms per-tenant envelope encryption"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, PGKMS_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, PGKMS_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL &&
        !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return reason_strings;
}

static void teardown(void *vctx)
{
    pgkms_prov_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    if (ctx->crypto_ready)
        pgkms_crypto_cleanup(&ctx->crypto);
    OSSL_LIB_CTX_free(ctx->libctx);
    CRYPTO_THREAD_lock_free(ctx->lock);
    free(ctx->root_key);
    free(ctx->root_key_previous);
    free(ctx->keyring);
    free(ctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {0, NULL}};

/* Environment first, then the openssl.cnf section; never the command line. */
static int read_config(pgkms_prov_ctx *ctx, const OSSL_CORE_HANDLE *handle,
                       OSSL_FUNC_core_get_params_fn *get_params_fn)
{
    char *root = NULL, *previous = NULL, *keyring = NULL, *ttl = NULL;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(PGKMS_CONF_ROOT_KEY, &root, 0),
                      OSSL_PARAM_utf8_ptr(PGKMS_CONF_ROOT_KEY_PREVIOUS, &previous, 0),
                      OSSL_PARAM_utf8_ptr(PGKMS_CONF_KEYRING, &keyring, 0),
                      OSSL_PARAM_utf8_ptr(PGKMS_CONF_CACHE_TTL, &ttl, 0), OSSL_PARAM_END};
    const char *env;

    if (get_params_fn != NULL && !get_params_fn(handle, p))
        return 0;
    if ((env = getenv(PGKMS_ENV_ROOT_KEY)) != NULL && env[0] != '\0')
        root = (char *)env;
    if ((env = getenv(PGKMS_ENV_ROOT_KEY_PREVIOUS)) != NULL && env[0] != '\0')
        previous = (char *)env;
    if ((env = getenv(PGKMS_ENV_KEYRING)) != NULL && env[0] != '\0')
        keyring = (char *)env;
    ctx->root_key = root ? strdup(root) : NULL;
    ctx->root_key_previous = previous ? strdup(previous) : NULL;
    ctx->keyring = keyring ? strdup(keyring) : NULL;
    ctx->cache_ttl = PGKMS_DEFAULT_TTL;
    if (ttl != NULL) {
        char *end;
        long v = strtol(ttl, &end, 10);

        if (*end != '\0' || v < 0 || v > 86400)
            snprintf(ctx->config_error, sizeof(ctx->config_error),
                     "pgkms provider configuration: key_cache_ttl must be a number of seconds "
                     "from 0 to 86400, not \"%.32s\"",
                     ttl);
        else
            ctx->cache_ttl = (int)v;
    }
    return (root == NULL || ctx->root_key != NULL) &&
           (previous == NULL || ctx->root_key_previous != NULL) &&
           (keyring == NULL || ctx->keyring != NULL);
}

int pgkms_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                        const OSSL_DISPATCH **out, void **provctx)
{
    pgkms_prov_ctx *ctx = calloc(1, sizeof(*ctx));
    OSSL_FUNC_core_get_params_fn *get_params_fn = NULL;

    if (ctx == NULL)
        return 0;
    ctx->handle = handle;
    for (const OSSL_DISPATCH *f = in; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            ctx->new_error = OSSL_FUNC_core_new_error(f);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->set_error_debug = OSSL_FUNC_core_set_error_debug(f);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            ctx->vset_error = OSSL_FUNC_core_vset_error(f);
            break;
        case OSSL_FUNC_CORE_GET_PARAMS:
            get_params_fn = OSSL_FUNC_core_get_params(f);
            break;
        }
    }
    ctx->lock = CRYPTO_THREAD_lock_new();
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    if (ctx->lock == NULL || ctx->libctx == NULL || !read_config(ctx, handle, get_params_fn)) {
        teardown(ctx);
        return 0;
    }
    *out = provider_functions;
    *provctx = ctx;
    return 1;
}
