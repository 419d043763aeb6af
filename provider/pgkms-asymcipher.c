/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ASYM_CIPHER "PGKMS": envelope encryption of data (default) or of a data key
 * (kms-op:wrap) under a tenant key, whose output is the pgkms value format; and the
 * searchable operations (docs/searchable-encryption.md): deterministic values (kms-op:det,
 * also the value format), blind indexes and pseudonyms (kms-op:blind-index, pseudonym), whose
 * output is the MAC bytes or the pseudonym's text and which have no decryption.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "pgkms/codec.h"
#include "pgkms/search.h"
#include "pgkms/secmem.h"
#include "pgkms-provider.h"

/* Values of kms-op, in the order of op_names. */
typedef enum cipher_op { OP_DATA, OP_WRAP, OP_DET, OP_BLIND_INDEX, OP_PSEUDONYM } cipher_op;
static const char *const op_names[] = {"data", "wrap", "det", "blind-index", "pseudonym"};

typedef struct cipher_ctx {
    pgkms_prov_ctx *provctx;
    pgkms_prov_key *key; /* not owned: the EVP_PKEY_CTX holds the EVP_PKEY */
    cipher_op op;
    size_t max_input; /* PGKMS_PROV_MAX_INPUT unless raised by kms-max-input */
    uint8_t *context;
    size_t context_len;
    uint8_t purpose[PGKMS_PURPOSE_MAX]; /* kms-purpose, "default" unless set */
    size_t purpose_len;
    int bits;      /* kms-bits: length of a blind index, 256 unless set */
    int canonical; /* kms-canonical: blind index of the canonical form of the value */
    int sealer_ready;
    pgkms_sealer sealer;
    /* The key and version data was last sealed under, and until when that is known good. */
    pgkms_key_ref recent;
    time_t recent_until;
    pgkms_searcher searcher;
} cipher_ctx;

static void *ac_newctx(void *provctx)
{
    cipher_ctx *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->provctx = provctx;
        c->max_input = PGKMS_PROV_MAX_INPUT;
        memcpy(c->purpose, "default", 7);
        c->purpose_len = 7;
        c->bits = PGKMS_BLIND_INDEX_MAX_BITS;
    }
    return c;
}

static void ac_freectx(void *vctx)
{
    cipher_ctx *c = vctx;

    if (c == NULL)
        return;
    if (c->sealer_ready) {
        pgkms_sealer_cleanup(&c->sealer);
        pgkms_searcher_cleanup(&c->searcher);
    }
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
    c->recent_until = 0;
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
    pgkms_searcher_init(&c->searcher, crypto);
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

/* Bytes ac_encrypt writes for inlen bytes of input. */
static size_t encrypt_len(const cipher_ctx *c, size_t inlen)
{
    switch (c->op) {
    case OP_DET:
        return inlen + PGKMS_DET_OVERHEAD;
    case OP_BLIND_INDEX:
        return (size_t)c->bits / 8;
    case OP_PSEUDONYM:
        return PGKMS_PSEUDONYM_LEN;
    default:
        return inlen + PGKMS_OVERHEAD;
    }
}

/*
 * The key version an encryption uses: the current one, or for the searchable operations
 * always PGKMS_SEARCH_VERSION, so that rotation never changes what they compute.
 */
static pgkms_code encrypt_version(const cipher_ctx *c, const pgkms_key_record *rec,
                                  uint32_t *version, pgkms_status *st)
{
    const pgkms_prov_key *key = c->key;
    char kid[PGKMS_UUID_STR_LEN + 1];

    if (c->op == OP_DATA || c->op == OP_WRAP) {
        if (key->pinned_version != 0 && key->pinned_version != rec->current_version)
            return pgkms_fail(st, PGKMS_E_KEY_STATE,
                              "version %u is not the current version (%u) of the key; older "
                              "versions only decrypt",
                              key->pinned_version, rec->current_version);
        *version = rec->current_version;
        return PGKMS_OK;
    }
    if (key->pinned_version != 0 && key->pinned_version != PGKMS_SEARCH_VERSION)
        return pgkms_fail(st, PGKMS_E_KEY_STATE,
                          "kms-op \"%s\" always uses version %d of a key, not version %u",
                          op_names[c->op], PGKMS_SEARCH_VERSION, key->pinned_version);
    if (pgkms_key_record_version(rec, PGKMS_SEARCH_VERSION) == NULL) {
        pgkms_uuid_format(rec->key_id, kid);
        return pgkms_fail(st, PGKMS_E_KEY_NOT_FOUND,
                          "version %d of key %s, which deterministic values, blind indexes and "
                          "pseudonyms use, has been retired",
                          PGKMS_SEARCH_VERSION, kid);
    }
    *version = PGKMS_SEARCH_VERSION;
    return PGKMS_OK;
}

/* Blind index of in, or with kms-canonical of its canonical form. */
static pgkms_code blind_index(cipher_ctx *c, const pgkms_key_ref *ref, const uint8_t *tmk,
                              const uint8_t *in, size_t inlen, uint8_t *out, pgkms_status *st)
{
    uint8_t *norm;
    size_t len;
    pgkms_code rc;

    if (!c->canonical)
        return pgkms_search_blind_index(&c->searcher, ref, tmk, c->purpose, c->purpose_len, c->bits,
                                        in, inlen, out, st);
    if ((norm = malloc(inlen ? inlen : 1)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    len = pgkms_search_normalize(in, inlen, norm);
    rc = pgkms_search_blind_index(&c->searcher, ref, tmk, c->purpose, c->purpose_len, c->bits, norm,
                                  len, out, st);
    pgkms_wipe(norm, inlen);
    free(norm);
    return rc;
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
    uint32_t version = 0;
    char ps[PGKMS_PSEUDONYM_LEN + 1];
    int go;

    pgkms_status_clear(&st);
    if (inlen > c->max_input) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_LIMIT,
                              "input of %zu bytes exceeds the %zu-byte limit (64 MiB unless "
                              "raised with kms-max-input)",
                              inlen, c->max_input);
        return 0;
    }
    if (c->op == OP_WRAP && !valid_dek_len(inlen)) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                              "a data key to wrap must be 16, 24, 32, 48 or 64 bytes, not %zu",
                              inlen);
        return 0;
    }
    if ((go = begin(c, out, outlen, outsize, encrypt_len(c, inlen))) != BEGIN_GO)
        return go == BEGIN_SIZE_ONLY;
    if (c->op == OP_DATA && pgkms_monotonic_now() < c->recent_until &&
        pgkms_sealer_holds(&c->sealer, &c->recent)) {
        /*
         * The same key as the last value, its material still fresh, its data key held: the
         * path below would reach the same key and version (a loaded key's records never
         * change) and not read the material, so neither the lock nor the keyset is needed.
         */
        rc = pgkms_sealer_seal(&c->sealer, &c->recent, NULL, PGKMS_ALG_GCM_DATA, c->context,
                               c->context_len, in, inlen, out, &st);
        goto sealed;
    }
    if (!CRYPTO_THREAD_write_lock(key->lock))
        return 0;
    rec = pgkms_keyset_selected(&key->ks);
    rc = pgkms_key_usable(rec, &st);
    if (rc == PGKMS_OK)
        rc = encrypt_version(c, rec, &version, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_keyset_material(&key->ks, rec, version, pgkms_monotonic_now(), &tmk, &st);
    if (rc == PGKMS_OK) {
        pgkms_key_ref_of(rec->key_id, version, &ref);
        switch (c->op) {
        case OP_DET:
            rc = pgkms_search_det_seal(&c->searcher, &ref, tmk, c->context, c->context_len, in,
                                       inlen, out, &st);
            break;
        case OP_BLIND_INDEX:
            rc = blind_index(c, &ref, tmk, in, inlen, out, &st);
            break;
        case OP_PSEUDONYM:
            rc = pgkms_search_pseudonym(&c->searcher, &ref, tmk, c->purpose, c->purpose_len, in,
                                        inlen, ps, &st);
            if (rc == PGKMS_OK)
                memcpy(out, ps, PGKMS_PSEUDONYM_LEN);
            break;
        default:
            rc = pgkms_sealer_seal(&c->sealer, &ref, tmk,
                                   c->op == OP_WRAP ? PGKMS_ALG_GCM_KEYWRAP : PGKMS_ALG_GCM_DATA,
                                   c->context, c->context_len, in, inlen, out, &st);
            if (rc == PGKMS_OK && c->op == OP_DATA) {
                c->recent = ref;
                c->recent_until = pgkms_keyset_fresh_until(&key->ks, rec, version);
            }
        }
    }
    CRYPTO_THREAD_unlock(key->lock);
sealed:
    if (rc != PGKMS_OK) {
        pgkms_prov_raise(c->provctx, &st);
        return 0;
    }
    *outlen = encrypt_len(c, inlen);
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
    if (c->op == OP_BLIND_INDEX || c->op == OP_PSEUDONYM) {
        pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                              "kms-op \"%s\" has no decryption: it is a one-way function",
                              op_names[c->op]);
        return 0;
    }
    /* Data values open whether randomized or deterministic: the value names its algorithm. */
    rc = pgkms_format_parse(in, inlen, &env, &st);
    if (rc == PGKMS_OK && (env.alg == PGKMS_ALG_GCM_KEYWRAP) != (c->op == OP_WRAP))
        rc =
            pgkms_fail(&st, PGKMS_E_BAD_FORMAT, "input is %s, but kms-op is \"%s\"",
                       c->op == OP_WRAP ? "encrypted data" : "a wrapped data key", op_names[c->op]);
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
    if (rc == PGKMS_OK && env.alg == PGKMS_ALG_SIV_DATA)
        rc = pgkms_search_det_open(&c->searcher, &env, tmk, c->context, c->context_len, out, &st);
    else if (rc == PGKMS_OK)
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
        size_t i = 0;

        if (OSSL_PARAM_get_utf8_string_ptr(p, &op))
            while (i < sizeof(op_names) / sizeof(op_names[0]) && strcmp(op, op_names[i]) != 0)
                i++;
        if (op == NULL || i == sizeof(op_names) / sizeof(op_names[0])) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "kms-op must be \"data\", \"wrap\", \"det\", "
                                  "\"blind-index\" or \"pseudonym\"");
            return 0;
        }
        c->op = (cipher_op)i;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_PURPOSE)) != NULL) {
        const void *v = NULL;
        size_t len = 0;
        pgkms_status st;

        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            v = p->data;
            len = p->data_size;
        } else if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &len)) {
            return 0;
        }
        if (pgkms_search_purpose_validate(v, len, &st) != PGKMS_OK) {
            pgkms_prov_raise(c->provctx, &st);
            return 0;
        }
        memcpy(c->purpose, v, len);
        c->purpose_len = len;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_BITS)) != NULL) {
        int bits = 0;
        pgkms_status st;

        if (!OSSL_PARAM_get_int(p, &bits) || pgkms_search_bits_validate(bits, &st) != PGKMS_OK) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "kms-bits must be a multiple of 8 from %d to %d",
                                  PGKMS_BLIND_INDEX_MIN_BITS, PGKMS_BLIND_INDEX_MAX_BITS);
            return 0;
        }
        c->bits = bits;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_CANONICAL)) != NULL) {
        int canonical = 0;

        if (!OSSL_PARAM_get_int(p, &canonical) || (canonical != 0 && canonical != 1)) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "kms-canonical must be 0 or 1");
            return 0;
        }
        c->canonical = canonical;
    }
    if ((p = OSSL_PARAM_locate_const(params, PGKMS_PARAM_MAX_INPUT)) != NULL) {
        size_t max;

        if (!OSSL_PARAM_get_size_t(p, &max) || max > PGKMS_MAX_PLAINTEXT) {
            pgkms_prov_raise_code(c->provctx, PGKMS_E_INVALID_ARGUMENT,
                                  "kms-max-input must be at most %zu", PGKMS_MAX_PLAINTEXT);
            return 0;
        }
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
                                          OSSL_PARAM_octet_string(PGKMS_PARAM_PURPOSE, NULL, 0),
                                          OSSL_PARAM_int(PGKMS_PARAM_BITS, NULL),
                                          OSSL_PARAM_int(PGKMS_PARAM_CANONICAL, NULL),
                                          OSSL_PARAM_END};

    (void)vctx;
    (void)provctx;
    return settable;
}

static int ac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    cipher_ctx *c = vctx;
    OSSL_PARAM *p = OSSL_PARAM_locate(params, PGKMS_PARAM_OP);

    return p == NULL || OSSL_PARAM_set_utf8_string(p, op_names[c->op]);
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
