/* SPDX-License-Identifier: Apache-2.0 */
/* Runs every unit test group and prints a closing "N passed, M failed" line. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "harness.h"

int t_failures;
const char *t_vectors_dir = "test/vectors";

const char *t_field(const char *line, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);

    for (const char *p = line; (p = strstr(p, name)) != NULL; p += n) {
        if ((p == line || p[-1] == ' ') && p[n] == '=') {
            size_t len = strcspn(p + n + 1, " \n");

            if (len >= cap)
                return NULL;
            memcpy(buf, p + n + 1, len);
            buf[len] = '\0';
            if (strcmp(buf, "-") == 0)
                buf[0] = '\0';
            return buf;
        }
    }
    return NULL;
}

uint8_t *t_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);

    if (out == NULL || pgkms_hex_decode(hex, strlen(hex), out, n, NULL) != PGKMS_OK) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

uint8_t *t_hex_field(const char *line, const char *name, size_t *len)
{
    char buf[1 << 15];
    const char *hex = t_field(line, name, buf, sizeof(buf));

    return hex != NULL ? t_unhex(hex, len) : NULL;
}

static const struct {
    const char *name;
    void (*fn)(void);
} groups[] = {
    {"aead_kat", test_aead_kat},
    {"format", test_format},
    {"codec", test_codec},
    {"keys", test_keys},
    {"key_import", test_key_import},
    {"mask", test_mask},
    {"pkcs11_uri", test_pkcs11_uri},
    {"shamir", test_shamir},
    {"search", test_search},
    {"http", test_http},
    {"sigv4", test_sigv4},
    {"kms_roots", test_kms_roots},
    {"kmip", test_kmip},
    {"gcm_batch", test_gcm_batch},
    {"barbican", test_barbican},
    {"provider_cache", test_provider_cache},
};

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;

    if (argc > 1)
        t_vectors_dir = argv[1];
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        int before = t_failures;

        groups[i].fn();
        if (t_failures == before) {
            printf("ok - unit %s\n", groups[i].name);
            passed++;
        } else {
            printf("not ok - unit %s (%d checks failed)\n", groups[i].name, t_failures - before);
            failed++;
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
