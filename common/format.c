/* SPDX-License-Identifier: Apache-2.0 */
/* Parser and writer of the value format; every byte of it is specified in docs/format.md. */
#include <string.h>

#include "pgkms/format.h"

size_t pgkms_format_overhead(uint8_t alg)
{
    return alg == PGKMS_ALG_SIV_DATA ? PGKMS_DET_OVERHEAD : PGKMS_OVERHEAD;
}

pgkms_code pgkms_format_parse(const uint8_t *buf, size_t len, pgkms_envelope *env, pgkms_status *st)
{
    size_t overhead;

    if (buf == NULL || len == 0)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "value is empty");
    if (len < 2 || buf[0] != PGKMS_MAGIC0 || buf[1] != PGKMS_MAGIC1)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "value does not start with the pgkms magic");
    if (len < 3 || buf[2] != PGKMS_FORMAT_V1)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "unsupported pgkms format version %d",
                          len < 3 ? -1 : buf[2]);
    if (len < 4 || (buf[3] != PGKMS_ALG_GCM_DATA && buf[3] != PGKMS_ALG_GCM_KEYWRAP &&
                    buf[3] != PGKMS_ALG_SIV_DATA))
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "unsupported pgkms algorithm %d",
                          len < 4 ? -1 : buf[3]);
    overhead = pgkms_format_overhead(buf[3]);
    if (len < overhead)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "value is truncated: %zu bytes, at least %zu expected", len, overhead);
    if (len > PGKMS_MAX_VALUE_LEN)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "value is longer than %zu bytes",
                          PGKMS_MAX_VALUE_LEN);

    env->version = buf[2];
    env->alg = buf[3];
    memcpy(env->key_ref, buf + 4, PGKMS_KEY_REF_LEN);
    env->key_version = pgkms_load_be32(buf + 12);
    env->dek_id = pgkms_load_be32(buf + 16);
    if (env->key_version == 0)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "key version 0 is not valid");
    env->header = buf;
    if (env->alg == PGKMS_ALG_SIV_DATA) {
        /* One data key per tenant key version: the field is reserved and must be zero. */
        if (env->dek_id != 0)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                              "data key id of a deterministic value must be 0, not %u",
                              (unsigned)env->dek_id);
        env->nonce = NULL;
        env->tag = buf + PGKMS_HEADER_LEN;
        env->ciphertext = buf + PGKMS_DET_OVERHEAD;
        env->ciphertext_len = len - PGKMS_DET_OVERHEAD;
        return PGKMS_OK;
    }
    env->nonce = buf + PGKMS_HEADER_LEN;
    env->ciphertext = buf + PGKMS_PREFIX_LEN;
    env->ciphertext_len = len - PGKMS_OVERHEAD;
    env->tag = buf + len - PGKMS_TAG_LEN;
    return PGKMS_OK;
}

void pgkms_format_write_header(uint8_t *out, const pgkms_envelope *env)
{
    out[0] = PGKMS_MAGIC0;
    out[1] = PGKMS_MAGIC1;
    out[2] = env->version;
    out[3] = env->alg;
    memcpy(out + 4, env->key_ref, PGKMS_KEY_REF_LEN);
    pgkms_store_be32(out + 12, env->key_version);
    pgkms_store_be32(out + 16, env->dek_id);
}

int pgkms_format_looks_like_value(const uint8_t *buf, size_t len)
{
    pgkms_envelope env;

    return pgkms_format_parse(buf, len, &env, NULL) == PGKMS_OK;
}
