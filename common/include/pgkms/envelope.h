/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing and opening values under a tenant key version: data keys derived from the tenant
 * key, kept keyed between values, nonces drawn from a batch.
 */
#ifndef PGKMS_ENVELOPE_H
#define PGKMS_ENVELOPE_H

#include <stdint.h>
#include <openssl/evp.h>

#include "pgkms/format.h"
#include "pgkms/status.h"

#define PGKMS_TMK_LEN 32
/* A process re-derives its data key after this many values (NIST SP 800-38D: < 2^32). */
#define PGKMS_DEK_MAX_USES ((uint64_t)1 << 28)
#define PGKMS_NONCE_BATCH  (PGKMS_NONCE_LEN * 256)
#define PGKMS_OPEN_SLOTS   16 /* data keys kept keyed for opening */

/* Algorithms fetched once per library context. */
typedef struct pgkms_crypto {
    OSSL_LIB_CTX *libctx;
    EVP_CIPHER *gcm;
    EVP_CIPHER *ctr; /* AES-256-CTR and CMAC: AES-256-SIV (siv.h) */
    EVP_MAC *cmac;
    EVP_MAC *hmac;   /* blind indexes and pseudonyms (search.h) */
    EVP_CIPHER *ecb; /* AES-256-ECB: the blocks of a nonce batch (gcm_batch.h) */
    int seal_batch;  /* pgkms_gcm_batch_usable(gcm, ecb) */
} pgkms_crypto;

pgkms_code pgkms_crypto_init(pgkms_crypto *c, OSSL_LIB_CTX *libctx, const char *propq,
                             pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_crypto_cleanup(pgkms_crypto *c);

/* Which tenant key version a value is sealed under. */
typedef struct pgkms_key_ref {
    uint8_t ref[PGKMS_KEY_REF_LEN];
    uint32_t version;
} pgkms_key_ref;

typedef struct pgkms_dek_slot {
    pgkms_key_ref key;
    uint32_t dek_id;
    int in_use;
    uint64_t uses;
    EVP_CIPHER_CTX *ctx;
    struct pgkms_gcm_opener *opener; /* opening slots where batches are usable (gcm_batch.h) */
} pgkms_dek_slot;

/*
 * Per-user state (one per EVP_PKEY_CTX, one per backend); not shared between threads.
 * Keyed data keys are cached by (key reference, version, data key id): a key reference and
 * version always name the same tenant key material (key ids are unique per keyring, and
 * versions are never re-keyed), so the tmk passed with a cached triple is not re-checked.
 */
typedef struct pgkms_sealer {
    const pgkms_crypto *crypto;
    unsigned fork_gen;
    pgkms_dek_slot seal;
    pgkms_dek_slot open[PGKMS_OPEN_SLOTS];
    unsigned open_next;
    size_t nonce_pos;
    uint8_t nonces[PGKMS_NONCE_BATCH];
    /* seal's data key run ahead over nonces[] (gcm_batch.h); NULL where the CPU cannot */
    struct pgkms_gcm_batch *batch;
    int batch_ready;   /* batch holds the blocks of nonces[] */
    int batch_checked; /* a value of this batch was also sealed through EVP, alike */
    int batch_off;     /* a check differed: this sealer seals through EVP only */
    uint64_t opens;    /* values opened through openers; every PGKMS_GCM_BATCH_N-th is checked */
    int open_off;      /* a check differed: this sealer opens through EVP only */
} pgkms_sealer;

void pgkms_sealer_init(pgkms_sealer *s, const pgkms_crypto *crypto);
/* Frees contexts (their key schedules are wiped by OpenSSL) and forgets every data key. */
void pgkms_sealer_cleanup(pgkms_sealer *s);

/*
 * Seals pt under (key, tmk) with algorithm alg; out must hold len + PGKMS_OVERHEAD bytes.
 * context (may be NULL/0) is authenticated but not stored. tmk may be NULL when
 * pgkms_sealer_holds(s, key): it is read only to derive a data key.
 */
pgkms_code pgkms_sealer_seal(pgkms_sealer *s, const pgkms_key_ref *key, const uint8_t *tmk,
                             uint8_t alg, const uint8_t *context, size_t context_len,
                             const uint8_t *pt, size_t len, uint8_t *out,
                             pgkms_status *st) PGKMS_MUST_CHECK;

/* Whether s seals under key with the data key it already holds, so without reading tmk. */
int pgkms_sealer_holds(const pgkms_sealer *s, const pgkms_key_ref *key);

/* Opens a parsed randomized value (algorithm 1 or 2; deterministic values are opened by
 * pgkms_det_open) whose key is (env->key_ref, env->key_version) = tmk; pt gets
 * env->ciphertext_len bytes, or is wiped on failure. */
pgkms_code pgkms_sealer_open(pgkms_sealer *s, const pgkms_envelope *env, const uint8_t *tmk,
                             const uint8_t *context, size_t context_len, uint8_t *pt,
                             pgkms_status *st) PGKMS_MUST_CHECK;

/* Seals with a given data key id and nonce: for test vectors only, never for data. */
pgkms_code pgkms_seal_fixed(const pgkms_crypto *crypto, const pgkms_key_ref *key,
                            const uint8_t *tmk, uint8_t alg, uint32_t dek_id, const uint8_t *nonce,
                            const uint8_t *context, size_t context_len, const uint8_t *pt,
                            size_t len, uint8_t *out, pgkms_status *st) PGKMS_MUST_CHECK;

/* Derives the data key of (key, dek_id) from tmk. */
pgkms_code pgkms_dek_derive(OSSL_LIB_CTX *libctx, const pgkms_key_ref *key, const uint8_t *tmk,
                            uint32_t dek_id, uint8_t dek[PGKMS_TMK_LEN],
                            pgkms_status *st) PGKMS_MUST_CHECK;

/* Increments in every child after fork(): per-process random state must be renewed. */
unsigned pgkms_fork_generation(void);

#endif
