/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing from a nonce batch is AES-256-GCM exactly: every length, context and batch boundary
 * opens through EVP, and a changed byte fails. */
#include <string.h>
#include <stdlib.h>

#include "pgkms/envelope.h"
#include "pgkms/gcm_batch.h"
#include "harness.h"

/* NIST GCM test case 16 (AES-256, 96-bit IV, AAD, 60-byte plaintext), through the batch. */
static void check_nist_vector(void)
{
    uint8_t *key, *iv, *pt, *aad, *ct, *tag, out[64], got[16];
    size_t kl, il, pl, al, cl, tl;
    EVP_CIPHER *ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    pgkms_gcm_batch *b = NULL;

    key = t_unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", &kl);
    iv = t_unhex("cafebabefacedbaddecaf888", &il);
    pt = t_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532"
                 "fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                 &pl);
    aad = t_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", &al);
    ct = t_unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da"
                 "7b08b1056828838c5f61e6393ba7a0abcc9f662",
                 &cl);
    tag = t_unhex("76fc6ece0f4e1768cddf8853bb2d551b", &tl);
    CHECK(ecb != NULL && pgkms_gcm_batch_new(&b, ecb, key, NULL) == PGKMS_OK);
    if (b != NULL && pgkms_gcm_batch_fill(b, iv, 1, NULL) == PGKMS_OK) {
        /* AAD split in two parts anywhere gives the same tag. */
        pgkms_gcm_batch_seal(b, 0, aad, 7, aad + 7, al - 7, pt, pl, out, got);
        CHECK(memcmp(out, ct, cl) == 0 && memcmp(got, tag, 16) == 0);
    }
    pgkms_gcm_batch_free(b);
    EVP_CIPHER_free(ecb);
    free(key), free(iv), free(pt), free(aad), free(ct), free(tag);
}

/* Values of 0..100 bytes (the batch serves up to 64, EVP the rest) over three batches and two
 * keys: each opens, and fails with one bit changed. */
static void check_round_trips(pgkms_crypto *crypto)
{
    static const uint8_t tmk[32] = {7, 7, 7};
    pgkms_key_ref keys[2] = {{{1, 2, 3, 4, 5, 6, 7, 8}, 1}, {{1, 2, 3, 4, 5, 6, 7, 8}, 2}};
    uint8_t pt[101], out[101 + PGKMS_OVERHEAD], opened[101], ctx[40];
    pgkms_sealer s;
    pgkms_envelope env;
    int bad = 0, tampered = 0;

    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 37 + 1);
    for (size_t i = 0; i < sizeof(ctx); i++)
        ctx[i] = (uint8_t)('a' + i % 26);
    pgkms_sealer_init(&s, crypto);
    for (int n = 0; n < 3 * PGKMS_GCM_BATCH_N; n++) {
        size_t len = (size_t)n % sizeof(pt), cl = (size_t)n % sizeof(ctx);
        const pgkms_key_ref *key = &keys[n / 300 % 2]; /* a new data key in mid-batch */

        if (pgkms_sealer_seal(&s, key, tmk, PGKMS_ALG_GCM_DATA, ctx, cl, pt, len, out, NULL) !=
                PGKMS_OK ||
            pgkms_format_parse(out, len + PGKMS_OVERHEAD, &env, NULL) != PGKMS_OK ||
            pgkms_sealer_open(&s, &env, tmk, ctx, cl, opened, NULL) != PGKMS_OK ||
            memcmp(opened, pt, len) != 0) {
            bad++;
            continue;
        }
        out[PGKMS_PREFIX_LEN + (size_t)n % (len + PGKMS_TAG_LEN)] ^= 0x01;
        if (pgkms_format_parse(out, len + PGKMS_OVERHEAD, &env, NULL) != PGKMS_OK ||
            pgkms_sealer_open(&s, &env, tmk, ctx, cl, opened, NULL) != PGKMS_E_AUTH_FAILED)
            tampered++;
    }
    CHECK_MSG(bad == 0, "%d values did not open", bad);
    CHECK_MSG(tampered == 0, "%d changed values opened", tampered);
    pgkms_sealer_cleanup(&s);
}

void test_gcm_batch(void)
{
    pgkms_crypto crypto;

    if (!pgkms_gcm_batch_supported()) {
        fprintf(stderr, "  (no carry-less multiply on this CPU: values are sealed through EVP)\n");
    } else {
        check_nist_vector();
    }
    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    check_round_trips(&crypto);
    pgkms_crypto_cleanup(&crypto);
}
