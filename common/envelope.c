/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Values under a tenant key version. Per-value cost is set-up, not bytes, so a data key is
 * derived once per process (random 32-bit id, re-derived after PGKMS_DEK_MAX_USES), its GCM
 * context stays keyed, and nonces come from a batch of RAND_bytes, for which the block cipher
 * runs ahead (gcm_batch.h) so that a short value costs an XOR and GHASH. See docs/format.md and
 * docs/performance.md.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pgkms/aead.h"
#include "pgkms/envelope.h"
#include "pgkms/gcm_batch.h"
#include "pgkms/kdf.h"
#include "pgkms/secmem.h"

static const char DEK_INFO[] = "pgkms dek v1";

pgkms_code pgkms_crypto_init(pgkms_crypto *c, OSSL_LIB_CTX *libctx, const char *propq,
                             pgkms_status *st)
{
    memset(c, 0, sizeof(*c));
    c->libctx = libctx;
    c->gcm = EVP_CIPHER_fetch(libctx, "AES-256-GCM", propq);
    c->ctr = EVP_CIPHER_fetch(libctx, "AES-256-CTR", propq);
    c->cmac = EVP_MAC_fetch(libctx, "CMAC", propq);
    c->hmac = EVP_MAC_fetch(libctx, "HMAC", propq);
    c->ecb = EVP_CIPHER_fetch(libctx, "AES-256-ECB", propq);
    if (c->gcm == NULL || c->ctr == NULL || c->cmac == NULL || c->hmac == NULL || c->ecb == NULL) {
        pgkms_crypto_cleanup(c);
        return pgkms_fail(st, PGKMS_E_INTERNAL,
                          "AES-256-GCM, AES-256-CTR, AES-256-ECB, CMAC or HMAC is not available "
                          "(is the default provider loaded?)");
    }
    c->seal_batch = pgkms_gcm_batch_usable(c->gcm, c->ecb);
    return PGKMS_OK;
}

void pgkms_crypto_cleanup(pgkms_crypto *c)
{
    EVP_CIPHER_free(c->gcm);
    EVP_CIPHER_free(c->ctr);
    EVP_MAC_free(c->cmac);
    EVP_MAC_free(c->hmac);
    EVP_CIPHER_free(c->ecb);
    c->gcm = c->ctr = c->ecb = NULL;
    c->cmac = c->hmac = NULL;
}

pgkms_code pgkms_dek_derive(OSSL_LIB_CTX *libctx, const pgkms_key_ref *key, const uint8_t *tmk,
                            uint32_t dek_id, uint8_t dek[PGKMS_TMK_LEN], pgkms_status *st)
{
    uint8_t info[sizeof(DEK_INFO) - 1 + PGKMS_KEY_REF_LEN + 8];
    uint8_t *p = info;

    memcpy(p, DEK_INFO, sizeof(DEK_INFO) - 1);
    p += sizeof(DEK_INFO) - 1;
    memcpy(p, key->ref, PGKMS_KEY_REF_LEN);
    p += PGKMS_KEY_REF_LEN;
    pgkms_store_be32(p, key->version);
    pgkms_store_be32(p + 4, dek_id);
    return pgkms_hkdf_sha256(libctx, tmk, PGKMS_TMK_LEN, info, sizeof(info), dek, PGKMS_TMK_LEN,
                             st);
}

/* AAD = header || be32(context length): the context itself is fed as a second AAD part. */
static void make_aad(uint8_t aad[PGKMS_HEADER_LEN + 4], const uint8_t *header, size_t context_len)
{
    memcpy(aad, header, PGKMS_HEADER_LEN);
    pgkms_store_be32(aad + PGKMS_HEADER_LEN, (uint32_t)context_len);
}

static void slot_forget(pgkms_dek_slot *slot)
{
    EVP_CIPHER_CTX_free(slot->ctx); /* OpenSSL cleanses the key schedule */
    pgkms_gcm_opener_free(slot->opener);
    memset(slot, 0, sizeof(*slot));
}

/*
 * Keys slot for data key dek_id, and a new *batch too when batch is not NULL; an opening slot
 * also gets an opener when with_opener is set.
 */
static pgkms_code slot_key(const pgkms_crypto *crypto, pgkms_dek_slot *slot,
                           const pgkms_key_ref *key, const uint8_t *tmk, uint32_t dek_id, int enc,
                           pgkms_gcm_batch **batch, int with_opener, pgkms_status *st)
{
    uint8_t dek[PGKMS_TMK_LEN];
    pgkms_code rc;

    slot_forget(slot);
    slot->ctx = EVP_CIPHER_CTX_new();
    if (slot->ctx == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a cipher context");
    rc = pgkms_dek_derive(crypto->libctx, key, tmk, dek_id, dek, st);
    if (rc == PGKMS_OK)
        rc = pgkms_gcm_set_key(slot->ctx, crypto->gcm, enc, dek, st);
    if (rc == PGKMS_OK && batch != NULL) {
        pgkms_gcm_batch_free(*batch);
        rc = pgkms_gcm_batch_new(batch, crypto->ecb, dek, st);
    }
    if (rc == PGKMS_OK && with_opener)
        rc = pgkms_gcm_opener_new(&slot->opener, crypto->ecb, dek, st);
    pgkms_wipe(dek, sizeof(dek));
    if (rc != PGKMS_OK) {
        slot_forget(slot);
        return rc;
    }
    slot->key = *key;
    slot->dek_id = dek_id;
    slot->in_use = 1;
    return PGKMS_OK;
}

static int same_key(const pgkms_key_ref *a, const pgkms_key_ref *b)
{
    return a->version == b->version && memcmp(a->ref, b->ref, PGKMS_KEY_REF_LEN) == 0;
}

void pgkms_sealer_init(pgkms_sealer *s, const pgkms_crypto *crypto)
{
    memset(s, 0, sizeof(*s));
    s->crypto = crypto;
    s->fork_gen = pgkms_fork_generation();
    s->nonce_pos = PGKMS_NONCE_BATCH; /* empty: filled on first use */
}

/* Forgets the data key that seals, with its batch: the nonces left are drawn again. */
static void forget_seal(pgkms_sealer *s)
{
    slot_forget(&s->seal);
    pgkms_gcm_batch_free(s->batch);
    s->batch = NULL;
    s->batch_ready = 0;
    s->nonce_pos = PGKMS_NONCE_BATCH;
}

void pgkms_sealer_cleanup(pgkms_sealer *s)
{
    forget_seal(s);
    for (int i = 0; i < PGKMS_OPEN_SLOTS; i++)
        slot_forget(&s->open[i]);
}

/* After fork() both processes would draw the same nonces and share a use counter. */
static void renew_after_fork(pgkms_sealer *s)
{
    unsigned gen = pgkms_fork_generation();

    if (gen != s->fork_gen) {
        forget_seal(s);
        s->fork_gen = gen;
    }
}

_Static_assert(PGKMS_NONCE_BATCH == PGKMS_GCM_BATCH_N * PGKMS_NONCE_LEN,
               "a nonce batch and its blocks hold as many nonces");

/* The next nonce and its index in nonces[]; a new batch also gets its blocks computed. */
static pgkms_code next_nonce(pgkms_sealer *s, uint8_t nonce[PGKMS_NONCE_LEN], size_t *index,
                             pgkms_status *st)
{
    if (s->nonce_pos + PGKMS_NONCE_LEN > PGKMS_NONCE_BATCH) {
        s->batch_ready = 0;
        if (RAND_bytes_ex(s->crypto->libctx, s->nonces, sizeof(s->nonces), 0) <= 0)
            return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
        s->nonce_pos = 0;
        if (s->batch != NULL) {
            pgkms_code rc = pgkms_gcm_batch_fill(s->batch, s->nonces, PGKMS_GCM_BATCH_N, st);

            if (rc != PGKMS_OK)
                return rc;
            s->batch_ready = 1;
            s->batch_checked = 0;
        }
    }
    memcpy(nonce, s->nonces + s->nonce_pos, PGKMS_NONCE_LEN);
    *index = s->nonce_pos / PGKMS_NONCE_LEN;
    s->nonce_pos += PGKMS_NONCE_LEN;
    return PGKMS_OK;
}

/*
 * Seals from s's batch, nonce `index`. The first value of every batch is also sealed through
 * EVP and must come out alike, a continuous self-test as HSMs run: a fault of the CPU or of
 * memory then costs one refused value and turns batches off, before a batch's values are
 * written that no GCM would open.
 */
static pgkms_code batch_seal(pgkms_sealer *s, size_t index, const uint8_t *aad, size_t aad_len,
                             const uint8_t *context, size_t context_len, const uint8_t *pt,
                             size_t len, uint8_t *out, pgkms_status *st)
{
    uint8_t *ct = out + PGKMS_PREFIX_LEN, *tag = ct + len;
    uint8_t check[PGKMS_GCM_BATCH_MAX + PGKMS_TAG_LEN];
    pgkms_code rc;

    pgkms_gcm_batch_seal(s->batch, index, aad, aad_len, context, context_len, pt, len, ct, tag);
    if (s->batch_checked)
        return PGKMS_OK;
    rc = pgkms_gcm_seal(s->seal.ctx, out + PGKMS_HEADER_LEN, aad, aad_len, context, context_len, pt,
                        len, check, check + len, st);
    if (rc == PGKMS_OK && CRYPTO_memcmp(check, ct, len + PGKMS_TAG_LEN) != 0) {
        s->batch_off = 1;
        forget_seal(s);
        rc = pgkms_fail(st, PGKMS_E_INTERNAL,
                        "AES-256-GCM sealed from a nonce batch differed from OpenSSL's (a CPU or "
                        "memory fault?): the value was not sealed, and this session now seals "
                        "through OpenSSL only");
    }
    if (rc != PGKMS_OK)
        pgkms_wipe(ct, len + PGKMS_TAG_LEN);
    s->batch_checked = rc == PGKMS_OK;
    return rc;
}

/* Seals with ctx, or from batch_of's batch (nonce `index`) when that serves the value. */
static pgkms_code seal_with(EVP_CIPHER_CTX *ctx, pgkms_sealer *batch_of, size_t index,
                            const pgkms_key_ref *key, uint8_t alg, uint32_t dek_id,
                            const uint8_t *nonce, const uint8_t *context, size_t context_len,
                            const uint8_t *pt, size_t len, uint8_t *out, pgkms_status *st)
{
    pgkms_envelope env;
    uint8_t aad[PGKMS_HEADER_LEN + 4];

    if (batch_of != NULL && !batch_of->batch_ready)
        batch_of = NULL;
    if (batch_of != NULL && (len > PGKMS_GCM_BATCH_MAX || context_len > PGKMS_MAX_CONTEXT_LEN)) {
        /* Sealed through ctx, or refused below: the blocks of this nonce serve no value. */
        pgkms_gcm_batch_skip(batch_of->batch, index);
        batch_of = NULL;
    }
    if (len > PGKMS_MAX_PLAINTEXT)
        return pgkms_fail(st, PGKMS_E_LIMIT, "plaintext of %zu bytes exceeds the %zu-byte limit",
                          len, PGKMS_MAX_PLAINTEXT);
    if (context_len > PGKMS_MAX_CONTEXT_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "context of %zu bytes exceeds the %d-byte limit", context_len,
                          PGKMS_MAX_CONTEXT_LEN);
    env.version = PGKMS_FORMAT_V1;
    env.alg = alg;
    memcpy(env.key_ref, key->ref, PGKMS_KEY_REF_LEN);
    env.key_version = key->version;
    env.dek_id = dek_id;
    pgkms_format_write_header(out, &env);
    memcpy(out + PGKMS_HEADER_LEN, nonce, PGKMS_NONCE_LEN);
    make_aad(aad, out, context_len);
    if (batch_of != NULL)
        return batch_seal(batch_of, index, aad, sizeof(aad), context, context_len, pt, len, out,
                          st);
    return pgkms_gcm_seal(ctx, nonce, aad, sizeof(aad), context, context_len, pt, len,
                          out + PGKMS_PREFIX_LEN, out + PGKMS_PREFIX_LEN + len, st);
}

/* Whether the data key s holds seals under key (after a fork it holds none). */
static int holds_key(const pgkms_sealer *s, const pgkms_key_ref *key)
{
    return s->seal.in_use && same_key(&s->seal.key, key) && s->seal.uses < PGKMS_DEK_MAX_USES;
}

int pgkms_sealer_holds(const pgkms_sealer *s, const pgkms_key_ref *key)
{
    return s->fork_gen == pgkms_fork_generation() && holds_key(s, key);
}

pgkms_code pgkms_sealer_seal(pgkms_sealer *s, const pgkms_key_ref *key, const uint8_t *tmk,
                             uint8_t alg, const uint8_t *context, size_t context_len,
                             const uint8_t *pt, size_t len, uint8_t *out, pgkms_status *st)
{
    uint8_t nonce[PGKMS_NONCE_LEN];
    size_t index = 0;
    pgkms_code rc;

    renew_after_fork(s);
    if (!holds_key(s, key)) {
        uint32_t dek_id;

        if (tmk == NULL)
            return pgkms_fail(st, PGKMS_E_INTERNAL, "no tenant key to derive a data key from");
        if (RAND_bytes_ex(s->crypto->libctx, (unsigned char *)&dek_id, sizeof(dek_id), 0) <= 0)
            return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
        /* The blocks of the nonces left belong to the old data key: a new batch is drawn. */
        forget_seal(s);
        rc = slot_key(s->crypto, &s->seal, key, tmk, dek_id, 1,
                      s->crypto->seal_batch && !s->batch_off ? &s->batch : NULL, 0, st);
        if (rc != PGKMS_OK) {
            forget_seal(s);
            return rc;
        }
    }
    rc = next_nonce(s, nonce, &index, st);
    if (rc != PGKMS_OK)
        return rc;
    s->seal.uses++;
    return seal_with(s->seal.ctx, s, index, key, alg, s->seal.dek_id, nonce, context, context_len,
                     pt, len, out, st);
}

/*
 * Opens through the slot's opener (gcm_batch.h), which skips OpenSSL's per-value GCM set-up.
 * Every PGKMS_GCM_BATCH_N-th value is also opened through EVP, and both must agree on the
 * outcome and the plaintext, the counterpart of batch_seal()'s check: if they do not, the
 * value is refused and this sealer opens through EVP only from then on.
 */
static pgkms_code opener_open(pgkms_sealer *s, pgkms_dek_slot *slot, const pgkms_envelope *env,
                              const uint8_t *aad, size_t aad_len, const uint8_t *context,
                              size_t context_len, uint8_t *pt, pgkms_status *st)
{
    uint8_t check[PGKMS_GCM_BATCH_MAX];
    size_t len = env->ciphertext_len;
    pgkms_code rc, evp;

    rc = pgkms_gcm_opener_open(slot->opener, env->nonce, aad, aad_len, context, context_len,
                               env->ciphertext, len, env->tag, pt);
    if (s->opens++ % PGKMS_GCM_BATCH_N == 0) {
        evp = pgkms_gcm_open(slot->ctx, env->nonce, aad, aad_len, context, context_len,
                             env->ciphertext, len, env->tag, check, NULL);
        if (evp != rc || (rc == PGKMS_OK && CRYPTO_memcmp(check, pt, len) != 0)) {
            pgkms_wipe(check, sizeof(check));
            pgkms_wipe(pt, len);
            s->open_off = 1;
            return pgkms_fail(st, PGKMS_E_INTERNAL,
                              "AES-256-GCM opened here differed from OpenSSL's (a CPU or memory "
                              "fault?): the value was not returned, and this session now opens "
                              "through OpenSSL only");
        }
        pgkms_wipe(check, sizeof(check));
    }
    if (rc == PGKMS_OK)
        return PGKMS_OK;
    pgkms_wipe(pt, len); /* as pgkms_gcm_open leaves it on failure */
    if (rc == PGKMS_E_AUTH_FAILED)
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED, PGKMS_TAG_MISMATCH);
    return pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM decryption failed");
}

pgkms_code pgkms_sealer_open(pgkms_sealer *s, const pgkms_envelope *env, const uint8_t *tmk,
                             const uint8_t *context, size_t context_len, uint8_t *pt,
                             pgkms_status *st)
{
    pgkms_key_ref key;
    pgkms_dek_slot *slot = NULL;
    uint8_t aad[PGKMS_HEADER_LEN + 4];
    pgkms_code rc;

    if (context_len > PGKMS_MAX_CONTEXT_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "context of %zu bytes exceeds the %d-byte limit", context_len,
                          PGKMS_MAX_CONTEXT_LEN);
    if (env->alg == PGKMS_ALG_SIV_DATA) {
        pgkms_wipe(pt, env->ciphertext_len);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "a deterministic value reached the GCM opener");
    }
    memcpy(key.ref, env->key_ref, PGKMS_KEY_REF_LEN);
    key.version = env->key_version;
    for (int i = 0; i < PGKMS_OPEN_SLOTS; i++) {
        if (s->open[i].in_use && s->open[i].dek_id == env->dek_id &&
            same_key(&s->open[i].key, &key)) {
            slot = &s->open[i];
            break;
        }
    }
    if (slot == NULL) {
        /* Round-robin replacement: values of a column come from few writers at a time. */
        slot = &s->open[s->open_next];
        s->open_next = (s->open_next + 1) % PGKMS_OPEN_SLOTS;
        rc = slot_key(s->crypto, slot, &key, tmk, env->dek_id, 0, NULL,
                      s->crypto->seal_batch && !s->open_off, st);
        if (rc != PGKMS_OK)
            return rc;
    }
    make_aad(aad, env->header, context_len);
    if (slot->opener != NULL && !s->open_off && env->ciphertext_len <= PGKMS_GCM_BATCH_MAX)
        return opener_open(s, slot, env, aad, sizeof(aad), context, context_len, pt, st);
    return pgkms_gcm_open(slot->ctx, env->nonce, aad, sizeof(aad), context, context_len,
                          env->ciphertext, env->ciphertext_len, env->tag, pt, st);
}

pgkms_code pgkms_seal_fixed(const pgkms_crypto *crypto, const pgkms_key_ref *key,
                            const uint8_t *tmk, uint8_t alg, uint32_t dek_id, const uint8_t *nonce,
                            const uint8_t *context, size_t context_len, const uint8_t *pt,
                            size_t len, uint8_t *out, pgkms_status *st)
{
    pgkms_dek_slot slot;
    pgkms_code rc;

    memset(&slot, 0, sizeof(slot));
    rc = slot_key(crypto, &slot, key, tmk, dek_id, 1, NULL, 0, st);
    if (rc == PGKMS_OK)
        rc = seal_with(slot.ctx, NULL, 0, key, alg, dek_id, nonce, context, context_len, pt, len,
                       out, st);
    slot_forget(&slot);
    return rc;
}
