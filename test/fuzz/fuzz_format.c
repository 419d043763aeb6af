/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for every decoder of untrusted bytes in common/: the value format (and
 * opening it), base64 text form, UUIDs, keyring JSON and PKCS#11 URIs. The first byte picks the
 * decoder.
 */
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "pgkms/envelope.h"
#include "pgkms/keyring_file.h"
#include "pgkms/pkcs11_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pgkms_crypto crypto;
static int crypto_ready;

static void fuzz_value(const uint8_t *data, size_t size)
{
    static const uint8_t tmk[PGKMS_TMK_LEN] = {0x40};
    pgkms_envelope env;
    pgkms_sealer s;
    uint8_t *pt;

    if (pgkms_format_parse(data, size, &env, NULL) != PGKMS_OK)
        return;
    if (env.ciphertext_len + PGKMS_OVERHEAD != size || env.tag + PGKMS_TAG_LEN != data + size)
        abort(); /* the parser must describe exactly the input */
    if (!crypto_ready) {
        if (pgkms_crypto_init(&crypto, NULL, NULL, NULL) != PGKMS_OK)
            abort();
        crypto_ready = 1;
    }
    pt = malloc(env.ciphertext_len + 1);
    pgkms_sealer_init(&s, &crypto);
    /* Random bytes never authenticate; if they do, something is badly wrong. */
    if (pgkms_sealer_open(&s, &env, tmk, NULL, 0, pt, NULL) == PGKMS_OK)
        abort();
    pgkms_sealer_cleanup(&s);
    free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    uint8_t out[4096], uuid[PGKMS_UUID_LEN];
    size_t len;
    pgkms_keyring kr;
    pgkms_pkcs11_uri uri;

    if (size == 0)
        return 0;
    text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        fuzz_value(data + 1, size - 1);
        break;
    case 1:
        if (pgkms_base64_decode(text, size - 1, out, sizeof(out), &len, NULL) == PGKMS_OK) {
            char again[sizeof(out) * 2];

            /* Strict decoding means canonical: re-encoding gives the input back. */
            pgkms_base64_encode(out, len, again);
            if (strcmp(again, text) != 0)
                abort();
        }
        break;
    case 2:
        (void)pgkms_uuid_parse(text, uuid, NULL);
        break;
    case 3:
        if (pgkms_keyring_parse(text, size - 1, &kr, NULL) == PGKMS_OK)
            pgkms_keyring_free(&kr);
        break;
    case 4:
        (void)pgkms_pkcs11_uri_parse(text, &uri, NULL);
        pgkms_pkcs11_uri_free(&uri);
        break;
    }
    free(text);
    return 0;
}
