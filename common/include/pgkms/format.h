/* SPDX-License-Identifier: Apache-2.0 */
/* The pgkms value format (docs/format.md): a self-describing AES-256-GCM envelope. */
#ifndef PGKMS_FORMAT_H
#define PGKMS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "pgkms/status.h"

#define PGKMS_MAGIC0          0x8B /* a UTF-8 continuation byte: no valid text starts with it */
#define PGKMS_MAGIC1          0x4B /* 'K' */
#define PGKMS_FORMAT_V1       1
#define PGKMS_ALG_GCM_DATA    1 /* AES-256-GCM, randomized, data */
#define PGKMS_ALG_GCM_KEYWRAP 2 /* AES-256-GCM, randomized, a wrapped data key */
#define PGKMS_ALG_SIV_DATA    3 /* AES-256-SIV, deterministic, data (search.h) */

#define PGKMS_KEY_REF_LEN 8
#define PGKMS_NONCE_LEN   12
#define PGKMS_TAG_LEN     16
#define PGKMS_HEADER_LEN  20 /* magic(2) version(1) alg(1) key_ref(8) key_version(4) dek_id(4) */
#define PGKMS_PREFIX_LEN  (PGKMS_HEADER_LEN + PGKMS_NONCE_LEN)
#define PGKMS_OVERHEAD    (PGKMS_PREFIX_LEN + PGKMS_TAG_LEN) /* 48 */
/* Deterministic values: the header, then the 16-byte synthetic IV (which is the tag). */
#define PGKMS_DET_SIV_LEN  16
#define PGKMS_DET_OVERHEAD (PGKMS_HEADER_LEN + PGKMS_DET_SIV_LEN) /* 36 */
/* Largest value the parser accepts: what fits a PostgreSQL datum (1 GB less its header). */
#define PGKMS_MAX_VALUE_LEN     ((size_t)0x3FFFFFFB)
#define PGKMS_MAX_PLAINTEXT     (PGKMS_MAX_VALUE_LEN - PGKMS_OVERHEAD)
#define PGKMS_DET_MAX_PLAINTEXT (PGKMS_MAX_VALUE_LEN - PGKMS_DET_OVERHEAD)
/* Longest caller context bound as AAD. */
#define PGKMS_MAX_CONTEXT_LEN 65535

/* A parsed value; pointers alias the input buffer. */
typedef struct pgkms_envelope {
    uint8_t version;
    uint8_t alg;
    uint8_t key_ref[PGKMS_KEY_REF_LEN];
    uint32_t key_version;
    uint32_t dek_id;
    const uint8_t *header; /* PGKMS_HEADER_LEN bytes, authenticated */
    const uint8_t *nonce;  /* NULL for PGKMS_ALG_SIV_DATA */
    const uint8_t *ciphertext;
    size_t ciphertext_len;
    const uint8_t *tag; /* the GCM tag, or the synthetic IV of PGKMS_ALG_SIV_DATA */
} pgkms_envelope;

/* Strict parse: every field checked, nothing read past len. */
pgkms_code pgkms_format_parse(const uint8_t *buf, size_t len, pgkms_envelope *env,
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* Bytes a value of algorithm alg adds to its plaintext: PGKMS_OVERHEAD or PGKMS_DET_OVERHEAD. */
size_t pgkms_format_overhead(uint8_t alg);
/* Writes the PGKMS_HEADER_LEN header bytes for env's fields into out. */
void pgkms_format_write_header(uint8_t *out, const pgkms_envelope *env);
/* True if buf starts like a pgkms value (magic and known version); used to keep encrypt idempotent.
 */
int pgkms_format_looks_like_value(const uint8_t *buf, size_t len);

/* Big-endian helpers shared by the codecs. */
static inline uint32_t pgkms_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void pgkms_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
