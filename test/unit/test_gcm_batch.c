/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing through the sealer's nonce batches and opening through its openers: every length,
 * context, batch boundary and change of data key round-trips (through EVP past 64 bytes), a
 * changed bit fails, and faults are caught (known answers: test_aead_kat.c). */
#include <stdlib.h>
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

/* Values of n bytes sealed by s open through EVP; the count that did not. */
static int unopened(pgkms_sealer *s, const pgkms_key_ref *key, const uint8_t *tmk, int count,
                    size_t n)
{
    uint8_t pt[64] = {1, 2, 3}, out[64 + PGKMS_OVERHEAD], opened[64];
    pgkms_envelope env;
    int bad = 0;

    for (int i = 0; i < count; i++)
        if (pgkms_sealer_seal(s, key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, pt, n, out, NULL) !=
                PGKMS_OK ||
            pgkms_format_parse(out, n + PGKMS_OVERHEAD, &env, NULL) != PGKMS_OK ||
            pgkms_sealer_open(s, &env, tmk, NULL, 0, opened, NULL) != PGKMS_OK ||
            memcmp(opened, pt, n) != 0)
            bad++;
    return bad;
}

/*
 * The continuous self-test: a batch whose hash key a fault changed, before any of its values
 * was sealed (the first value is too long for a batch), refuses the first value it serves,
 * with nothing written, and the sealer goes on through EVP alone.
 */
static void check_fault_refused(pgkms_crypto *crypto)
{
    static const uint8_t tmk[32] = {9};
    pgkms_key_ref key = {{8, 7, 6, 5, 4, 3, 2, 1}, 1};
    uint8_t pt[100] = {0}, out[100 + PGKMS_OVERHEAD], zero[11 + PGKMS_TAG_LEN] = {0};
    pgkms_sealer s;
    pgkms_status st;

    pgkms_sealer_init(&s, crypto);
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, pt, sizeof(pt), out,
                            NULL) == PGKMS_OK);
    CHECK(s.batch != NULL && s.batch_ready && !s.batch_checked);
    pgkms_gcm_batch_corrupt_for_test(s.batch);
    memset(out, 0xaa, sizeof(out));
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, pt, 11, out, &st) ==
          PGKMS_E_INTERNAL);
    CHECK_MSG(strstr(st.detail, "differed from OpenSSL's") != NULL, "detail: %s", st.detail);
    CHECK(memcmp(out + PGKMS_PREFIX_LEN, zero, sizeof(zero)) == 0);
    CHECK(s.batch == NULL && s.batch_off);
    CHECK(unopened(&s, &key, tmk, 2 * PGKMS_GCM_BATCH_N, 11) == 0);
    CHECK(s.batch == NULL);
    pgkms_sealer_cleanup(&s);

    /* Unharmed, the same steps seal from batches, and check one value of each. */
    pgkms_sealer_init(&s, crypto);
    CHECK(unopened(&s, &key, tmk, PGKMS_GCM_BATCH_N + 1, 11) == 0);
    CHECK(s.batch != NULL && s.batch_checked && !s.batch_off);
    pgkms_sealer_cleanup(&s);
}

/*
 * The opening counterpart: an opener whose hash key a fault changed, at a value that is checked
 * against EVP, refuses it with an internal error and nothing written, and the sealer then opens
 * through EVP alone. Unharmed, values open through openers and every 256th is checked.
 */
static void check_open_fault_refused(pgkms_crypto *crypto)
{
    static const uint8_t tmk[32] = {5};
    pgkms_key_ref key = {{2, 4, 6, 8, 1, 3, 5, 7}, 1};
    uint8_t pt[11] = {1, 3, 8}, out[11 + PGKMS_OVERHEAD], opened[11], zero[11] = {0};
    pgkms_sealer s;
    pgkms_envelope env;
    pgkms_status st;

    pgkms_sealer_init(&s, crypto);
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, pt, sizeof(pt), out,
                            NULL) == PGKMS_OK);
    CHECK(pgkms_format_parse(out, sizeof(out), &env, NULL) == PGKMS_OK);
    CHECK(unopened(&s, &key, tmk, PGKMS_GCM_BATCH_N + 1, 11) == 0);
    CHECK(s.open[0].opener != NULL && s.opens > PGKMS_GCM_BATCH_N && !s.open_off);
    /* The sealer's own data key is in open[0]: make the next value one that is checked. */
    s.opens = 2 * PGKMS_GCM_BATCH_N;
    pgkms_gcm_opener_corrupt_for_test(s.open[0].opener);
    memset(opened, 0xaa, sizeof(opened));
    CHECK(pgkms_sealer_open(&s, &env, tmk, NULL, 0, opened, &st) == PGKMS_E_INTERNAL);
    CHECK_MSG(strstr(st.detail, "differed from OpenSSL's") != NULL, "detail: %s", st.detail);
    CHECK(memcmp(opened, zero, sizeof(zero)) == 0);
    CHECK(s.open_off);
    CHECK(unopened(&s, &key, tmk, PGKMS_GCM_BATCH_N + 1, 11) == 0);
    CHECK(pgkms_sealer_open(&s, &env, tmk, NULL, 0, opened, NULL) == PGKMS_OK &&
          memcmp(opened, pt, sizeof(pt)) == 0);
    pgkms_sealer_cleanup(&s);
}

void test_gcm_batch(void)
{
    pgkms_crypto crypto;
    const char *env = getenv(PGKMS_ENV_GCM_BATCH);
    char *saved = env != NULL ? strdup(env) : NULL;

    unsetenv(PGKMS_ENV_GCM_BATCH); /* a caller's PGKMS_GCM_BATCH=off must not skip the checks */

    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    if (!pgkms_gcm_batch_supported()) {
        fprintf(stderr, "  (no carry-less multiply on this CPU: values are sealed through EVP)\n");
        CHECK(!crypto.seal_batch);
    } else {
        CHECK(crypto.seal_batch); /* OpenSSL's default provider, known answer passed */
        check_fault_refused(&crypto);
        check_open_fault_refused(&crypto);
    }
    check_round_trips(&crypto);
    pgkms_crypto_cleanup(&crypto);

    /* PGKMS_GCM_BATCH=off: every value through EVP, and the same round trips hold. */
    setenv(PGKMS_ENV_GCM_BATCH, "off", 1);
    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    unsetenv(PGKMS_ENV_GCM_BATCH);
    CHECK(!crypto.seal_batch);
    check_round_trips(&crypto);
    pgkms_crypto_cleanup(&crypto);
    if (saved != NULL)
        setenv(PGKMS_ENV_GCM_BATCH, saved, 1);
    free(saved);
}
