/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal unit-test harness: CHECK records a failure with its location and goes on. */
#ifndef PGKMS_TEST_HARNESS_H
#define PGKMS_TEST_HARNESS_H

#include <stdio.h>
#include <stdint.h>
#include <stddef.h>

extern int t_failures;
extern const char *t_vectors_dir;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            t_failures++;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            t_failures++;                                                                          \
        }                                                                                          \
    } while (0)

/* Parses "a=hex b=hex ..." vector lines: returns the hex value of field (NULL if absent);
 * "-" means empty. */
const char *t_field(const char *line, const char *name, char *buf, size_t cap);
/* Decodes hex (or "-") into a malloc'ed buffer. */
uint8_t *t_unhex(const char *hex, size_t *len);
/* Field `name` of a vector line, hex-decoded into a malloc'ed buffer (NULL if absent or bad). */
uint8_t *t_hex_field(const char *line, const char *name, size_t *len);

void test_aead_kat(void);
void test_format(void);
void test_gcm_batch(void);
void test_codec(void);
void test_keys(void);
void test_key_import(void);
void test_mask(void);
void test_pkcs11_uri(void);
void test_shamir(void);
void test_search(void);
void test_http(void);
void test_sigv4(void);
void test_kms_roots(void);
void test_kmip(void);
void test_barbican(void);
void test_provider_cache(void);

#endif
