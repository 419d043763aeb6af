/* SPDX-License-Identifier: Apache-2.0 */
/* AES-256-GCM on a context that keeps its key schedule: only the nonce changes per message. */
#ifndef PGKMS_AEAD_H
#define PGKMS_AEAD_H

#include <stdint.h>
#include <openssl/evp.h>

#include "pgkms/status.h"

#define PGKMS_AES256_KEY_LEN 32

/* Keys ctx for sealing (enc=1) or opening (enc=0); gcm is a fetched AES-256-GCM. */
pgkms_code pgkms_gcm_set_key(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *gcm, int enc,
                             const uint8_t key[PGKMS_AES256_KEY_LEN],
                             pgkms_status *st) PGKMS_MUST_CHECK;

/* AAD is aad1 || aad2 (either may be empty). ct gets len bytes. */
pgkms_code pgkms_gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad1,
                          size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *pt,
                          size_t len, uint8_t *ct, uint8_t *tag, pgkms_status *st) PGKMS_MUST_CHECK;

/* The detail of PGKMS_E_AUTH_FAILED, whichever GCM opened the value. */
#define PGKMS_TAG_MISMATCH                                                                         \
    "authentication tag does not match: wrong key or context, or the value was modified"

/*
 * Opens into pt (len bytes). On any failure pt is wiped before returning, so no byte of
 * unauthenticated plaintext ever reaches the caller.
 */
pgkms_code pgkms_gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad1,
                          size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *ct,
                          size_t len, const uint8_t *tag, uint8_t *pt,
                          pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * One message under key with a context of its own, for rare uses such as wrapping a key:
 * fetches AES-256-GCM from libctx, keys, seals or opens, frees. Opening wipes pt on failure.
 */
pgkms_code pgkms_gcm_seal_once(OSSL_LIB_CTX *libctx, const uint8_t key[PGKMS_AES256_KEY_LEN],
                               const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                               const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag,
                               pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_code pgkms_gcm_open_once(OSSL_LIB_CTX *libctx, const uint8_t key[PGKMS_AES256_KEY_LEN],
                               const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                               const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *pt,
                               pgkms_status *st) PGKMS_MUST_CHECK;

#endif
