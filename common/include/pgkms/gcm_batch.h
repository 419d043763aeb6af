/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM sealing of short values with the block cipher work done ahead, for a whole
 * batch of nonces at once: per value only an XOR and GHASH remain; and opening them with one
 * AES-256-ECB call per value, then GHASH (docs/performance.md, docs/architecture.md).
 */
#ifndef PGKMS_GCM_BATCH_H
#define PGKMS_GCM_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "pgkms/aead.h"
#include "pgkms/format.h"
#include "pgkms/status.h"

#define PGKMS_GCM_BLOCK     16
#define PGKMS_GCM_BATCH_MAX 64  /* longest plaintext sealed from a batch; longer ones: aead.h */
#define PGKMS_GCM_BATCH_N   256 /* nonces per batch */
/* Per nonce: E(K, J0), which masks the tag, then the key stream E(K, J0 + 1), ... */
#define PGKMS_GCM_BATCH_BLOCKS (1 + PGKMS_GCM_BATCH_MAX / PGKMS_GCM_BLOCK)

typedef struct pgkms_gcm_batch pgkms_gcm_batch; /* in wiped memory, see gcm_batch.c */

/* Set to "off", this environment variable keeps every value on OpenSSL's AES-256-GCM. */
#define PGKMS_ENV_GCM_BATCH "PGKMS_GCM_BATCH"

/* Whether this CPU runs the batch path (carry-less multiply). */
int pgkms_gcm_batch_supported(void);

/*
 * Whether values may be sealed from batches keyed through ecb, gcm being the AES-256-GCM that
 * seals otherwise: the CPU runs the batch path, both ciphers come from OpenSSL's default
 * provider (never a FIPS or hardware one: then only that provider's GCM seals),
 * PGKMS_GCM_BATCH is not "off", and a known-answer test through ecb passes. Else callers use
 * aead.h for every value.
 */
int pgkms_gcm_batch_usable(const EVP_CIPHER *gcm, const EVP_CIPHER *ecb);

/* A batch keyed with key (ecb is a fetched AES-256-ECB), in *out (NULL on failure). */
pgkms_code pgkms_gcm_batch_new(pgkms_gcm_batch **out, const EVP_CIPHER *ecb,
                               const uint8_t key[PGKMS_AES256_KEY_LEN],
                               pgkms_status *st) PGKMS_MUST_CHECK;
/* Wipes the key schedule, the hash key and every block left; NULL is fine. */
void pgkms_gcm_batch_free(pgkms_gcm_batch *b);

/* Computes the blocks of n (<= PGKMS_GCM_BATCH_N) nonces, PGKMS_NONCE_LEN bytes each. */
pgkms_code pgkms_gcm_batch_fill(pgkms_gcm_batch *b, const uint8_t *nonces, size_t n,
                                pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Seals pt (len <= PGKMS_GCM_BATCH_MAX) under nonce i of the last fill, with AAD aad1 || aad2:
 * exactly AES-256-GCM. Nonce i's blocks are wiped, so each serves one value only.
 */
void pgkms_gcm_batch_seal(pgkms_gcm_batch *b, size_t i, const uint8_t *aad1, size_t aad1_len,
                          const uint8_t *aad2, size_t aad2_len, const uint8_t *pt, size_t len,
                          uint8_t *ct, uint8_t tag[PGKMS_GCM_BLOCK]);
/* Wipes nonce i's blocks unused (its value is sealed another way). */
void pgkms_gcm_batch_skip(pgkms_gcm_batch *b, size_t i);

/* Tests only: flips a bit of the hash key, as a faulty CPU or memory could. */
void pgkms_gcm_batch_corrupt_for_test(pgkms_gcm_batch *b);

/*
 * Opening values of up to PGKMS_GCM_BATCH_MAX bytes the same way: per value one AES-256-ECB
 * call for E(K, J0) and the key stream, then GHASH and a constant-time tag comparison here,
 * used where batches are (pgkms_gcm_batch_usable). One opener per data key, in wiped memory.
 */
typedef struct pgkms_gcm_opener pgkms_gcm_opener;

pgkms_code pgkms_gcm_opener_new(pgkms_gcm_opener **out, const EVP_CIPHER *ecb,
                                const uint8_t key[PGKMS_AES256_KEY_LEN],
                                pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_gcm_opener_free(pgkms_gcm_opener *o);
/*
 * Opens ct (len <= PGKMS_GCM_BATCH_MAX) under nonce with AAD aad1 || aad2 into pt: PGKMS_OK,
 * PGKMS_E_AUTH_FAILED (the tag does not match; nothing written to pt) or PGKMS_E_INTERNAL.
 */
pgkms_code pgkms_gcm_opener_open(pgkms_gcm_opener *o, const uint8_t nonce[PGKMS_NONCE_LEN],
                                 const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                                 size_t aad2_len, const uint8_t *ct, size_t len,
                                 const uint8_t tag[PGKMS_GCM_BLOCK], uint8_t *pt);
/* Tests only: flips a bit of the opener's hash key. */
void pgkms_gcm_opener_corrupt_for_test(pgkms_gcm_opener *o);

#endif
