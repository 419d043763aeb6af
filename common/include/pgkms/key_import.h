/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK import of tenant key material, in the AWS KMS "import key material" model: a one-time
 * RSA-3072 wrapping key and an import token per import; the tenant sends 32 bytes encrypted with
 * RSAES-OAEP-SHA-256 to it. docs/format.md §4 describes the sealed parameters.
 *
 * Flow: pgkms_import_params_new() gives the public key (to the tenant), the token (to the tenant;
 * the database keeps only pgkms_import_token_hash() of it) and the sealed private key (to the
 * database). pgkms_import_unwrap_material() turns the tenant's ciphertext back into the 32 bytes,
 * which the caller wraps as a tenant key version with pgkms_tenant_key_wrap() (tenant_key.h),
 * exactly like generated material. pgkms_material_check() recognises the same material later.
 */
#ifndef PGKMS_KEY_IMPORT_H
#define PGKMS_KEY_IMPORT_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/codec.h"
#include "pgkms/format.h"
#include "pgkms/root.h"

#define PGKMS_IMPORT_RSA_BITS       3072
#define PGKMS_IMPORT_TOKEN_LEN      32
#define PGKMS_IMPORT_TOKEN_HASH_LEN 32 /* SHA-256 */
#define PGKMS_IMPORT_MATERIAL_LEN   32
#define PGKMS_IMPORT_CHECK_LEN      32
#define PGKMS_IMPORT_SEALED_VERSION 1
/* Longest PKCS#8 DER accepted for the sealed private key (RSA-3072 needs about 1,800). */
#define PGKMS_IMPORT_DER_MAX 4096
/* version(1) root id(8) be16 wrapped length(2) wrapped nonce(12) ciphertext tag(16) */
#define PGKMS_IMPORT_SEALED_MAX                                                                    \
    (1 + PGKMS_ROOT_ID_LEN + 2 + PGKMS_WRAPPED_MAX + PGKMS_NONCE_LEN + PGKMS_IMPORT_DER_MAX +      \
     PGKMS_TAG_LEN)

typedef struct pgkms_import_params {
    char *public_pem; /* malloc'ed, NUL-terminated "-----BEGIN PUBLIC KEY-----" PEM */
    uint8_t *sealed;  /* malloc'ed: the private key sealed under the root (docs/format.md §4) */
    size_t sealed_len;
    uint8_t token[PGKMS_IMPORT_TOKEN_LEN]; /* handed to the tenant once; store only its hash */
} pgkms_import_params;

/*
 * New import parameters for key key_id: a fresh RSA-3072 key pair (from libctx, which may be
 * NULL), a random token, and the private key sealed under root and bound to key_id and token.
 */
pgkms_code pgkms_import_params_new(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                                   OSSL_LIB_CTX *libctx, pgkms_import_params *out,
                                   pgkms_status *st) PGKMS_MUST_CHECK;
/* Frees and wipes; p may be NULL or zeroed. */
void pgkms_import_params_free(pgkms_import_params *p);

/* SHA-256 of a token: what the database stores and looks tokens up by. */
pgkms_code pgkms_import_token_hash(OSSL_LIB_CTX *libctx, const uint8_t *token, size_t token_len,
                                   uint8_t out[PGKMS_IMPORT_TOKEN_HASH_LEN],
                                   pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Opens the sealed private key of key_id with token, and decrypts encrypted (one RSA-3072
 * block, RSAES-OAEP with SHA-256, MGF1-SHA-256, empty label) into material, which should be
 * caller's secure memory. Sealed parameters of another key, a wrong token or modified parameters
 * are PGKMS_E_AUTH_FAILED; so is every decryption failure, wrong length included (see
 * pgkms_import_oaep_decrypt). Checking the token's expiry is the caller's job.
 */
pgkms_code pgkms_import_unwrap_material(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                                        OSSL_LIB_CTX *libctx, const uint8_t *token,
                                        size_t token_len, const uint8_t *sealed, size_t sealed_len,
                                        const uint8_t *encrypted, size_t encrypted_len,
                                        uint8_t material[PGKMS_IMPORT_MATERIAL_LEN],
                                        pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * The decryption step on its own, for any RSA key: RSAES-OAEP (SHA-256, MGF1-SHA-256, empty
 * label) of encrypted into exactly 32 bytes of material. A ciphertext that is not one modulus
 * long is PGKMS_E_INVALID_ARGUMENT (its length is public). Everything else that goes wrong (bad
 * padding, another hash, a plaintext of another length) is one code, PGKMS_E_AUTH_FAILED, with
 * one message, and OpenSSL's own errors are removed from its queue, so callers cannot turn the
 * result into a padding oracle (Bleichenbacher, Manger). material is wiped on failure.
 */
pgkms_code pgkms_import_oaep_decrypt(OSSL_LIB_CTX *libctx, EVP_PKEY *pkey, const uint8_t *encrypted,
                                     size_t encrypted_len,
                                     uint8_t material[PGKMS_IMPORT_MATERIAL_LEN],
                                     pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Key-check value of imported material: HMAC-SHA256(key = material, "pgkms material check v1"
 * || key_id). Safe to store in the clear: it is a PRF output under the 256-bit material itself,
 * so it reveals nothing about the material and cannot be recomputed without it; the key id in
 * the message makes the same material under two keys give unrelated values. Compare with
 * pgkms_memcmp_ct().
 */
pgkms_code pgkms_material_check(OSSL_LIB_CTX *libctx,
                                const uint8_t material[PGKMS_IMPORT_MATERIAL_LEN],
                                const uint8_t key_id[PGKMS_UUID_LEN],
                                uint8_t out[PGKMS_IMPORT_CHECK_LEN],
                                pgkms_status *st) PGKMS_MUST_CHECK;

#endif
