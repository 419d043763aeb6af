/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ASYM_CIPHER "PGKMS": envelope encryption of data (default) or of a data key
 * (kms-op:wrap) under a tenant key. The output is the pgkms value format.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "pgkms/secmem.h"
#include "pgkms-provider.h"

typedef struct cipher_ctx {
    pgkms_prov_ctx *provctx;
    pgkms_prov_key *key; /* not owned: the EVP_PKEY_CTX holds the EVP_PKEY */
    int wrap;            /* kms-op:wrap */
    size_t max_input;    /* PGKMS_PROV_MAX_INPUT unless raised by kms-max-input */
    uint8_t *context;
    size_t context_len;
    int sealer_ready;
    pgkms_sealer sealer;
} cipher_ctx;

static void *ac_newctx(void *provctx)
{
    cipher_ctx *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->provctx = provctx;
        c->max_input = PGKMS_PROV_MAX_INPUT;
    }
    return c;
}

static void ac_freectx(void *vctx)
{
    cipher_ctx *c = vctx;

    if (c == NULL)
        return;
    if (c->sealer_ready)
        pgkms_sealer_cleanup(&c->sealer);
    pgkms_wipe(c->context, c->context_len);
    free(c->context);
    free(c);
}

static int ac_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int ac_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
    cipher_ctx *c = vctx;
    pgkms_prov_key *key = keydata;

    if (key == NULL || !key->loaded) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT, "no pgkms key loaded");
        return 0;
    }
    c->key = key;
    return ac_set_ctx_params(c, params);
}

static int ready_sealer(cipher_ctx *c, pgkms_status *st)
{
    const pgkms_crypto *crypto;

    if (c->sealer_ready)
        return 1;
    crypto = pgkms_prov_crypto(c->provctx, st);
    if (crypto == NULL)
        return 0;
    pgkms_sealer_init(&c->sealer, crypto);
    c->sealer_ready = 1;
    return 1;
}

/* What both directions do before the work; see begin(). */
enum { BEGIN_ERROR = -1, BEGIN_SIZE_ONLY = 0, BEGIN_GO = 1 };

/*
 * Answers a size query (out == NULL), checks the output buffer and sets up the sealer.
 * The caller returns 1 for BEGIN_SIZE_ONLY, 0 for BEGIN_ERROR, and works on for BEGIN_GO.
 */
static int begin(cipher_ctx *c, unsigned char *out, size_t *outlen, size_t outsize, size_t need)
{
    pgkms_status st;

    if (out == NULL) {
        *outlen = need;
        return BEGIN_SIZE_ONLY;
    }
    if (outsize < need) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT, "output buffer too small");
        return BEGIN_ERROR;
    }
    if (!ready_sealer(c, &st)) {
        pgkms_prov_raise(c->provctx, &st);
        return BEGIN_ERROR;
    }
    return BEGIN_GO;
}

static int valid_dek_len(size_t len)
{
    return len == 16 || len == 24 || len == 32 || len == 48 || len == 64;
}

static int ac_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                      const unsigned char *in, size_t inlen)
{
    cipher_ctx *c = vctx;
    pgkms_prov_key *key = c->key;
    const pgkms_key_record *rec;
    const uint8_t *tmk;
    pgkms_key_ref ref;
    pgkms_status st;
    pgkms_code rc;
    int go;

    pgkms_status_clear(&st);
    if (inlen > c->max_input) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_LIMIT,
                              "input of %zu bytes exceeds the %zu-byte limit (64 MiB unless "
                              "raised with kms-max-input)",
                              inlen, c->max_input);
        return 0;
    }
    if (c->wrap && !valid_dek_len(inlen)) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                              "a data key to wrap must be 16, 24, 32, 48 or 64 bytes, not %zu",
                              inlen);
        return 0;
    }
    if ((go = begin(c, out, outlen, outsize, inlen + PGKMS_OVERHEAD)) != BEGIN_GO)
        return go == BEGIN_SIZE_ONLY;
    if (!CRYPTO_THREAD_write_lock(key->lock))
        return 0;
    rec = pgkms_keyset_selected(&key->ks);
    rc = pgkms_key_usable(rec, &st);
    if (rc == PGKMS_OK && key->pinned_version != 0 && key->pinned_version != rec->current_version)
        rc = pgkms_fail(&st, PGKMS_E_KEY_STATE,
                        "version %u is not the current version (%u) of the key; older "
                        "versions only decrypt",
                        key->pinned_version, rec->current_version);
    if (rc == PGKMS_OK)
        rc = pgkms_keyset_material(&key->ks, rec, rec->current_version, pgkms_monotonic_now(), &tmk,
                                   &st);
    if (rc == PGKMS_OK) {
        pgkms_key_ref_of(rec->key_id, rec->current_version, &ref);
        rc = pgkms_sealer_seal(&c->sealer, &ref, tmk,
                               c->wrap ? PGKMS_ALG_GCM_KEYWRAP : PGKMS_ALG_GCM_DATA, c->context,
                               c->context_len, in, inlen, out, &st);
    }
    CRYPTO_THREAD_unlock(key->lock);
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(c->provctx, &st);
        return 0;
    }
    *outlen = inlen + PGKMS_OVERHEAD;
    return 1;
}

static pgkms_code resolve(pgkms_prov_key *key, const pgkms_envelope *env,
                          const pgkms_key_record **rec, pgkms_status *st)
{
    if (pgkms_keyset_find(&key->ks, env->key_ref, rec, NULL) == PGKMS_OK)
        return PGKMS_OK;
    for (size_t i = 0; i < key->nforeign; i++)
        if (memcmp(key->foreign[i], env->key_ref, PGKMS_KEY_REF_LEN) == 0)
            return pgkms_fail(st, PGKMS_E_DENIED, "the value belongs to another tenant than \"%s\"",
                              key->ks.tenant);
    return pgkms_keyset_find(&key->ks, env->key_ref, rec, st);
}

static int ac_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                      const unsigned char *in, size_t inlen)
{
    cipher_ctx *c = vctx;
    pgkms_prov_key *key = c->key;
    const pgkms_key_record *rec = NULL;
    const uint8_t *tmk;
    pgkms_envelope env;
    pgkms_status st;
    pgkms_code rc;
    int go;

    pgkms_status_clear(&st);
    rc = pgkms_format_parse(in, inlen, &env, &st);
    if (rc == PGKMS_OK && (env.alg == PGKMS_ALG_GCM_KEYWRAP) != (c->wrap != 0))
        rc = pgkms_fail(&st, PGKMS_E_BAD_FORMAT, "input is %s, but kms-op is \"%s\"",
                        c->wrap ? "encrypted data" : "a wrapped data key",
                        c->wrap ? "wrap" : "data");
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(c->provctx, &st);
        return 0;
    }
    if ((go = begin(c, out, outlen, outsize, env.ciphertext_len)) != BEGIN_GO)
        return go == BEGIN_SIZE_ONLY;
    if (!CRYPTO_THREAD_write_lock(key->lock))
        return 0;
    rc = resolve(key, &env, &rec, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_key_usable(rec, &st);
    if (rc == PGKMS_OK)
        rc =
            pgkms_keyset_material(&key->ks, rec, env.key_version, pgkms_monotonic_now(), &tmk, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_sealer_open(&c->sealer, &env, tmk, c->context, c->context_len, out, &st);
    CRYPTO_THREAD_unlock(key->lock);
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(c->provctx, &st);
        return 0;
    }
    *outlen = env.ciphertext_len;
    return 1;
}

static int ac_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    cipher_ctx *c = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_OP)) != NULL) {
        const char *op = NULL;

        if (!OSSL_PARAM_get_utf8_string_ptr(p, &op) ||
            (strcmp(op, "wrap") != 0 && strcmp(op, "data") != 0)) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "kms-op must be \"data\" or \"wrap\"");
            return 0;
        }
        c->wrap = strcmp(op, "wrap") == 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_MAX_INPUT)) != NULL) {
        size_t max;

        if (!OSSL_PARAM_get_size_t(p, &max) || max > PGKMS_MAX_PLAINTEXT)
            return 0;
        c->max_input = max;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_CONTEXT)) != NULL) {
        const void *v = NULL;
        size_t len = 0;

        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            v = p->data;
            len = p->data_size;
        } else if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &len)) {
            return 0;
        }
        if (len > PGKMS_MAX_CONTEXT_LEN) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "context of %zu bytes exceeds the %d-byte limit", len,
                                  PGKMS_MAX_CONTEXT_LEN);
            return 0;
        }
        /* Reused per value by the extension: keep the buffer when it is large enough. */
        if (len > c->context_len || c->context == NULL) {
            uint8_t *buf = malloc(len ? len : 1);

            if (buf == NULL)
                return 0;
            pgkms_wipe(c->context, c->context_len);
            free(c->context);
            c->context = buf;
        }
        if (len > 0)
            memcpy(c->context, v, len);
        c->context_len = len;
    }
    return 1;
}

static const OSSL_PARAM *ac_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {OSSL_PARAM_utf8_string(PGKMS_PARAM_OP, NULL, 0),
                                          OSSL_PARAM_size_t(PGKMS_PARAM_MAX_INPUT, NULL),
                                          OSSL_PARAM_octet_string(PGKMS_PARAM_CONTEXT, NULL, 0),
                                          OSSL_PARAM_END};

    (void)vctx;
    (void)provctx;
    return settable;
}

static int ac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    cipher_ctx *c = vctx;
    OSSL_PARAM *p = OSSL_PARAM_locate(params, PGKMS_PARAM_OP);

    return p == NULL || OSSL_PARAM_set_utf8_string(p, c->wrap ? "wrap" : "data");
}

static const OSSL_PARAM *ac_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = {OSSL_PARAM_utf8_string(PGKMS_PARAM_OP, NULL, 0),
                                          OSSL_PARAM_END};

    (void)vctx;
    (void)provctx;
    return gettable;
}

const OSSL_DISPATCH pgkms_pgkms_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ac_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ac_freectx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))ac_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))ac_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ac_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ac_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ac_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ac_settable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ac_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ac_gettable_ctx_params},
    {0, NULL}};
