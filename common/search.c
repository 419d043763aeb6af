/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic values, blind indexes and pseudonyms under a tenant key version. Each has its
 * own HKDF label, so none shares a key with randomized values or with another. Keys stay
 * keyed between calls: per value only the MAC is restarted (and, for AES-SIV, the counter set).
 */
#include <string.h>
#include <openssl/core_names.h>

#include "pgkms/format.h"
#include "pgkms/kdf.h"
#include "pgkms/search.h"
#include "pgkms/secmem.h"

static const char DET_INFO[] = "pgkms det v1";
static const char BLIND_INDEX_INFO[] = "pgkms blind index v1";
static const char PSEUDONYM_INFO[] = "pgkms pseudonym v1";

#define KEY_INFO_LEN (PGKMS_KEY_REF_LEN + 4)
#define MAC_LEN      32

/* label || key_ref(8) || be32(version): info common to every derivation here. */
static size_t key_info(uint8_t *out, const char *label, const pgkms_key_ref *key)
{
    size_t n = strlen(label);

    memcpy(out, label, n);
    memcpy(out + n, key->ref, PGKMS_KEY_REF_LEN);
    pgkms_store_be32(out + n + PGKMS_KEY_REF_LEN, key->version);
    return n + KEY_INFO_LEN;
}

static int same_key(const pgkms_key_ref *a, const pgkms_key_ref *b)
{
    return a->version == b->version && memcmp(a->ref, b->ref, PGKMS_KEY_REF_LEN) == 0;
}

pgkms_code pgkms_search_det_key(OSSL_LIB_CTX *libctx, const pgkms_key_ref *key, const uint8_t *tmk,
                                uint8_t out[PGKMS_SIV_KEY_LEN], pgkms_status *st)
{
    uint8_t info[sizeof(DET_INFO) - 1 + KEY_INFO_LEN];
    size_t n = key_info(info, DET_INFO, key);

    return pgkms_hkdf_sha256(libctx, tmk, PGKMS_TMK_LEN, info, n, out, PGKMS_SIV_KEY_LEN, st);
}

void pgkms_searcher_init(pgkms_searcher *s, const pgkms_crypto *crypto)
{
    memset(s, 0, sizeof(*s));
    s->crypto = crypto;
}

static void mac_forget(pgkms_mac_slot *m)
{
    EVP_MAC_CTX_free(m->hmac); /* OpenSSL cleanses the key */
    memset(m, 0, sizeof(*m));
}

void pgkms_searcher_cleanup(pgkms_searcher *s)
{
    for (int i = 0; i < PGKMS_SIV_SLOTS; i++) {
        pgkms_siv_cleanup(&s->siv[i].siv);
        memset(&s->siv[i], 0, sizeof(s->siv[i]));
    }
    mac_forget(&s->mac);
}

/* The keyed AES-SIV of (key, tmk): a cached one, or a slot derived and keyed anew. */
static pgkms_code siv_for(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                          pgkms_siv **siv, pgkms_status *st)
{
    uint8_t k[PGKMS_SIV_KEY_LEN];
    pgkms_siv_slot *slot;
    pgkms_code rc;

    for (int i = 0; i < PGKMS_SIV_SLOTS; i++) {
        if (s->siv[i].in_use && same_key(&s->siv[i].key, key)) {
            *siv = &s->siv[i].siv;
            return PGKMS_OK;
        }
    }
    slot = &s->siv[s->siv_next];
    s->siv_next = (s->siv_next + 1) % PGKMS_SIV_SLOTS;
    slot->in_use = 0;
    rc = pgkms_search_det_key(s->crypto->libctx, key, tmk, k, st);
    if (rc == PGKMS_OK)
        rc = pgkms_siv_set_key(&slot->siv, s->crypto->cmac, s->crypto->ctr, k, st);
    pgkms_wipe(k, sizeof(k));
    if (rc != PGKMS_OK)
        return rc;
    slot->key = *key;
    slot->in_use = 1;
    *siv = &slot->siv;
    return PGKMS_OK;
}

/* The AAD of GCM values, the same bytes: header || be32(context length), then the context. */
static void make_aad(uint8_t aad[PGKMS_HEADER_LEN + 4], const uint8_t *header, size_t context_len)
{
    memcpy(aad, header, PGKMS_HEADER_LEN);
    pgkms_store_be32(aad + PGKMS_HEADER_LEN, (uint32_t)context_len);
}

pgkms_code pgkms_search_det_seal(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                 const uint8_t *context, size_t context_len, const uint8_t *pt,
                                 size_t len, uint8_t *out, pgkms_status *st)
{
    uint8_t aad[PGKMS_HEADER_LEN + 4];
    pgkms_envelope env;
    pgkms_siv *siv;
    pgkms_code rc;

    if (len > PGKMS_DET_MAX_PLAINTEXT)
        return pgkms_fail(st, PGKMS_E_LIMIT, "plaintext of %zu bytes exceeds the %zu-byte limit",
                          len, PGKMS_DET_MAX_PLAINTEXT);
    if (context_len > PGKMS_MAX_CONTEXT_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "context of %zu bytes exceeds the %d-byte limit", context_len,
                          PGKMS_MAX_CONTEXT_LEN);
    rc = siv_for(s, key, tmk, &siv, st);
    if (rc != PGKMS_OK)
        return rc;
    env.version = PGKMS_FORMAT_V1;
    env.alg = PGKMS_ALG_SIV_DATA;
    memcpy(env.key_ref, key->ref, PGKMS_KEY_REF_LEN);
    env.key_version = key->version;
    env.dek_id = 0;
    pgkms_format_write_header(out, &env);
    make_aad(aad, out, context_len);
    return pgkms_siv_seal(siv, aad, sizeof(aad), context, context_len, pt, len,
                          out + PGKMS_HEADER_LEN, out + PGKMS_DET_OVERHEAD, st);
}

pgkms_code pgkms_search_det_open(pgkms_searcher *s, const pgkms_envelope *env, const uint8_t *tmk,
                                 const uint8_t *context, size_t context_len, uint8_t *pt,
                                 pgkms_status *st)
{
    uint8_t aad[PGKMS_HEADER_LEN + 4];
    pgkms_key_ref key;
    pgkms_siv *siv;
    pgkms_code rc;

    pgkms_wipe(pt, env->ciphertext_len);
    if (env->alg != PGKMS_ALG_SIV_DATA)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "a randomized value reached the AES-SIV opener");
    if (context_len > PGKMS_MAX_CONTEXT_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "context of %zu bytes exceeds the %d-byte limit", context_len,
                          PGKMS_MAX_CONTEXT_LEN);
    memcpy(key.ref, env->key_ref, PGKMS_KEY_REF_LEN);
    key.version = env->key_version;
    rc = siv_for(s, &key, tmk, &siv, st);
    if (rc != PGKMS_OK)
        return rc;
    make_aad(aad, env->header, context_len);
    return pgkms_siv_open(siv, aad, sizeof(aad), context, context_len, env->tag, env->ciphertext,
                          env->ciphertext_len, pt, st);
}

pgkms_code pgkms_search_purpose_validate(const uint8_t *purpose, size_t len, pgkms_status *st)
{
    if (purpose == NULL || len == 0 || len > PGKMS_PURPOSE_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "purpose must be 1 to %d bytes, not %zu",
                          PGKMS_PURPOSE_MAX, purpose == NULL ? 0 : len);
    return PGKMS_OK;
}

pgkms_code pgkms_search_bits_validate(int bits, pgkms_status *st)
{
    if (bits < PGKMS_BLIND_INDEX_MIN_BITS || bits > PGKMS_BLIND_INDEX_MAX_BITS || bits % 8 != 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "bits must be a multiple of 8 from %d to %d, not %d",
                          PGKMS_BLIND_INDEX_MIN_BITS, PGKMS_BLIND_INDEX_MAX_BITS, bits);
    return PGKMS_OK;
}

/* The keyed HMAC of (kind, key, purpose): the cached one, or derived and keyed anew. */
static pgkms_code mac_for(pgkms_searcher *s, pgkms_mac_kind kind, const pgkms_key_ref *key,
                          const uint8_t *tmk, const uint8_t *purpose, size_t purpose_len,
                          pgkms_status *st)
{
    pgkms_mac_slot *m = &s->mac;
    uint8_t info[sizeof(BLIND_INDEX_INFO) - 1 + KEY_INFO_LEN + PGKMS_PURPOSE_MAX];
    uint8_t k[MAC_LEN];
    OSSL_PARAM params[2];
    size_t n;
    pgkms_code rc;

    if (m->in_use && m->kind == kind && same_key(&m->key, key) && m->purpose_len == purpose_len &&
        memcmp(m->purpose, purpose, purpose_len) == 0)
        return PGKMS_OK;
    mac_forget(m);
    n = key_info(info, kind == PGKMS_MAC_BLIND_INDEX ? BLIND_INDEX_INFO : PSEUDONYM_INFO, key);
    memcpy(info + n, purpose, purpose_len);
    rc = pgkms_hkdf_sha256(s->crypto->libctx, tmk, PGKMS_TMK_LEN, info, n + purpose_len, k,
                           sizeof(k), st);
    if (rc == PGKMS_OK) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();
        m->hmac = EVP_MAC_CTX_new(s->crypto->hmac);
        if (m->hmac == NULL)
            rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for an HMAC context");
        else if (!EVP_MAC_init(m->hmac, k, sizeof(k), params))
            rc = pgkms_fail(st, PGKMS_E_INTERNAL, "could not key HMAC-SHA256");
    }
    pgkms_wipe(k, sizeof(k));
    if (rc != PGKMS_OK) {
        mac_forget(m);
        return rc;
    }
    m->key = *key;
    m->kind = kind;
    memcpy(m->purpose, purpose, purpose_len);
    m->purpose_len = purpose_len;
    m->in_use = 1;
    return PGKMS_OK;
}

static pgkms_code mac_compute(pgkms_searcher *s, const uint8_t *value, size_t len,
                              uint8_t out[MAC_LEN], pgkms_status *st)
{
    size_t outl = 0;

    /* A keyed HMAC context initialised without a key starts a new message under the same key. */
    if (!EVP_MAC_init(s->mac.hmac, NULL, 0, NULL) ||
        !(len == 0 || EVP_MAC_update(s->mac.hmac, value, len)) ||
        !EVP_MAC_final(s->mac.hmac, out, &outl, MAC_LEN) || outl != MAC_LEN)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "HMAC-SHA256 failed");
    return PGKMS_OK;
}

pgkms_code pgkms_search_blind_index(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                    const uint8_t *purpose, size_t purpose_len, int bits,
                                    const uint8_t *value, size_t len, uint8_t *out,
                                    pgkms_status *st)
{
    uint8_t mac[MAC_LEN];
    pgkms_code rc;

    if ((rc = pgkms_search_purpose_validate(purpose, purpose_len, st)) != PGKMS_OK ||
        (rc = pgkms_search_bits_validate(bits, st)) != PGKMS_OK ||
        (rc = mac_for(s, PGKMS_MAC_BLIND_INDEX, key, tmk, purpose, purpose_len, st)) != PGKMS_OK ||
        (rc = mac_compute(s, value, len, mac, st)) != PGKMS_OK)
        return rc;
    memcpy(out, mac, (size_t)bits / 8);
    pgkms_wipe(mac, sizeof(mac));
    return PGKMS_OK;
}

pgkms_code pgkms_search_pseudonym(pgkms_searcher *s, const pgkms_key_ref *key, const uint8_t *tmk,
                                  const uint8_t *purpose, size_t purpose_len, const uint8_t *value,
                                  size_t len, char out[PGKMS_PSEUDONYM_LEN + 1], pgkms_status *st)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    const size_t prefix = sizeof(PGKMS_PSEUDONYM_PREFIX) - 1;
    uint8_t mac[MAC_LEN];
    uint32_t acc = 0;
    int nbits = 0;
    size_t o = prefix;
    pgkms_code rc;

    if ((rc = pgkms_search_purpose_validate(purpose, purpose_len, st)) != PGKMS_OK ||
        (rc = mac_for(s, PGKMS_MAC_PSEUDONYM, key, tmk, purpose, purpose_len, st)) != PGKMS_OK ||
        (rc = mac_compute(s, value, len, mac, st)) != PGKMS_OK)
        return rc;
    memcpy(out, PGKMS_PSEUDONYM_PREFIX, prefix);
    /* Base32 of the first 16 bytes, unpadded: 25 full groups of 5 bits, then 3 bits and 2 zeros. */
    for (size_t i = 0; i < 16; i++) {
        acc = (acc << 8) | mac[i];
        nbits += 8;
        while (nbits >= 5) {
            out[o++] = b32[(acc >> (nbits - 5)) & 31];
            nbits -= 5;
        }
    }
    if (nbits > 0)
        out[o++] = b32[(acc << (5 - nbits)) & 31];
    out[o] = '\0';
    pgkms_wipe(mac, sizeof(mac));
    return o == PGKMS_PSEUDONYM_LEN ? PGKMS_OK
                                    : pgkms_fail(st, PGKMS_E_INTERNAL, "pseudonym length");
}

static int ascii_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

size_t pgkms_search_normalize(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t n = 0;
    int space = 0;

    /* Bytes below 0x80 never occur inside a UTF-8 sequence, so this is safe on UTF-8. */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];

        if (ascii_space(c)) {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = 0;
        out[n++] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
    }
    return n;
}
