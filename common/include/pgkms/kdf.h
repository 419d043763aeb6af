/* SPDX-License-Identifier: Apache-2.0 */
/* Key derivation (HKDF-SHA256) and keyed hashing (HMAC-SHA256). */
#ifndef PGKMS_KDF_H
#define PGKMS_KDF_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/status.h"

pgkms_code pgkms_hkdf_sha256(OSSL_LIB_CTX *libctx, const uint8_t *ikm, size_t ikm_len,
                             const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len,
                             pgkms_status *st) PGKMS_MUST_CHECK;

pgkms_code pgkms_hmac_sha256(OSSL_LIB_CTX *libctx, const uint8_t *key, size_t key_len,
                             const uint8_t *msg, size_t msg_len, uint8_t out[32],
                             pgkms_status *st) PGKMS_MUST_CHECK;

#endif
