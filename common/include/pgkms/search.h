/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Searchable encryption under a tenant key (docs/searchable-encryption.md): deterministic
 * values (AES-256-SIV, algorithm 3 of the value format), blind indexes and pseudonyms (keyed
 * HMAC-SHA256). All three use one fixed version of a key, so rotation never changes them.
 */
#ifndef PGKMS_SEARCH_H
#define PGKMS_SEARCH_H

#include <stdint.h>

#include "pgkms/envelope.h"
#include "pgkms/siv.h"

/*
 * The version of a key that deterministic values, blind indexes and pseudonyms are computed
 * under: the material the key was created (or imported) with. Rotation adds versions but never
 * changes it, so equality lookups keep matching; retiring it ends the key's searchable use.
 */
#define PGKMS_SEARCH_VERSION 1

#define PGKMS_BLIND_INDEX_MIN_BITS 32
#define PGKMS_BLIND_INDEX_MAX_BITS 256
#define PGKMS_PURPOSE_MAX          255 /* bytes */
/* "ps_" and 26 characters of lower-case base32 (RFC 4648, unpadded) of 128 bits of HMAC. */
#define PGKMS_PSEUDONYM_PREFIX "ps_"
#define PGKMS_PSEUDONYM_LEN    29

typedef enum pgkms_mac_kind {
    PGKMS_MAC_BLIND_INDEX = 1,
    PGKMS_MAC_PSEUDONYM = 2,
} pgkms_mac_kind;

#define PGKMS_SIV_SLOTS 4 /* deterministic keys kept keyed: one per key in use, usually */

typedef struct pgkms_siv_slot {
    pgkms_key_ref key;
    int in_use;
    pgkms_siv siv;
} pgkms_siv_slot;

/* The HMAC key of one (kind, key version, purpose), kept keyed. */
typedef struct pgkms_mac_slot {
    pgkms_key_ref key;
    pgkms_mac_kind kind;
    size_t purpose_len;
    uint8_t purpose[PGKMS_PURPOSE_MAX];
    int in_use;
    EVP_MAC_CTX *hmac;
} pgkms_mac_slot;

/*
 * Per-user state (one per EVP_PKEY_CTX); not shared between threads. As with pgkms_sealer, a
 * key reference and version always name the same material, so cached keys are not re-checked
 * against the tmk passed in.
 */
typedef struct pgkms_searcher {
    const pgkms_crypto *crypto;
    pgkms_siv_slot siv[PGKMS_SIV_SLOTS];
    unsigned siv_next;
    pgkms_mac_slot mac;
} pgkms_searcher;

void pgkms_searcher_init(pgkms_searcher *s, const pgkms_crypto *crypto);
void pgkms_searcher_cleanup(pgkms_searcher *s);

/* The 64-byte AES-256-SIV key of (key, tmk): HKDF with its own label (docs/format.md). */
pgkms_code pgkms_search_det_key(OSSL_LIB_CTX *libctx, const pgkms_key_ref *key, const uint8_t *tmk,
                                uint8_t out[PGKMS_SIV_KEY_LEN], pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * A deterministic value of pt under (key, tmk): out gets len + PGKMS_DET_OVERHEAD bytes, the
 * same for the same key, context and plaintext. context (may be NULL/0) is authenticated
 * but not stored.
 */
pgkms_code pgkms_search_det_seal(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                 const uint8_t *context, size_t context_len, const uint8_t *pt,
                                 size_t len, uint8_t *out, pgkms_status *st) PGKMS_MUST_CHECK;

/* Opens a parsed deterministic value whose key is tmk; pt gets env->ciphertext_len bytes, or
 * is wiped on failure. */
pgkms_code pgkms_search_det_open(pgkms_searcher *s, const pgkms_envelope *env, const uint8_t *tmk,
                                 const uint8_t *context, size_t context_len, uint8_t *pt,
                                 pgkms_status *st) PGKMS_MUST_CHECK;

/* Checks a purpose (1 to PGKMS_PURPOSE_MAX bytes) and a blind index length in bits. */
pgkms_code pgkms_search_purpose_validate(const uint8_t *purpose, size_t len,
                                         pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_code pgkms_search_bits_validate(int bits, pgkms_status *st) PGKMS_MUST_CHECK;

/* The first bits/8 bytes of HMAC-SHA256 of value under the blind index key of purpose. */
pgkms_code pgkms_search_blind_index(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                    const uint8_t *purpose, size_t purpose_len, int bits,
                                    const uint8_t *value, size_t len, uint8_t *out,
                                    pgkms_status *st) PGKMS_MUST_CHECK;

/* The pseudonym of value for purpose: PGKMS_PSEUDONYM_LEN characters and a NUL. */
pgkms_code pgkms_search_pseudonym(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                  const uint8_t *purpose, size_t purpose_len, const uint8_t *value,
                                  size_t len, char out[PGKMS_PSEUDONYM_LEN + 1],
                                  pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Normalisation for blind indexes: ASCII letters lower-cased, leading and trailing ASCII
 * white space removed, inner runs of it replaced by one space. Other bytes (UTF-8 included)
 * are kept as they are. out needs len bytes; returns the length written.
 */
size_t pgkms_search_normalize(const uint8_t *in, size_t len, uint8_t *out);

#endif
