/* SPDX-License-Identifier: Apache-2.0 */
/* AES-256-GCM seal/open on a keyed EVP_CIPHER_CTX; large inputs are fed in int-sized chunks. */
#include <limits.h>
#include <openssl/core_names.h>

#include "pgkms/aead.h"
#include "pgkms/format.h"
#include "pgkms/secmem.h"

#define CHUNK ((size_t)1 << 30)

pgkms_code pgkms_gcm_set_key(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *gcm, int enc,
                             const uint8_t key[PGKMS_AES256_KEY_LEN], pgkms_status *st)
{
    if (!EVP_CipherInit_ex2(ctx, gcm, key, NULL, enc, NULL))
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not key AES-256-GCM");
    return PGKMS_OK;
}

static int feed_aad(EVP_CIPHER_CTX *ctx, const uint8_t *aad, size_t len)
{
    int outl;

    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;

        if (!EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)n))
            return 0;
        aad += n;
        len -= n;
    }
    return 1;
}

static int feed_data(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
    int outl;

    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;

        if (!EVP_CipherUpdate(ctx, out, &outl, in, (int)n) || (size_t)outl != n)
            return 0;
        in += n;
        out += n;
        len -= n;
    }
    return 1;
}

pgkms_code pgkms_gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad1,
                          size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *pt,
                          size_t len, uint8_t *ct, uint8_t *tag, pgkms_status *st)
{
    int outl;

    /* A keyed context re-initialised with a new IV keeps its key schedule. */
    if (!EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, 1, NULL) || !feed_aad(ctx, aad1, aad1_len) ||
        !feed_aad(ctx, aad2, aad2_len) || !feed_data(ctx, pt, len, ct) ||
        !EVP_CipherFinal_ex(ctx, ct + len, &outl) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, PGKMS_TAG_LEN, tag))
        return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM encryption failed");
    return PGKMS_OK;
}

pgkms_code pgkms_gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad1,
                          size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *ct,
                          size_t len, const uint8_t *tag, uint8_t *pt, pgkms_status *st)
{
    int outl;

    if (!EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, 0, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PGKMS_TAG_LEN, (void *)tag) ||
        !feed_aad(ctx, aad1, aad1_len) || !feed_aad(ctx, aad2, aad2_len) ||
        !feed_data(ctx, ct, len, pt)) {
        pgkms_wipe(pt, len);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM decryption failed");
    }
    if (EVP_CipherFinal_ex(ctx, pt + len, &outl) <= 0) {
        pgkms_wipe(pt, len);
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED, PGKMS_TAG_MISMATCH);
    }
    return PGKMS_OK;
}

/* One message with a context of its own: seals in to out (enc=1) or opens it (enc=0). */
static pgkms_code gcm_once(OSSL_LIB_CTX *libctx, const uint8_t key[PGKMS_AES256_KEY_LEN], int enc,
                           const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                           const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag,
                           pgkms_status *st)
{
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(libctx, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    pgkms_code rc;

    if (gcm == NULL || ctx == NULL)
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM is not available");
    else
        rc = pgkms_gcm_set_key(ctx, gcm, enc, key, st);
    if (rc == PGKMS_OK)
        rc = enc ? pgkms_gcm_seal(ctx, nonce, aad, aad_len, NULL, 0, in, len, out, tag, st)
                 : pgkms_gcm_open(ctx, nonce, aad, aad_len, NULL, 0, in, len, tag, out, st);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(gcm);
    return rc;
}

pgkms_code pgkms_gcm_seal_once(OSSL_LIB_CTX *libctx, const uint8_t key[PGKMS_AES256_KEY_LEN],
                               const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                               const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag,
                               pgkms_status *st)
{
    return gcm_once(libctx, key, 1, nonce, aad, aad_len, pt, len, ct, tag, st);
}

pgkms_code pgkms_gcm_open_once(OSSL_LIB_CTX *libctx, const uint8_t key[PGKMS_AES256_KEY_LEN],
                               const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                               const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *pt,
                               pgkms_status *st)
{
    return gcm_once(libctx, key, 0, nonce, aad, aad_len, ct, len, pt, (uint8_t *)tag, st);
}
