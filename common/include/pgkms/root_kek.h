/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Roots whose 32-byte secret is brought into this process (a root file, a Barbican secret) wrap
 * tenant keys alike: AES-256-GCM under a key derived from the secret (HKDF), never under the
 * secret itself, with the caller's AAD. The same secret gives the same root id and KEK whatever
 * backend holds it.
 */
#ifndef PGKMS_ROOT_KEK_H
#define PGKMS_ROOT_KEK_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/root.h"
#include "pgkms/status.h"

#define PGKMS_ROOT_SECRET_LEN 32

typedef struct pgkms_root_kek {
    uint8_t key[PGKMS_ROOT_SECRET_LEN];
} pgkms_root_kek;

/* The root id: HMAC-SHA256(secret, "pgkms root id v1")[:8] (docs/format.md §2). */
pgkms_code pgkms_root_kek_id(OSSL_LIB_CTX *libctx, const uint8_t secret[PGKMS_ROOT_SECRET_LEN],
                             uint8_t id[PGKMS_ROOT_ID_LEN], pgkms_status *st) PGKMS_MUST_CHECK;

/* kek = HKDF-SHA256(secret, info "pgkms root wrap v1") and the root id; kek should live in
 * secure memory. */
pgkms_code pgkms_root_kek_derive(OSSL_LIB_CTX *libctx, const uint8_t secret[PGKMS_ROOT_SECRET_LEN],
                                 pgkms_root_kek *kek, uint8_t id[PGKMS_ROOT_ID_LEN],
                                 pgkms_status *st) PGKMS_MUST_CHECK;

/* out = 0x01 || nonce(12) || ciphertext || tag(16): key_len + 29 bytes. */
pgkms_code pgkms_root_kek_wrap(OSSL_LIB_CTX *libctx, const pgkms_root_kek *kek, const uint8_t *aad,
                               size_t aad_len, const uint8_t *key, size_t key_len, uint8_t *out,
                               size_t *out_len, pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_code pgkms_root_kek_unwrap(OSSL_LIB_CTX *libctx, const pgkms_root_kek *kek,
                                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                 size_t in_len, uint8_t *key, size_t key_len,
                                 pgkms_status *st) PGKMS_MUST_CHECK;

#endif
