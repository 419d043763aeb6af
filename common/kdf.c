/* SPDX-License-Identifier: Apache-2.0 */
/* HKDF-SHA256 and HMAC-SHA256 through the library context's providers. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "pgkms/kdf.h"

pgkms_code pgkms_hkdf_sha256(OSSL_LIB_CTX *libctx, const uint8_t *ikm, size_t ikm_len,
                             const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len,
                             pgkms_status *st)
{
    EVP_KDF *kdf = EVP_KDF_fetch(libctx, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4];
    int ok;

    EVP_KDF_free(kdf);
    if (kctx == NULL)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "HKDF is not available");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[3] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(kctx, out, out_len, params);
    EVP_KDF_CTX_free(kctx);
    if (ok <= 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "HKDF derivation failed");
    return PGKMS_OK;
}

pgkms_code pgkms_hmac_sha256(OSSL_LIB_CTX *libctx, const uint8_t *key, size_t key_len,
                             const uint8_t *msg, size_t msg_len, uint8_t out[32], pgkms_status *st)
{
    EVP_MAC *mac = EVP_MAC_fetch(libctx, "HMAC", NULL);
    EVP_MAC_CTX *mctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t outl = 0;
    int ok;

    EVP_MAC_free(mac);
    if (mctx == NULL)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "HMAC is not available");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_MAC_init(mctx, key, key_len, params) && EVP_MAC_update(mctx, msg, msg_len) &&
         EVP_MAC_final(mctx, out, &outl, 32) && outl == 32;
    EVP_MAC_CTX_free(mctx);
    if (!ok)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "HMAC-SHA256 failed");
    return PGKMS_OK;
}
