/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shamir secret sharing of a file root key over GF(2^8) (AES polynomial 0x11B), byte by byte,
 * and the text form of a share (docs/format.md §5). Used to escrow the root with custodians.
 */
#ifndef PGKMS_SHAMIR_H
#define PGKMS_SHAMIR_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/root.h"
#include "pgkms/status.h"

#define PGKMS_SHAMIR_SECRET_LEN    32  /* a file root key */
#define PGKMS_SHAMIR_MIN_THRESHOLD 2   /* one share alone would be the key itself */
#define PGKMS_SHAMIR_MAX_SHARES    255 /* share indexes are the field's non-zero elements */
#define PGKMS_SHARE_CHECK_LEN      4
/* "pgkms-share-v1:" id ":" NNN ":" III ":" y ":" check */
#define PGKMS_SHARE_TEXT_MAX                                                                       \
    (15 + 2 * PGKMS_ROOT_ID_LEN + 1 + 3 + 1 + 3 + 1 + 2 * PGKMS_SHAMIR_SECRET_LEN + 1 +            \
     2 * PGKMS_SHARE_CHECK_LEN)

/* One share. y is secret material: keep shares in secure memory. */
typedef struct pgkms_share {
    uint8_t root_id[PGKMS_ROOT_ID_LEN]; /* the root the shares recombine to */
    uint8_t threshold;                  /* shares needed, 2..255 */
    uint8_t index;                      /* x coordinate, 1..255 */
    uint8_t y[PGKMS_SHAMIR_SECRET_LEN]; /* f_b(index) for every byte b of the root */
} pgkms_share;

/* Field arithmetic, in constant time (no table indexed by secret data). inv(0) is 0. */
uint8_t pgkms_gf256_mul(uint8_t a, uint8_t b);
uint8_t pgkms_gf256_inv(uint8_t a);

/* Splits secret into count shares (indexes 1..count), any threshold of which recombine it.
 * The polynomial coefficients come from the DRBG and live only in secure memory. */
pgkms_code pgkms_shamir_split(OSSL_LIB_CTX *libctx, const uint8_t secret[PGKMS_SHAMIR_SECRET_LEN],
                              unsigned threshold, unsigned count, pgkms_share *shares,
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* The same with given coefficients, for known-answer tests: byte b of the coefficient of x^k
 * (k = 1..threshold-1) is coeffs[(k - 1) * PGKMS_SHAMIR_SECRET_LEN + b]. */
pgkms_code pgkms_shamir_split_coeffs(OSSL_LIB_CTX *libctx,
                                     const uint8_t secret[PGKMS_SHAMIR_SECRET_LEN],
                                     unsigned threshold, unsigned count, const uint8_t *coeffs,
                                     pgkms_share *shares, pgkms_status *st) PGKMS_MUST_CHECK;
/*
 * Recombines at least threshold shares of one root (Lagrange interpolation at 0 over all
 * shares given) and checks the result against their root id: a key that does not match is
 * wiped and refused (PGKMS_E_AUTH_FAILED), so too few, altered or mixed shares never yield a
 * wrong key. Mixed roots or thresholds, repeated indexes and too few shares are
 * PGKMS_E_INVALID_ARGUMENT.
 */
pgkms_code pgkms_shamir_combine(OSSL_LIB_CTX *libctx, const pgkms_share *shares, size_t count,
                                uint8_t secret[PGKMS_SHAMIR_SECRET_LEN],
                                pgkms_status *st) PGKMS_MUST_CHECK;

/* Text form "pgkms-share-v1:<root id>:<threshold>:<index>:<y>:<check>", NUL-terminated. */
pgkms_code pgkms_share_format(OSSL_LIB_CTX *libctx, const pgkms_share *share,
                              char out[PGKMS_SHARE_TEXT_MAX + 1],
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* Strict parse of exactly len characters (hex in either case); a wrong check is
 * PGKMS_E_BAD_FORMAT like every other defect. share is wiped on failure. */
pgkms_code pgkms_share_parse(OSSL_LIB_CTX *libctx, const char *text, size_t len, pgkms_share *share,
                             pgkms_status *st) PGKMS_MUST_CHECK;

#endif
