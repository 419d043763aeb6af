/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM (NIST SP 800-38D) for short values, with the block cipher run ahead for a batch of
 * nonces. Sealing one value through EVP costs little arithmetic but a long, branchy path through
 * OpenSSL's cipher layers; inside an INSERT that path and PostgreSQL's heap and WAL code evict
 * each other row after row, and the value costs 2-3 times what it costs in a SELECT. Here one
 * AES-256-ECB call per batch makes E(K, J0) and the key stream of every nonce; a value then costs
 * an XOR and GHASH, a few carry-less multiplications (constant time, no table lookups). The
 * output is AES-256-GCM exactly: values open with any GCM implementation (the unit tests open
 * them through EVP). The blocks of a nonce are wiped as soon as its value is sealed. Opening
 * (pgkms_gcm_opener) works alike, with one AES-256-ECB call per value instead of OpenSSL's
 * per-value GCM set-up, whose parameter handling cost more than the arithmetic.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "pgkms/format.h"
#include "pgkms/gcm_batch.h"
#include "pgkms/secmem.h"

/* AADs up to this long have their GHASH kept: a column's values repeat header and context. */
#define AAD_KEPT_MAX 256

typedef struct kept_aad {
    size_t len;                    /* 0: none kept (an empty AAD hashes to zero anyway) */
    uint8_t aad[AAD_KEPT_MAX];     /* the last AAD (public bytes) ... */
    uint8_t hash[PGKMS_GCM_BLOCK]; /* ... and its GHASH, zero-padded */
} kept_aad;

struct pgkms_gcm_batch {
    EVP_CIPHER_CTX *ecb;        /* AES-256-ECB under the data key */
    uint8_t h[PGKMS_GCM_BLOCK]; /* hash key E(K, 0^128) */
    uint8_t blocks[PGKMS_GCM_BATCH_N][PGKMS_GCM_BATCH_BLOCKS][PGKMS_GCM_BLOCK];
    kept_aad kept;
};

struct pgkms_gcm_opener {
    EVP_CIPHER_CTX *ecb;
    uint8_t h[PGKMS_GCM_BLOCK];
    kept_aad kept;
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define GHASH_TARGET __attribute__((target("pclmul,ssse3")))

int pgkms_gcm_batch_supported(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("ssse3");
}

/* GHASH works on bit-reflected blocks: byte-swapping a block makes multiplication by x a shift. */
GHASH_TARGET static __m128i load_block(const uint8_t *p)
{
    const __m128i swap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), swap);
}

/*
 * a * b in GF(2^128) with GCM's polynomial x^128 + x^7 + x^2 + x + 1: a 256-bit carry-less
 * product, shifted left by one bit for the reflected order, then reduced (Gueron and Kounavis,
 * "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM Mode").
 */
GHASH_TARGET static inline __attribute__((always_inline)) __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
    __m128i t1, t2, t3;

    lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    /* Shift hi:lo left by one bit. */
    t1 = _mm_srli_epi32(lo, 31);
    t2 = _mm_srli_epi32(hi, 31);
    lo = _mm_slli_epi32(lo, 1);
    hi = _mm_slli_epi32(hi, 1);
    t3 = _mm_srli_si128(t1, 12);
    t2 = _mm_slli_si128(t2, 4);
    t1 = _mm_slli_si128(t1, 4);
    lo = _mm_or_si128(lo, t1);
    hi = _mm_or_si128(hi, t2);
    hi = _mm_or_si128(hi, t3);
    /* Reduce modulo the polynomial, first phase. */
    t1 = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
                       _mm_slli_epi32(lo, 25));
    t2 = _mm_srli_si128(t1, 4);
    t1 = _mm_slli_si128(t1, 12);
    lo = _mm_xor_si128(lo, t1);
    /* Second phase. */
    t3 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
                       _mm_srli_epi32(lo, 7));
    t3 = _mm_xor_si128(t3, t2);
    lo = _mm_xor_si128(lo, t3);
    return _mm_xor_si128(hi, lo);
}

/*
 * A value's bytes enter and leave registers without narrow stores that are read back wide
 * (a store-forwarding stall per value: the byte loops this replaces took about a third of the
 * function's samples in an INSERT). Partial blocks are loaded and stored with overlapping 8-,
 * 4- and 1-byte accesses that stay within the n bytes; the key stream past them is masked off.
 */
static const uint8_t ones_then_zeros[2 * PGKMS_GCM_BLOCK] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* The first n (< 16) bytes at p, zero-padded to a block (in memory order, not reflected). */
GHASH_TARGET static inline __attribute__((always_inline)) __m128i load_partial(const uint8_t *p,
                                                                               size_t n)
{
    uint64_t lo = 0, hi = 0;
    uint32_t a, b;

    if (n >= 8) {
        memcpy(&lo, p, 8);
        if (n > 8) {
            memcpy(&hi, p + n - 8, 8);
            hi >>= 8 * (16 - n);
        }
    } else if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        lo = a | (uint64_t)b << (8 * (n - 4));
    } else if (n > 0) {
        lo = p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* Writes the first n (< 16) bytes of x (in memory order) to p. */
GHASH_TARGET static inline __attribute__((always_inline)) void store_partial(uint8_t *p, __m128i x,
                                                                             size_t n)
{
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(x),
             hi = (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(x, 8));
    uint32_t w;

    if (n >= 8) {
        memcpy(p, &lo, 8);
        if (n > 8) {
            lo = lo >> (8 * (n - 8)) | hi << (8 * (16 - n));
            memcpy(p + n - 8, &lo, 8);
        }
    } else if (n >= 4) {
        w = (uint32_t)lo;
        memcpy(p, &w, 4);
        w = (uint32_t)(lo >> (8 * (n - 4)));
        memcpy(p + n - 4, &w, 4);
    } else if (n > 0) {
        p[0] = (uint8_t)lo;
        p[n / 2] = (uint8_t)(lo >> (8 * (n / 2)));
        p[n - 1] = (uint8_t)(lo >> (8 * (n - 1)));
    }
}

GHASH_TARGET static inline __attribute__((always_inline)) __m128i bswap_block(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* GHASH of a whole message, blocks in memory order, the last one zero-padded. */
GHASH_TARGET static inline __attribute__((always_inline)) __m128i
ghash_bytes(__m128i x, __m128i h, const uint8_t *p, size_t len)
{
    for (; len >= PGKMS_GCM_BLOCK; p += PGKMS_GCM_BLOCK, len -= PGKMS_GCM_BLOCK)
        x = gf_mul(_mm_xor_si128(x, load_block(p)), h);
    if (len > 0)
        x = gf_mul(_mm_xor_si128(x, bswap_block(load_partial(p, len))), h);
    return x;
}

/*
 * GHASH under hash key hkey of aad1 || aad2 padded to a block, split anywhere. The block that
 * straddles the two parts is put together before the hash key is loaded: no call is made while
 * key-dependent values are live, so they stay in registers, never on the stack.
 */
GHASH_TARGET __attribute__((noinline)) static __m128i
ghash_aad(const uint8_t *hkey, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
          size_t aad2_len)
{
    uint8_t joint[PGKMS_GCM_BLOCK];
    size_t tail = aad1_len % PGKMS_GCM_BLOCK, n = 0;
    __m128i h, x;

    if (tail > 0) {
        n = aad2_len < PGKMS_GCM_BLOCK - tail ? aad2_len : PGKMS_GCM_BLOCK - tail;
        memset(joint, 0, sizeof(joint));
        memcpy(joint, aad1 + aad1_len - tail, tail);
        if (n > 0)
            memcpy(joint + tail, aad2, n);
    }
    h = load_block(hkey);
    x = ghash_bytes(_mm_setzero_si128(), h, aad1, aad1_len - tail);
    if (tail > 0)
        x = gf_mul(_mm_xor_si128(x, load_block(joint)), h);
    return ghash_bytes(x, h, aad2 + n, aad2_len - n);
}

/* Equality of public bytes (the AAD), no library call. */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint64_t diff = 0, x, y;

    for (; len >= 8; a += 8, b += 8, len -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        diff |= x ^ y;
    }
    while (len-- > 0)
        diff |= (uint64_t)(*a++ ^ *b++);
    return diff == 0;
}

/* GHASH of aad1 || aad2 under hkey, from k when it holds the same AAD; k then holds it. */
GHASH_TARGET static __m128i aad_hash(kept_aad *k, const uint8_t *hkey, const uint8_t *aad1,
                                     size_t aad1_len, const uint8_t *aad2, size_t aad2_len)
{
    size_t len = aad1_len + aad2_len;
    int keep = len <= AAD_KEPT_MAX;
    __m128i x;

    if (k->len != 0 && k->len == len && same_bytes(k->aad, aad1, aad1_len) &&
        same_bytes(k->aad + aad1_len, aad2, aad2_len))
        return _mm_loadu_si128((const __m128i *)k->hash);
    k->len = 0;
    if (keep) {
        memcpy(k->aad, aad1, aad1_len);
        if (aad2_len > 0)
            memcpy(k->aad + aad1_len, aad2, aad2_len);
    }
    x = ghash_aad(hkey, aad1, aad1_len, aad2, aad2_len);
    if (keep) {
        _mm_storeu_si128((__m128i *)k->hash, x);
        k->len = len;
    }
    return x;
}

GHASH_TARGET void pgkms_gcm_batch_seal(pgkms_gcm_batch *b, size_t i, const uint8_t *aad1,
                                       size_t aad1_len, const uint8_t *aad2, size_t aad2_len,
                                       const uint8_t *pt, size_t len, uint8_t *ct,
                                       uint8_t tag[PGKMS_GCM_BLOCK])
{
    uint8_t(*blk)[PGKMS_GCM_BLOCK] = b->blocks[i];
    uint64_t aad_bits = (uint64_t)(aad1_len + aad2_len) * 8, ct_bits = (uint64_t)len * 8;
    size_t k = 0, r;
    __m128i h, x, c;

    x = aad_hash(&b->kept, b->h, aad1, aad1_len, aad2, aad2_len);
    /* From here to the tag nothing is called: hash key, state and key stream stay in registers. */
    h = load_block(b->h);
    for (; k + PGKMS_GCM_BLOCK <= len; k += PGKMS_GCM_BLOCK) {
        c = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(pt + k)),
                          _mm_loadu_si128((const __m128i *)blk[1 + k / PGKMS_GCM_BLOCK]));
        _mm_storeu_si128((__m128i *)(ct + k), c);
        x = gf_mul(_mm_xor_si128(x, bswap_block(c)), h);
    }
    if ((r = len - k) > 0) {
        /* The key stream beyond the value is masked off: GHASH takes the block zero-padded. */
        __m128i mask = _mm_loadu_si128((const __m128i *)(ones_then_zeros + PGKMS_GCM_BLOCK - r));

        c = _mm_xor_si128(load_partial(pt + k, r),
                          _mm_loadu_si128((const __m128i *)blk[1 + k / PGKMS_GCM_BLOCK]));
        c = _mm_and_si128(c, mask);
        store_partial(ct + k, c, r);
        x = gf_mul(_mm_xor_si128(x, bswap_block(c)), h);
    }
    x = gf_mul(_mm_xor_si128(x, _mm_set_epi64x((long long)aad_bits, (long long)ct_bits)), h);
    _mm_storeu_si128((__m128i *)tag,
                     _mm_xor_si128(bswap_block(x), _mm_loadu_si128((const __m128i *)blk[0])));
    pgkms_wipe(blk, sizeof(b->blocks[i]));
}

/*
 * Opens like pgkms_gcm_batch_seal seals: one AES-256-ECB call makes E(K, J0) and the value's
 * key stream, GHASH runs here, and the tag is compared in constant time (all 16 bytes, no
 * early exit) before any plaintext is written.
 */
GHASH_TARGET pgkms_code pgkms_gcm_opener_open(pgkms_gcm_opener *o,
                                              const uint8_t nonce[PGKMS_NONCE_LEN],
                                              const uint8_t *aad1, size_t aad1_len,
                                              const uint8_t *aad2, size_t aad2_len,
                                              const uint8_t *ct, size_t len,
                                              const uint8_t tag[PGKMS_GCM_BLOCK], uint8_t *pt)
{
    uint8_t blk[PGKMS_GCM_BATCH_BLOCKS][PGKMS_GCM_BLOCK];
    uint64_t aad_bits = (uint64_t)(aad1_len + aad2_len) * 8, ct_bits = (uint64_t)len * 8;
    int nblk = 1 + (int)((len + PGKMS_GCM_BLOCK - 1) / PGKMS_GCM_BLOCK), outl, equal;
    size_t k = 0, r;
    __m128i h, x, c;

    if (len > PGKMS_GCM_BATCH_MAX)
        return PGKMS_E_INTERNAL;
    /* Counter blocks J0 = nonce || be32(1), then J0 + 1, ... */
    for (int j = 0; j < nblk; j++) {
        memcpy(blk[j], nonce, PGKMS_NONCE_LEN);
        pgkms_store_be32(blk[j] + PGKMS_NONCE_LEN, 1 + (uint32_t)j);
    }
    if (!EVP_EncryptUpdate(o->ecb, blk[0], &outl, blk[0], nblk * PGKMS_GCM_BLOCK) ||
        outl != nblk * PGKMS_GCM_BLOCK) {
        pgkms_wipe(blk, sizeof(blk));
        return PGKMS_E_INTERNAL;
    }
    x = aad_hash(&o->kept, o->h, aad1, aad1_len, aad2, aad2_len);
    /* From here to the comparison nothing is called: the hash key and state stay in registers. */
    h = load_block(o->h);
    for (; k + PGKMS_GCM_BLOCK <= len; k += PGKMS_GCM_BLOCK)
        x = gf_mul(_mm_xor_si128(x, load_block(ct + k)), h);
    if ((r = len - k) > 0)
        x = gf_mul(_mm_xor_si128(x, bswap_block(load_partial(ct + k, r))), h);
    x = gf_mul(_mm_xor_si128(x, _mm_set_epi64x((long long)aad_bits, (long long)ct_bits)), h);
    x = _mm_xor_si128(bswap_block(x), _mm_loadu_si128((const __m128i *)blk[0]));
    equal = _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)tag))) == 0xffff;
    if (equal) {
        for (k = 0; k + PGKMS_GCM_BLOCK <= len; k += PGKMS_GCM_BLOCK)
            _mm_storeu_si128(
                (__m128i *)(pt + k),
                _mm_xor_si128(_mm_loadu_si128((const __m128i *)(ct + k)),
                              _mm_loadu_si128((const __m128i *)blk[1 + k / PGKMS_GCM_BLOCK])));
        if (r > 0) {
            c = _mm_xor_si128(load_partial(ct + k, r),
                              _mm_loadu_si128((const __m128i *)blk[1 + k / PGKMS_GCM_BLOCK]));
            store_partial(pt + k, c, r);
        }
    }
    pgkms_wipe(blk, sizeof(blk));
    return equal ? PGKMS_OK : PGKMS_E_AUTH_FAILED;
}

#else

int pgkms_gcm_batch_supported(void)
{
    return 0;
}

/* Never reached: callers check pgkms_gcm_batch_usable() first. A value is never left unsealed. */
void pgkms_gcm_batch_seal(pgkms_gcm_batch *b, size_t i, const uint8_t *aad1, size_t aad1_len,
                          const uint8_t *aad2, size_t aad2_len, const uint8_t *pt, size_t len,
                          uint8_t *ct, uint8_t tag[PGKMS_GCM_BLOCK])
{
    (void)b, (void)i, (void)aad1, (void)aad1_len, (void)aad2, (void)aad2_len, (void)pt, (void)len;
    (void)ct, (void)tag;
    abort();
}

/* Never reached either: openers are made only where batches are usable. */
pgkms_code pgkms_gcm_opener_open(pgkms_gcm_opener *o, const uint8_t nonce[PGKMS_NONCE_LEN],
                                 const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                                 size_t aad2_len, const uint8_t *ct, size_t len,
                                 const uint8_t tag[PGKMS_GCM_BLOCK], uint8_t *pt)
{
    (void)o, (void)nonce, (void)aad1, (void)aad1_len, (void)aad2, (void)aad2_len, (void)ct;
    (void)len, (void)tag, (void)pt;
    abort();
}

#endif

/* Keys *ecb_ctx (new) with key and computes the hash key h = E(K, 0^128); 0 on failure. */
static int key_ecb(EVP_CIPHER_CTX **ecb_ctx, const EVP_CIPHER *ecb,
                   const uint8_t key[PGKMS_AES256_KEY_LEN], uint8_t h[PGKMS_GCM_BLOCK])
{
    static const uint8_t zero[PGKMS_GCM_BLOCK];
    int outl;

    *ecb_ctx = EVP_CIPHER_CTX_new();
    return *ecb_ctx != NULL && EVP_EncryptInit_ex2(*ecb_ctx, ecb, key, NULL, NULL) &&
           EVP_CIPHER_CTX_set_padding(*ecb_ctx, 0) &&
           EVP_EncryptUpdate(*ecb_ctx, h, &outl, zero, sizeof(zero)) && outl == sizeof(zero);
}

pgkms_code pgkms_gcm_batch_new(pgkms_gcm_batch **out, const EVP_CIPHER *ecb,
                               const uint8_t key[PGKMS_AES256_KEY_LEN], pgkms_status *st)
{
    pgkms_gcm_batch *b = pgkms_secure_alloc(sizeof(*b));

    *out = NULL;
    if (b == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a nonce batch");
    if (!key_ecb(&b->ecb, ecb, key, b->h)) {
        pgkms_gcm_batch_free(b);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not key AES-256-ECB");
    }
    *out = b;
    return PGKMS_OK;
}

pgkms_code pgkms_gcm_opener_new(pgkms_gcm_opener **out, const EVP_CIPHER *ecb,
                                const uint8_t key[PGKMS_AES256_KEY_LEN], pgkms_status *st)
{
    pgkms_gcm_opener *o = pgkms_secure_alloc(sizeof(*o));

    *out = NULL;
    if (o == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a data key");
    if (!key_ecb(&o->ecb, ecb, key, o->h)) {
        pgkms_gcm_opener_free(o);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not key AES-256-ECB");
    }
    *out = o;
    return PGKMS_OK;
}

void pgkms_gcm_opener_free(pgkms_gcm_opener *o)
{
    if (o == NULL)
        return;
    EVP_CIPHER_CTX_free(o->ecb); /* OpenSSL cleanses the key schedule */
    pgkms_secure_free(o, sizeof(*o));
}

void pgkms_gcm_opener_corrupt_for_test(pgkms_gcm_opener *o)
{
    o->h[0] ^= 0x80;
}

void pgkms_gcm_batch_free(pgkms_gcm_batch *b)
{
    if (b == NULL)
        return;
    EVP_CIPHER_CTX_free(b->ecb); /* OpenSSL cleanses the key schedule */
    pgkms_secure_free(b, sizeof(*b));
}

pgkms_code pgkms_gcm_batch_fill(pgkms_gcm_batch *b, const uint8_t *nonces, size_t n,
                                pgkms_status *st)
{
    int outl, len = (int)(n * sizeof(b->blocks[0]));

    if (n > PGKMS_GCM_BATCH_N)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "a nonce batch holds %d nonces", PGKMS_GCM_BATCH_N);
    /* Counter blocks J0 + j = nonce || be32(1 + j), encrypted in place. */
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < PGKMS_GCM_BATCH_BLOCKS; j++) {
            memcpy(b->blocks[i][j], nonces + i * PGKMS_NONCE_LEN, PGKMS_NONCE_LEN);
            pgkms_store_be32(b->blocks[i][j] + PGKMS_NONCE_LEN, 1 + j);
        }
    }
    if (!EVP_EncryptUpdate(b->ecb, &b->blocks[0][0][0], &outl, &b->blocks[0][0][0], len) ||
        outl != len) {
        pgkms_wipe(b->blocks, sizeof(b->blocks));
        return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-ECB failed");
    }
    return PGKMS_OK;
}

void pgkms_gcm_batch_skip(pgkms_gcm_batch *b, size_t i)
{
    pgkms_wipe(b->blocks[i], sizeof(b->blocks[i]));
}

void pgkms_gcm_batch_corrupt_for_test(pgkms_gcm_batch *b)
{
    b->h[0] ^= 0x80;
}

/*
 * Test case 16 of McGrew and Viega's GCM specification (AES-256, 60-byte plaintext, 20-byte
 * AAD): partial last blocks of both AAD and plaintext.
 */
static const uint8_t KAT_KEY[32] = {
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
static const uint8_t KAT_NONCE[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                      0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
static const uint8_t KAT_AAD[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
                                    0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
static const uint8_t KAT_PT[60] = {
    0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26,
    0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31,
    0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49,
    0xa6, 0xb5, 0x25, 0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
static const uint8_t KAT_CT_TAG[60 + 16] = {
    0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42, 0x7d,
    0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55, 0xd1, 0xaa,
    0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56, 0x82, 0x88, 0x38,
    0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62, 0x76, 0xfc, 0x6e, 0xce,
    0x0f, 0x4e, 0x17, 0x68, 0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b};

/*
 * The known answer opened twice by an opener (the AAD split, then whole through the kept
 * GHASH), and refused with one bit of the tag changed, writing nothing.
 */
static int known_answer_opens(const EVP_CIPHER *ecb)
{
    uint8_t pt[sizeof(KAT_PT)], tag[PGKMS_GCM_BLOCK], untouched[sizeof(KAT_PT)];
    const uint8_t *ct = KAT_CT_TAG;
    pgkms_gcm_opener *o;
    int ok;

    if (pgkms_gcm_opener_new(&o, ecb, KAT_KEY, NULL) != PGKMS_OK)
        return 0;
    memcpy(tag, KAT_CT_TAG + sizeof(KAT_PT), sizeof(tag));
    ok = pgkms_gcm_opener_open(o, KAT_NONCE, KAT_AAD, 7, KAT_AAD + 7, sizeof(KAT_AAD) - 7, ct,
                               sizeof(KAT_PT), tag, pt) == PGKMS_OK &&
         CRYPTO_memcmp(pt, KAT_PT, sizeof(pt)) == 0;
    memset(pt, 0, sizeof(pt));
    ok = ok &&
         pgkms_gcm_opener_open(o, KAT_NONCE, KAT_AAD, sizeof(KAT_AAD), NULL, 0, ct, sizeof(KAT_PT),
                               tag, pt) == PGKMS_OK &&
         CRYPTO_memcmp(pt, KAT_PT, sizeof(pt)) == 0;
    tag[15] ^= 0x01;
    memset(pt, 0x5a, sizeof(pt));
    memcpy(untouched, pt, sizeof(pt));
    ok = ok &&
         pgkms_gcm_opener_open(o, KAT_NONCE, KAT_AAD, sizeof(KAT_AAD), NULL, 0, ct, sizeof(KAT_PT),
                               tag, pt) == PGKMS_E_AUTH_FAILED &&
         memcmp(pt, untouched, sizeof(pt)) == 0;
    pgkms_gcm_opener_free(o);
    return ok;
}

/*
 * The known answer sealed twice from one batch: the AAD split unevenly in two, then whole, so
 * that the second value takes the GHASH kept from the first.
 */
static int known_answer_passes(const EVP_CIPHER *ecb)
{
    uint8_t nonces[2 * sizeof(KAT_NONCE)], out[2][sizeof(KAT_CT_TAG)];
    pgkms_gcm_batch *b;
    int ok;

    memcpy(nonces, KAT_NONCE, sizeof(KAT_NONCE));
    memcpy(nonces + sizeof(KAT_NONCE), KAT_NONCE, sizeof(KAT_NONCE));
    if (pgkms_gcm_batch_new(&b, ecb, KAT_KEY, NULL) != PGKMS_OK)
        return 0;
    ok = pgkms_gcm_batch_fill(b, nonces, 2, NULL) == PGKMS_OK;
    if (ok) {
        pgkms_gcm_batch_seal(b, 0, KAT_AAD, 7, KAT_AAD + 7, sizeof(KAT_AAD) - 7, KAT_PT,
                             sizeof(KAT_PT), out[0], out[0] + sizeof(KAT_PT));
        pgkms_gcm_batch_seal(b, 1, KAT_AAD, sizeof(KAT_AAD), NULL, 0, KAT_PT, sizeof(KAT_PT),
                             out[1], out[1] + sizeof(KAT_PT));
        ok = CRYPTO_memcmp(out[0], KAT_CT_TAG, sizeof(KAT_CT_TAG)) == 0 &&
             CRYPTO_memcmp(out[1], KAT_CT_TAG, sizeof(KAT_CT_TAG)) == 0;
    }
    pgkms_gcm_batch_free(b);
    return ok && known_answer_opens(ecb);
}

static int from_default_provider(const EVP_CIPHER *c)
{
    const OSSL_PROVIDER *p = EVP_CIPHER_get0_provider(c);

    return p != NULL && strcmp(OSSL_PROVIDER_get0_name(p), "default") == 0;
}

int pgkms_gcm_batch_usable(const EVP_CIPHER *gcm, const EVP_CIPHER *ecb)
{
    const char *env = getenv(PGKMS_ENV_GCM_BATCH);

    if (!pgkms_gcm_batch_supported() || (env != NULL && strcmp(env, "off") == 0))
        return 0;
    return from_default_provider(gcm) && from_default_provider(ecb) && known_answer_passes(ecb);
}
