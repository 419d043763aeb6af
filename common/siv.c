/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-SIV as RFC 5297 defines it, composed from OpenSSL's CMAC and AES-256-CTR. OpenSSL
 * 3.0 has an "AES-256-SIV" cipher, but it cannot seal or open an empty plaintext (its final
 * step fails) and a context re-initialised without a key keeps the previous message's S2V
 * state, so every value would pay a new key schedule. The unit tests check this code against
 * that cipher, against RFC 5297 and against an independent implementation in Python.
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "pgkms/secmem.h"
#include "pgkms/siv.h"

#define BLOCK 16
#define CHUNK ((size_t)1 << 30)

/* Multiplication by x in GF(2^128) (RFC 5297 §2.3), without a branch on secret bits. */
static void dbl(uint8_t b[BLOCK])
{
    uint8_t reduce = (uint8_t)(0x87 & (0 - (b[0] >> 7)));

    for (int i = 0; i < BLOCK - 1; i++)
        b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
    b[BLOCK - 1] = (uint8_t)((b[BLOCK - 1] << 1) ^ reduce);
}

static void xor_into(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= src[i];
}

/* A keyed CMAC context initialised without a key starts a new message under the same key. */
static int mac_restart(pgkms_siv *s)
{
    return EVP_MAC_init(s->cmac, NULL, 0, NULL);
}

static int mac_update(pgkms_siv *s, const uint8_t *p, size_t n)
{
    return n == 0 || EVP_MAC_update(s->cmac, p, n);
}

static int mac_final(pgkms_siv *s, uint8_t out[BLOCK])
{
    size_t outl = 0;

    return EVP_MAC_final(s->cmac, out, &outl, BLOCK) && outl == BLOCK;
}

void pgkms_siv_cleanup(pgkms_siv *s)
{
    EVP_MAC_CTX_free(s->cmac);
    EVP_CIPHER_CTX_free(s->ctr);
    pgkms_wipe(s->d0, sizeof(s->d0));
    s->cmac = NULL;
    s->ctr = NULL;
}

pgkms_code pgkms_siv_set_key(pgkms_siv *s, EVP_MAC *cmac, const EVP_CIPHER *ctr,
                             const uint8_t key[PGKMS_SIV_KEY_LEN], pgkms_status *st)
{
    static const uint8_t zero[BLOCK];
    OSSL_PARAM params[2];

    pgkms_siv_cleanup(s);
    s->cmac = EVP_MAC_CTX_new(cmac);
    s->ctr = EVP_CIPHER_CTX_new();
    if (s->cmac == NULL || s->ctr == NULL) {
        pgkms_siv_cleanup(s);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for an AES-SIV context");
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-256-CBC", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(s->cmac, key, PGKMS_SIV_KEY_LEN / 2, params) ||
        !EVP_EncryptInit_ex2(s->ctr, ctr, key + PGKMS_SIV_KEY_LEN / 2, NULL, NULL) ||
        !mac_update(s, zero, BLOCK) || !mac_final(s, s->d0)) {
        pgkms_siv_cleanup(s);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not key AES-256-SIV");
    }
    return PGKMS_OK;
}

/* S2V(K1, AAD, plaintext), RFC 5297 §2.4, with the AAD given in two parts. */
static int s2v(pgkms_siv *s, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
               size_t aad2_len, const uint8_t *pt, size_t len, uint8_t v[BLOCK])
{
    uint8_t d[BLOCK], m[BLOCK], t[BLOCK];
    int ok;

    memcpy(d, s->d0, BLOCK);
    dbl(d);
    ok = mac_restart(s) && mac_update(s, aad1, aad1_len) && mac_update(s, aad2, aad2_len) &&
         mac_final(s, m);
    xor_into(d, m, BLOCK);
    if (ok && len >= BLOCK) {
        /* T = plaintext xorend D: D is folded into the last block, the rest is MACed as is. */
        memcpy(t, pt + len - BLOCK, BLOCK);
        xor_into(t, d, BLOCK);
        ok = mac_restart(s) && mac_update(s, pt, len - BLOCK) && mac_update(s, t, BLOCK) &&
             mac_final(s, v);
    } else if (ok) {
        /* T = dbl(D) xor pad(plaintext), pad = 10* to one block. */
        dbl(d);
        memset(t, 0, BLOCK);
        if (len > 0)
            memcpy(t, pt, len);
        t[len] = 0x80;
        xor_into(t, d, BLOCK);
        ok = mac_restart(s) && mac_update(s, t, BLOCK) && mac_final(s, v);
    }
    pgkms_wipe(t, sizeof(t));
    pgkms_wipe(d, sizeof(d));
    return ok;
}

/* AES-256-CTR under K2 from Q = V with bits 63 and 31 cleared (RFC 5297 §2.5). */
static int ctr_apply(pgkms_siv *s, const uint8_t v[BLOCK], const uint8_t *in, size_t len,
                     uint8_t *out)
{
    uint8_t q[BLOCK];
    int outl;

    memcpy(q, v, BLOCK);
    q[8] &= 0x7F;
    q[12] &= 0x7F;
    if (!EVP_EncryptInit_ex2(s->ctr, NULL, NULL, q, NULL))
        return 0;
    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;

        if (!EVP_EncryptUpdate(s->ctr, out, &outl, in, (int)n) || (size_t)outl != n)
            return 0;
        in += n;
        out += n;
        len -= n;
    }
    return 1;
}

pgkms_code pgkms_siv_seal(pgkms_siv *s, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                          size_t aad2_len, const uint8_t *pt, size_t len,
                          uint8_t siv[PGKMS_SIV_LEN], uint8_t *ct, pgkms_status *st)
{
    if (!s2v(s, aad1, aad1_len, aad2, aad2_len, pt, len, siv) || !ctr_apply(s, siv, pt, len, ct))
        return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-SIV encryption failed");
    return PGKMS_OK;
}

pgkms_code pgkms_siv_open(pgkms_siv *s, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                          size_t aad2_len, const uint8_t siv[PGKMS_SIV_LEN], const uint8_t *ct,
                          size_t len, uint8_t *pt, pgkms_status *st)
{
    uint8_t v[BLOCK];

    if (!ctr_apply(s, siv, ct, len, pt) || !s2v(s, aad1, aad1_len, aad2, aad2_len, pt, len, v)) {
        pgkms_wipe(pt, len);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-SIV decryption failed");
    }
    if (CRYPTO_memcmp(v, siv, BLOCK) != 0) {
        pgkms_wipe(pt, len);
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                          "authentication tag does not match: wrong key or context, or the "
                          "value was modified");
    }
    return PGKMS_OK;
}
