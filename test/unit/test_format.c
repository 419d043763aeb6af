/* SPDX-License-Identifier: Apache-2.0 */
/* Value format: the Python-generated vectors (randomized and deterministic), the bad-input
 * table, nonces across fork(). */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgkms/envelope.h"
#include "pgkms/format.h"
#include "pgkms/search.h"
#include "harness.h"

static pgkms_crypto crypto;

static void check_vectors(void)
{
    char path[512], line[8192], buf[4096];
    FILE *f;
    int n = 0, det = 0;

    snprintf(path, sizeof(path), "%s/format_vectors.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t tl, rl, nl, cl, pl, vl;
        uint8_t *tmk, *ref, *nonce, *ctx, *pt, *value, *out, *opened;
        pgkms_key_ref key;
        pgkms_envelope env;
        pgkms_sealer s;
        unsigned long dek_id;
        int alg;

        if (line[0] == '#')
            continue;
        tmk = t_hex_field(line, "tmk", &tl);
        ref = t_hex_field(line, "key_ref", &rl);
        nonce = t_hex_field(line, "nonce", &nl);
        ctx = t_hex_field(line, "context", &cl);
        pt = t_hex_field(line, "pt", &pl);
        value = t_hex_field(line, "value", &vl);
        dek_id = strtoul(t_field(line, "dek_id", buf, sizeof(buf)), NULL, 16);
        alg = atoi(t_field(line, "alg", buf, sizeof(buf)));
        memcpy(key.ref, ref, PGKMS_KEY_REF_LEN);
        key.version = 1;
        out = malloc(pl + PGKMS_OVERHEAD);
        opened = malloc(pl + 1);
        if (alg == PGKMS_ALG_SIV_DATA) {
            /* Deterministic: sealing the plaintext gives exactly the vector's bytes. */
            pgkms_searcher ds;

            pgkms_searcher_init(&ds, &crypto);
            CHECK(pgkms_search_det_seal(&ds, &key, tmk, ctx, cl, pt, pl, out, NULL) == PGKMS_OK);
            CHECK_MSG(vl == pl + PGKMS_DET_OVERHEAD && memcmp(out, value, vl) == 0, "vector %s",
                      t_field(line, "name", buf, sizeof(buf)));
            CHECK(pgkms_format_parse(value, vl, &env, NULL) == PGKMS_OK);
            CHECK(env.alg == alg && env.key_version == 1 && env.dek_id == 0 && dek_id == 0);
            CHECK(pgkms_search_det_open(&ds, &env, tmk, ctx, cl, opened, NULL) == PGKMS_OK &&
                  memcmp(opened, pt, pl) == 0);
            CHECK(pgkms_search_det_open(&ds, &env, tmk, (const uint8_t *)"other", 5, opened,
                                        NULL) == PGKMS_E_AUTH_FAILED);
            pgkms_searcher_cleanup(&ds);
            det++;
        } else {
            /* Sealing with the vector's data key id and nonce gives exactly its bytes. */
            CHECK(pgkms_seal_fixed(&crypto, &key, tmk, (uint8_t)alg, (uint32_t)dek_id, nonce, ctx,
                                   cl, pt, pl, out, NULL) == PGKMS_OK);
            CHECK_MSG(vl == pl + PGKMS_OVERHEAD && memcmp(out, value, vl) == 0, "vector %s",
                      t_field(line, "name", buf, sizeof(buf)));
            /* And the general opener reads it back. */
            CHECK(pgkms_format_parse(value, vl, &env, NULL) == PGKMS_OK);
            CHECK(env.alg == alg && env.key_version == 1 && env.dek_id == dek_id);
            pgkms_sealer_init(&s, &crypto);
            CHECK(pgkms_sealer_open(&s, &env, tmk, ctx, cl, opened, NULL) == PGKMS_OK &&
                  memcmp(opened, pt, pl) == 0);
            /* A different context never opens it. */
            CHECK(pgkms_sealer_open(&s, &env, tmk, (const uint8_t *)"other", 5, opened, NULL) ==
                  PGKMS_E_AUTH_FAILED);
            pgkms_sealer_cleanup(&s);
        }
        free(tmk), free(ref), free(nonce), free(ctx), free(pt), free(value), free(out),
            free(opened);
        n++;
    }
    if (f != NULL)
        fclose(f);
    CHECK_MSG(n >= 12 && det >= 6, "only %d format vectors, %d deterministic", n, det);
}

/* Every bad input gives its error class and never a plaintext. */
static void check_bad_inputs(void)
{
    static const uint8_t tmk[32] = {1, 2, 3};
    static const uint8_t other_tmk[32] = {9, 9, 9};
    pgkms_key_ref key = {{1, 2, 3, 4, 5, 6, 7, 8}, 1};
    uint8_t good[11 + PGKMS_OVERHEAD], bad[sizeof(good)], pt[64];
    pgkms_sealer s;
    pgkms_envelope env;
    pgkms_status st;

    pgkms_sealer_init(&s, &crypto);
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, (const uint8_t *)"ctx", 3,
                            (const uint8_t *)"13812345678", 11, good, NULL) == PGKMS_OK);
    CHECK(pgkms_format_parse(good, sizeof(good), &env, NULL) == PGKMS_OK);
    CHECK(pgkms_sealer_open(&s, &env, tmk, (const uint8_t *)"ctx", 3, pt, NULL) == PGKMS_OK &&
          memcmp(pt, "13812345678", 11) == 0);

    /* Structure: each is refused by the parser with BAD_FORMAT. */
    CHECK(pgkms_format_parse(good, 0, &env, &st) == PGKMS_E_BAD_FORMAT); /* empty */
    for (size_t len = 1; len < PGKMS_OVERHEAD; len++)                    /* truncated */
        CHECK_MSG(pgkms_format_parse(good, len, &env, &st) == PGKMS_E_BAD_FORMAT, "len %zu", len);
    memcpy(bad, good, sizeof(bad));
    bad[0] ^= 0xFF; /* wrong magic */
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT);
    memcpy(bad, good, sizeof(bad));
    bad[2] = 2; /* unknown format version */
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "version") != NULL);
    memcpy(bad, good, sizeof(bad));
    bad[3] = 99; /* unknown algorithm */
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT);
    memcpy(bad, good, sizeof(bad));
    memset(bad + 12, 0, 4); /* key version 0 */
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT);
    /* A length beyond the largest datum: refused before any byte past the header is read. */
    CHECK(pgkms_format_parse(good, PGKMS_MAX_VALUE_LEN + 1, &env, &st) == PGKMS_E_BAD_FORMAT);

    /* Authentication: each parses, then fails the tag, and the output stays zero. */
    for (size_t i = 0; i < sizeof(good); i++) {
        int zero = 1;

        memcpy(bad, good, sizeof(bad));
        bad[i] ^= 0x01;
        if (pgkms_format_parse(bad, sizeof(bad), &env, &st) != PGKMS_OK)
            continue;
        memset(pt, 0xAA, sizeof(pt));
        CHECK_MSG(pgkms_sealer_open(&s, &env, tmk, (const uint8_t *)"ctx", 3, pt, &st) ==
                      PGKMS_E_AUTH_FAILED,
                  "flipped byte %zu", i);
        for (size_t k = 0; k < 11; k++)
            zero &= pt[k] == 0;
        CHECK_MSG(zero, "plaintext released for flipped byte %zu", i);
    }
    CHECK(pgkms_format_parse(good, sizeof(good), &env, NULL) == PGKMS_OK);
    {
        /* Another tenant's key (a fresh user: a key reference names one key only). */
        pgkms_sealer other;

        pgkms_sealer_init(&other, &crypto);
        CHECK(pgkms_sealer_open(&other, &env, other_tmk, (const uint8_t *)"ctx", 3, pt, &st) ==
              PGKMS_E_AUTH_FAILED);
        pgkms_sealer_cleanup(&other);
    }
    CHECK(pgkms_sealer_open(&s, &env, tmk, NULL, 0, pt, &st) == PGKMS_E_AUTH_FAILED);
    CHECK(pgkms_sealer_open(&s, &env, tmk, (const uint8_t *)"ctx\0", 4, pt, &st) ==
          PGKMS_E_AUTH_FAILED); /* context is length-bound */
    pgkms_sealer_cleanup(&s);
}

/* Nonces and data key ids never repeat, across values and across fork(). */
static void check_randomness(void)
{
    static const uint8_t tmk[32] = {7};
    pgkms_key_ref key = {{8, 7, 6, 5, 4, 3, 2, 1}, 3};
    uint8_t a[PGKMS_OVERHEAD], b[PGKMS_OVERHEAD], child[PGKMS_OVERHEAD];
    pgkms_sealer s;
    int fds[2], status;
    pid_t pid;

    pgkms_sealer_init(&s, &crypto);
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, NULL, 0, a, NULL) ==
          PGKMS_OK);
    CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        pgkms_status st;

        close(fds[0]);
        if (pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, NULL, 0, child, &st) ==
            PGKMS_OK)
            (void)!write(fds[1], child, sizeof(child));
        _exit(0);
    }
    close(fds[1]);
    CHECK(read(fds[0], child, sizeof(child)) == (ssize_t)sizeof(child));
    close(fds[0]);
    waitpid(pid, &status, 0);
    CHECK(pgkms_sealer_seal(&s, &key, tmk, PGKMS_ALG_GCM_DATA, NULL, 0, NULL, 0, b, NULL) ==
          PGKMS_OK);
    /* Same process: same data key, fresh nonce. */
    CHECK(memcmp(a + 16, b + 16, 4) == 0);
    CHECK(memcmp(a + PGKMS_HEADER_LEN, b + PGKMS_HEADER_LEN, PGKMS_NONCE_LEN) != 0);
    /* The child did not reuse the parent's next nonce, nor its data key. */
    CHECK(memcmp(child + PGKMS_HEADER_LEN, b + PGKMS_HEADER_LEN, PGKMS_NONCE_LEN) != 0);
    CHECK(memcmp(child + 16, b + 16, 4) != 0);
    pgkms_sealer_cleanup(&s);
}

void test_format(void)
{
    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    check_vectors();
    check_bad_inputs();
    check_randomness();
    pgkms_crypto_cleanup(&crypto);
}
