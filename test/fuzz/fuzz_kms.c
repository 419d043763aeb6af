/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the KMS keyrings read from outside: keyring URIs (configuration)
 * and the JSON answers of Vault and AWS KMS (the network). The first byte picks the decoder.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pgkms/http.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_uri(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), auth[PGKMS_KMS_URI_MAX + 16];
    pgkms_kms_uri u;
    pgkms_http_config cfg;

    memcpy(s, data, size);
    s[size] = '\0';
    if (pgkms_kms_uri_parse(s, &u, NULL) == PGKMS_OK) {
        if (u.scheme[0] == '\0' || u.host[0] == '\0' || u.port < 0 || u.port > 65535)
            abort();
        for (const char *p = u.scheme; *p; p++)
            if (isupper((unsigned char)*p))
                abort();
        for (size_t i = 0; i < u.nopts; i++)
            if (u.opts[i].value[0] == '\0' || pgkms_kms_uri_option(&u, u.opts[i].name) == NULL)
                abort();
        pgkms_kms_uri_authority(&u, 443, auth, sizeof(auth));
        pgkms_http_config_init(&cfg);
        (void)pgkms_kms_uri_http_config(&u, NULL, &cfg, NULL);
        pgkms_kms_uri_free(&u);
    }
    free(s);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    uint8_t out[PGKMS_WRAPPED_MAX], key[32];
    size_t len = 0;
    pgkms_status st;

    if (pgkms_vault_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_OK &&
        (len > PGKMS_WRAPPED_MAX || !pgkms_vault_ciphertext_ok(out, len)))
        abort();
    (void)pgkms_vault_parse_plaintext(j, "L", key, sizeof(key), &st);
    (void)pgkms_vault_parse_key(j, "L", &st);
    if (pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_OK &&
        (len == 0 || len > PGKMS_WRAPPED_MAX))
        abort();
    (void)pgkms_awskms_parse_plaintext(j, "L", key, sizeof(key), &st);
    (void)pgkms_awskms_parse_key(j, "L", &st);
    if (pgkms_awskms_error(400, j, "L", "Decrypt", &st) == PGKMS_OK)
        abort();
    for (const char *p = st.detail; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            abort(); /* server text is sanitized before it reaches a message */
    (void)pgkms_vault_ciphertext_ok(data, size);
    pgkms_json_wipe_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 2) {
    case 0:
        fuzz_uri(data + 1, size - 1);
        break;
    case 1:
        fuzz_answer(data + 1, size - 1);
        break;
    }
    return 0;
}
