/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing through the sealer's nonce batches: every length, context, batch boundary and change
 * of data key opens through EVP, and a changed bit fails (known answers: test_aead_kat.c). */
#include <string.h>

#include "pgkms/envelope.h"
#include "pgkms/gcm_batch.h"
#include "harness.h"

/* Values of 0..100 bytes (the batch serves up to 64, EVP the rest) over three batches and two
 * keys: each opens, and fails with one bit changed. Contexts change with every value in the
 * first half; in the second half they repeat, and change to another of the same length, so
 * that the GHASH kept for the last AAD is both reused and replaced. */
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

        if (n >= 3 * PGKMS_GCM_BATCH_N / 2) {
            cl = 8;
            ctx[0] = (uint8_t)('a' + n / 50 % 2);
        }

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

    if (!pgkms_gcm_batch_supported())
        fprintf(stderr, "  (no carry-less multiply on this CPU: values are sealed through EVP)\n");
    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    check_round_trips(&crypto);
    pgkms_crypto_cleanup(&crypto);
}
