/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the KMS keyrings read from outside: keyring URIs (configuration)
 * and the JSON answers of Vault and AWS KMS (the network); Barbican root URIs and answers to
 * its payload request. The first byte picks the decoder.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "pgkms/http.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_barbican.h"
#include "pgkms/secmem.h"
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

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

static void fuzz_barbican_uri(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    pgkms_barbican_target t;

    memcpy(s, data, size);
    s[size] = '\0';
    if (pgkms_barbican_parse(s, &t, NULL) == PGKMS_OK) {
        /* What goes into a URL or a header must be one clean line. */
        if (strlen(t.secret_id) != PGKMS_UUID_STR_LEN || t.project[0] == '\0' ||
            strncmp(t.payload_url, "http", 4) != 0 || !printable(t.payload_url) ||
            !printable(t.project) || strchr(t.project, ' ') != NULL ||
            (t.token_file != NULL && t.token_file[0] != '/') ||
            (t.token_file != NULL && t.token_env != NULL))
            abort();
        pgkms_barbican_target_free(&t);
    }
    free(s);
}

/* An answer to GET .../payload: the first byte picks the status, the rest is the body. */
static void fuzz_barbican_answer(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 401, 403, 404, 406, 500};
    static const char uri[] =
        "barbican+https://kms.example:9311/00000000-0000-4000-8000-000000000000?project=p";
    static pgkms_barbican_target t;
    static int parsed;
    uint8_t secret[PGKMS_ROOT_SECRET_LEN];
    pgkms_status st;
    json_t *j;
    long status;

    if (size == 0)
        return;
    if (!parsed && pgkms_barbican_parse(uri, &t, NULL) != PGKMS_OK)
        abort();
    parsed = 1;
    status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (pgkms_barbican_payload(&t, status, (const char *)data + 1, size - 1, j, secret, &st) ==
        PGKMS_OK) {
        if (status != 200 || size - 1 != PGKMS_ROOT_SECRET_LEN)
            abort();
        pgkms_wipe(secret, sizeof(secret));
    } else if (st.code != PGKMS_E_ROOT_UNAVAILABLE || !printable(st.detail)) {
        abort(); /* server text is sanitized before it reaches a message */
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        fuzz_uri(data + 1, size - 1);
        break;
    case 1:
        fuzz_answer(data + 1, size - 1);
        break;
    case 2:
        fuzz_barbican_uri(data + 1, size - 1);
        break;
    case 3:
        fuzz_barbican_answer(data + 1, size - 1);
        break;
    }
    return 0;
}
