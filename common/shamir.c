/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shamir N-of-M sharing of a file root key, byte by byte over GF(2^8) with the AES polynomial,
 * like most SSS tools. Field arithmetic is bitwise: log/exp tables indexed by key bytes would
 * leak them through the cache. A recombined key is accepted only if it has the shares' root id.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pgkms/codec.h"
#include "pgkms/root_file.h"
#include "pgkms/secmem.h"
#include "pgkms/shamir.h"

#define SECRET_LEN PGKMS_SHAMIR_SECRET_LEN

static const char PREFIX[] = "pgkms-share-v"; /* then the version, "1" */
static const char VERSION[] = "1";

uint8_t pgkms_gf256_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;

    for (int i = 0; i < 8; i++) {
        /* Masks instead of branches: add a when b's low bit is set; reduce when a overflows. */
        r ^= (uint8_t)(-(b & 1) & a);
        a = (uint8_t)((a << 1) ^ (-(a >> 7) & 0x1B));
        b >>= 1;
    }
    return r;
}

/* a^254 = a^-1 for a != 0 (the multiplicative group has order 255), and 0 for 0. */
uint8_t pgkms_gf256_inv(uint8_t a)
{
    uint8_t a3 = pgkms_gf256_mul(pgkms_gf256_mul(a, a), a);
    uint8_t a7 = pgkms_gf256_mul(pgkms_gf256_mul(a3, a3), a);
    uint8_t r = a7;

    for (int i = 0; i < 3; i++) /* a^56 */
        r = pgkms_gf256_mul(r, r);
    r = pgkms_gf256_mul(r, a7);   /* a^63 */
    r = pgkms_gf256_mul(r, r);    /* a^126 */
    r = pgkms_gf256_mul(r, a);    /* a^127 */
    return pgkms_gf256_mul(r, r); /* a^254 */
}

static void root_id_hex(const uint8_t id[PGKMS_ROOT_ID_LEN], char out[2 * PGKMS_ROOT_ID_LEN + 1])
{
    pgkms_hex_encode(id, PGKMS_ROOT_ID_LEN, out);
}

static pgkms_code check_counts(unsigned threshold, unsigned count, pgkms_status *st)
{
    if (threshold < PGKMS_SHAMIR_MIN_THRESHOLD || threshold > PGKMS_SHAMIR_MAX_SHARES)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "the threshold must be from %d to %d shares, not %u",
                          PGKMS_SHAMIR_MIN_THRESHOLD, PGKMS_SHAMIR_MAX_SHARES, threshold);
    if (count < threshold || count > PGKMS_SHAMIR_MAX_SHARES)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "the number of shares must be from the threshold (%u) to %d, not %u",
                          threshold, PGKMS_SHAMIR_MAX_SHARES, count);
    return PGKMS_OK;
}

pgkms_code pgkms_shamir_split_coeffs(OSSL_LIB_CTX *libctx, const uint8_t secret[SECRET_LEN],
                                     unsigned threshold, unsigned count, const uint8_t *coeffs,
                                     pgkms_share *shares, pgkms_status *st)
{
    uint8_t id[PGKMS_ROOT_ID_LEN];
    pgkms_code rc = check_counts(threshold, count, st);

    if (rc == PGKMS_OK)
        rc = pgkms_root_file_id(libctx, secret, id, st);
    if (rc != PGKMS_OK)
        return rc;
    for (unsigned i = 0; i < count; i++) {
        pgkms_share *s = &shares[i];
        uint8_t x = (uint8_t)(i + 1);

        memcpy(s->root_id, id, sizeof(id));
        s->threshold = (uint8_t)threshold;
        s->index = x;
        /* Horner: f(x) = secret + c1 x + ... + c_{t-1} x^{t-1}. */
        for (size_t b = 0; b < SECRET_LEN; b++) {
            uint8_t acc = 0;

            for (unsigned k = threshold - 1; k >= 1; k--)
                acc = pgkms_gf256_mul(acc, x) ^ coeffs[(k - 1) * SECRET_LEN + b];
            s->y[b] = pgkms_gf256_mul(acc, x) ^ secret[b];
        }
    }
    return PGKMS_OK;
}

pgkms_code pgkms_shamir_split(OSSL_LIB_CTX *libctx, const uint8_t secret[SECRET_LEN],
                              unsigned threshold, unsigned count, pgkms_share *shares,
                              pgkms_status *st)
{
    size_t len = (size_t)(threshold - 1) * SECRET_LEN;
    uint8_t *coeffs;
    pgkms_code rc = check_counts(threshold, count, st);

    if (rc != PGKMS_OK)
        return rc;
    coeffs = pgkms_secure_alloc(len);
    if (coeffs == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for the share polynomials");
    /* Uniform coefficients, zero included: that is what makes t-1 shares reveal nothing. */
    if (RAND_bytes_ex(libctx, coeffs, len, 256) <= 0)
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    else
        rc = pgkms_shamir_split_coeffs(libctx, secret, threshold, count, coeffs, shares, st);
    pgkms_secure_free(coeffs, len);
    return rc;
}

static pgkms_code check_share_set(const pgkms_share *shares, size_t count, pgkms_status *st)
{
    char a[2 * PGKMS_ROOT_ID_LEN + 1], b[2 * PGKMS_ROOT_ID_LEN + 1];
    unsigned threshold;

    if (count == 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "no shares given");
    threshold = shares[0].threshold;
    if (threshold < PGKMS_SHAMIR_MIN_THRESHOLD)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "share %u has threshold %u",
                          shares[0].index, threshold);
    for (size_t i = 0; i < count; i++) {
        if (memcmp(shares[i].root_id, shares[0].root_id, PGKMS_ROOT_ID_LEN) != 0) {
            root_id_hex(shares[0].root_id, a);
            root_id_hex(shares[i].root_id, b);
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "shares of two root keys are mixed: share %u is of root key %s, "
                              "share %u of root key %s",
                              shares[0].index, a, shares[i].index, b);
        }
        if (shares[i].threshold != threshold)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "shares of two splits are mixed: share %u needs %u shares, "
                              "share %u needs %u",
                              shares[0].index, threshold, shares[i].index, shares[i].threshold);
        if (shares[i].index == 0)
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "share index 0 is not valid");
        for (size_t j = 0; j < i; j++)
            if (shares[j].index == shares[i].index)
                return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "share %u is given twice",
                                  shares[i].index);
    }
    if (count < threshold) {
        root_id_hex(shares[0].root_id, a);
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "root key %s needs %u shares, only %zu given", a, threshold, count);
    }
    return PGKMS_OK;
}

pgkms_code pgkms_shamir_combine(OSSL_LIB_CTX *libctx, const pgkms_share *shares, size_t count,
                                uint8_t secret[SECRET_LEN], pgkms_status *st)
{
    char hex[2 * PGKMS_ROOT_ID_LEN + 1];
    uint8_t id[PGKMS_ROOT_ID_LEN];
    pgkms_code rc = check_share_set(shares, count, st);

    if (rc != PGKMS_OK)
        return rc;
    memset(secret, 0, SECRET_LEN);
    /* f(0) = sum_i y_i * l_i with l_i = prod_{j != i} x_j / (x_j - x_i); minus is xor here.
     * The indexes are public, so only the products with y need to be constant-time. */
    for (size_t i = 0; i < count; i++) {
        uint8_t num = 1, den = 1, l;

        for (size_t j = 0; j < count; j++) {
            if (j == i)
                continue;
            num = pgkms_gf256_mul(num, shares[j].index);
            den = pgkms_gf256_mul(den, shares[j].index ^ shares[i].index);
        }
        l = pgkms_gf256_mul(num, pgkms_gf256_inv(den));
        for (size_t b = 0; b < SECRET_LEN; b++)
            secret[b] ^= pgkms_gf256_mul(l, shares[i].y[b]);
    }
    rc = pgkms_root_file_id(libctx, secret, id, st);
    if (rc == PGKMS_OK && pgkms_memcmp_ct(id, shares[0].root_id, PGKMS_ROOT_ID_LEN) != 0) {
        root_id_hex(shares[0].root_id, hex);
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "the shares do not recombine to root key %s: one of them is from "
                        "another split of that key, or was altered",
                        hex);
    }
    if (rc != PGKMS_OK)
        pgkms_wipe(secret, SECRET_LEN);
    return rc;
}

/* The check: SHA-256 of the canonical text up to and including the colon before it. */
static pgkms_code share_check(OSSL_LIB_CTX *libctx, const char *text, size_t len,
                              uint8_t check[PGKMS_SHARE_CHECK_LEN], pgkms_status *st)
{
    uint8_t md[32];
    size_t md_len = 0;

    if (!EVP_Q_digest(libctx, "SHA256", NULL, text, len, md, &md_len) || md_len != sizeof(md))
        return pgkms_fail(st, PGKMS_E_INTERNAL, "SHA-256 is not available");
    memcpy(check, md, PGKMS_SHARE_CHECK_LEN);
    return PGKMS_OK;
}

/* Everything before the check, canonical (lower-case hex, decimals without leading zeros). */
static size_t share_body(const pgkms_share *share, char out[PGKMS_SHARE_TEXT_MAX + 1])
{
    char id[2 * PGKMS_ROOT_ID_LEN + 1], y[2 * SECRET_LEN + 1];
    int n;

    pgkms_hex_encode(share->root_id, PGKMS_ROOT_ID_LEN, id);
    pgkms_hex_encode(share->y, SECRET_LEN, y);
    n = snprintf(out, PGKMS_SHARE_TEXT_MAX + 1, "%s%s:%s:%u:%u:%s:", PREFIX, VERSION, id,
                 share->threshold, share->index, y);
    pgkms_wipe(y, sizeof(y));
    return (size_t)n;
}

pgkms_code pgkms_share_format(OSSL_LIB_CTX *libctx, const pgkms_share *share,
                              char out[PGKMS_SHARE_TEXT_MAX + 1], pgkms_status *st)
{
    uint8_t check[PGKMS_SHARE_CHECK_LEN];
    size_t n = share_body(share, out);
    pgkms_code rc = share_check(libctx, out, n, check, st);

    if (rc != PGKMS_OK) {
        pgkms_wipe(out, PGKMS_SHARE_TEXT_MAX + 1);
        return rc;
    }
    pgkms_hex_encode(check, sizeof(check), out + n);
    return PGKMS_OK;
}

/* "1".."255" without sign or leading zero; -1 otherwise. */
static int parse_byte(const char *s, size_t len)
{
    int v = 0;

    if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 255 ? v : -1;
}

static pgkms_code parse_fields(const char *text, size_t len, pgkms_share *share,
                               uint8_t check[PGKMS_SHARE_CHECK_LEN], pgkms_status *st)
{
    const char *field[5];
    size_t flen[5], nfields = 0, vlen;
    const char *p, *end = text + len, *version;
    int threshold, index;

    if (len > PGKMS_SHARE_TEXT_MAX)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share is longer than %d characters",
                          PGKMS_SHARE_TEXT_MAX);
    if (len < sizeof(PREFIX) - 1 || memcmp(text, PREFIX, sizeof(PREFIX) - 1) != 0)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "not a pgkms share: it must start with \"%s%s:\"",
                          PREFIX, VERSION);
    version = text + sizeof(PREFIX) - 1;
    for (vlen = 0; version + vlen < end && version[vlen] != ':';)
        vlen++;
    if (vlen != sizeof(VERSION) - 1 || memcmp(version, VERSION, vlen) != 0)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "share format version \"%.*s\" is not supported (only %s)",
                          (int)(vlen > 8 ? 8 : vlen), version, VERSION);
    p = version + vlen;
    while (p < end) {
        const char *q = ++p; /* past the colon */

        while (q < end && *q != ':')
            q++;
        if (nfields == 5)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                              "share has more than 5 fields after the version");
        field[nfields] = p;
        flen[nfields++] = (size_t)(q - p);
        p = q;
    }
    if (nfields != 5)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "share has %zu fields after the version, expected 5 (root id, "
                          "threshold, index, value, check)",
                          nfields);
    if (pgkms_hex_decode(field[0], flen[0], share->root_id, PGKMS_ROOT_ID_LEN, NULL) != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share root id must be %d hex digits",
                          2 * PGKMS_ROOT_ID_LEN);
    threshold = parse_byte(field[1], flen[1]);
    if (threshold < PGKMS_SHAMIR_MIN_THRESHOLD)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share threshold must be a number from %d to %d",
                          PGKMS_SHAMIR_MIN_THRESHOLD, PGKMS_SHAMIR_MAX_SHARES);
    index = parse_byte(field[2], flen[2]);
    if (index < 1)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share index must be a number from 1 to %d",
                          PGKMS_SHAMIR_MAX_SHARES);
    share->threshold = (uint8_t)threshold;
    share->index = (uint8_t)index;
    if (pgkms_hex_decode(field[3], flen[3], share->y, SECRET_LEN, NULL) != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share value must be %d hex digits",
                          2 * SECRET_LEN);
    if (pgkms_hex_decode(field[4], flen[4], check, PGKMS_SHARE_CHECK_LEN, NULL) != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "share check must be %d hex digits",
                          2 * PGKMS_SHARE_CHECK_LEN);
    return PGKMS_OK;
}

pgkms_code pgkms_share_parse(OSSL_LIB_CTX *libctx, const char *text, size_t len, pgkms_share *share,
                             pgkms_status *st)
{
    char body[PGKMS_SHARE_TEXT_MAX + 1];
    uint8_t given[PGKMS_SHARE_CHECK_LEN], want[PGKMS_SHARE_CHECK_LEN];
    pgkms_code rc = parse_fields(text, len, share, given, st);

    if (rc == PGKMS_OK)
        rc = share_check(libctx, body, share_body(share, body), want, st);
    if (rc == PGKMS_OK && memcmp(given, want, sizeof(want)) != 0)
        rc = pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                        "share does not match its check: it was mistyped or altered");
    pgkms_wipe(body, sizeof(body));
    if (rc != PGKMS_OK)
        pgkms_wipe(share, sizeof(*share));
    return rc;
}
