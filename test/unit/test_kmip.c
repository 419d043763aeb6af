/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP TTLV and messages: the spec's examples and PyKMIP-encoded requests and responses
 * (kmip_vectors.txt), strict refusal of damaged messages, and KMIP keyring URIs that are
 * refused before any connection.
 */
#include <stdlib.h>
#include <string.h>

#include "pgkms/kmip.h"
#include "pgkms/root.h"
#include "harness.h"

typedef struct vector {
    char name[64];
    uint8_t *bytes;
    size_t len;
    char line[8192];
} vector;

static vector vectors[64];
static size_t nvectors;

static void load_vectors(void)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/kmip_vectors.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && nvectors < sizeof(vectors) / sizeof(vectors[0]) &&
           fgets(vectors[nvectors].line, sizeof(vectors[0].line), f) != NULL) {
        vector *v = &vectors[nvectors];

        if (v->line[0] == '#')
            continue;
        CHECK(t_field(v->line, "name", v->name, sizeof(v->name)) != NULL);
        v->bytes = t_hex_field(v->line, "hex", &v->len);
        CHECK_MSG(v->bytes != NULL, "vector %s has no hex", v->name);
        nvectors++;
    }
    if (f != NULL)
        fclose(f);
    CHECK(nvectors == 21);
}

static const vector *find(const char *name)
{
    for (size_t i = 0; i < nvectors; i++)
        if (strcmp(vectors[i].name, name) == 0)
            return &vectors[i];
    fprintf(stderr, "  no vector %s\n", name);
    t_failures++;
    return NULL;
}

/* The spec's examples: the reader accepts each, the writer gives the same bytes. */
static void check_spec(void)
{
    uint8_t buf[128];
    pgkms_ttlv_writer w;
    pgkms_ttlv item, child;
    pgkms_ttlv_iter it;
    size_t len;
    const vector *v;

    for (size_t i = 0; i < nvectors; i++) {
        if (strncmp(vectors[i].name, "spec-", 5) != 0)
            continue;
        CHECK_MSG(pgkms_ttlv_decode(vectors[i].bytes, vectors[i].len, &item, NULL) == PGKMS_OK &&
                      item.tag == 0x420020,
                  "%s", vectors[i].name);
    }
    if ((v = find("spec-int8")) != NULL) {
        CHECK(pgkms_ttlv_decode(v->bytes, v->len, &item, NULL) == PGKMS_OK &&
              item.type == PGKMS_TTLV_INTEGER && pgkms_ttlv_u32(&item) == 8);
        pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
        pgkms_ttlv_put_int(&w, 0x420020, 8);
        CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == v->len &&
              memcmp(buf, v->bytes, len) == 0);
    }
    if ((v = find("spec-enum255")) != NULL) {
        pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
        pgkms_ttlv_put_enum(&w, 0x420020, 255);
        CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == v->len &&
              memcmp(buf, v->bytes, len) == 0);
    }
    if ((v = find("spec-text")) != NULL) {
        CHECK(pgkms_ttlv_decode(v->bytes, v->len, &item, NULL) == PGKMS_OK &&
              item.type == PGKMS_TTLV_TEXT_STRING && item.len == 11 &&
              memcmp(item.value, "Hello World", 11) == 0);
        pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
        pgkms_ttlv_put_text(&w, 0x420020, "Hello World", 11);
        CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == v->len &&
              memcmp(buf, v->bytes, len) == 0);
    }
    if ((v = find("spec-bytes")) != NULL) {
        pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
        pgkms_ttlv_put_bytes(&w, 0x420020, (const uint8_t *)"\x01\x02\x03", 3);
        CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == v->len &&
              memcmp(buf, v->bytes, len) == 0);
    }
    if ((v = find("spec-struct")) != NULL) {
        pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
        pgkms_ttlv_begin(&w, 0x420020);
        pgkms_ttlv_put_enum(&w, 0x420004, 254);
        pgkms_ttlv_put_int(&w, 0x420005, 255);
        pgkms_ttlv_end(&w);
        CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == v->len &&
              memcmp(buf, v->bytes, len) == 0);
        CHECK(pgkms_ttlv_decode(v->bytes, v->len, &item, NULL) == PGKMS_OK);
        pgkms_ttlv_iter_init(&it, &item);
        CHECK(pgkms_ttlv_next(&it, &child) == 1 && child.tag == 0x420004 &&
              child.type == PGKMS_TTLV_ENUMERATION && pgkms_ttlv_u32(&child) == 254);
        CHECK(pgkms_ttlv_next(&it, &child) == 1 && child.tag == 0x420005 &&
              pgkms_ttlv_u32(&child) == 255);
        CHECK(pgkms_ttlv_next(&it, &child) == 0);
        CHECK(pgkms_ttlv_find(&item, 0x420005, PGKMS_TTLV_INTEGER, &child) == 1);
        CHECK(pgkms_ttlv_find(&item, 0x420005, PGKMS_TTLV_ENUMERATION, &child) == 0);
    }
}

/* Requests built here equal PyKMIP's encoding of the same request. */
static void check_requests(void)
{
    static const char *const attrs[] = {"State", "Cryptographic Algorithm", "Cryptographic Length"};
    uint8_t buf[1024], *iv, *data;
    size_t len = 0, iv_len, data_len;
    const vector *v;

    if ((v = find("req-locate")) != NULL) {
        CHECK(pgkms_kmip_locate_request(buf, sizeof(buf), "pgkms-root", &len, NULL) == PGKMS_OK);
        CHECK(len == v->len && memcmp(buf, v->bytes, len) == 0);
        /* Too small a buffer is an error, never a partial message. */
        CHECK(pgkms_kmip_locate_request(buf, v->len - 1, "pgkms-root", &len, NULL) ==
              PGKMS_E_LIMIT);
    }
    if ((v = find("req-get-attributes")) != NULL) {
        CHECK(pgkms_kmip_get_attributes_request(buf, sizeof(buf), "1", attrs, 3, &len, NULL) ==
              PGKMS_OK);
        CHECK(len == v->len && memcmp(buf, v->bytes, len) == 0);
    }
    if ((v = find("req-encrypt")) != NULL) {
        iv = t_hex_field(v->line, "iv", &iv_len);
        data = t_hex_field(v->line, "data", &data_len);
        CHECK(pgkms_kmip_encrypt_request(buf, sizeof(buf), "1", iv, iv_len, data, data_len, &len,
                                         NULL) == PGKMS_OK);
        CHECK(len == v->len && memcmp(buf, v->bytes, len) == 0);
        free(iv);
        free(data);
    }
}

static void expect_response(const char *name, uint32_t op, uint32_t status, uint32_t reason,
                            const char *message, pgkms_kmip_response *r)
{
    const vector *v = find(name);

    memset(r, 0, sizeof(*r));
    if (v == NULL)
        return;
    CHECK_MSG(pgkms_kmip_parse_response(v->bytes, v->len, op, r, NULL) == PGKMS_OK, "%s", name);
    CHECK_MSG(r->status == status && r->reason == reason, "%s: status %u reason %u", name,
              r->status, r->reason);
    CHECK_MSG(strcmp(r->message, message) == 0, "%s: message \"%s\"", name, r->message);
}

static void check_responses(void)
{
    pgkms_kmip_response r;
    char uid[PGKMS_KMIP_ID_MAX];
    const uint8_t *data;
    size_t count, len;
    uint32_t val;
    pgkms_status st;

    expect_response("resp-get-attributes", PGKMS_KMIP_OP_GET_ATTRIBUTES, 0, 0, "", &r);
    CHECK(pgkms_kmip_attribute_u32(&r, "State", &val, NULL) == PGKMS_OK && val == 2);
    CHECK(pgkms_kmip_attribute_u32(&r, "Cryptographic Algorithm", &val, NULL) == PGKMS_OK &&
          val == 3);
    CHECK(pgkms_kmip_attribute_u32(&r, "Cryptographic Length", &val, NULL) == PGKMS_OK &&
          val == 256);
    CHECK(pgkms_kmip_attribute_u32(&r, "Name", &val, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "\"Name\"") != NULL);
    /* Attributes in another order. */
    expect_response("resp-get-attributes-revoked", PGKMS_KMIP_OP_GET_ATTRIBUTES, 0, 0, "", &r);
    CHECK(pgkms_kmip_attribute_u32(&r, "State", &val, NULL) == PGKMS_OK && val == 3);
    CHECK(pgkms_kmip_attribute_u32(&r, "Cryptographic Length", &val, NULL) == PGKMS_OK &&
          val == 256);

    expect_response("resp-locate-one", PGKMS_KMIP_OP_LOCATE, 0, 0, "", &r);
    CHECK(pgkms_kmip_locate_result(&r, uid, &count, NULL) == PGKMS_OK && count == 1 &&
          strcmp(uid, "1") == 0);
    expect_response("resp-locate-two", PGKMS_KMIP_OP_LOCATE, 0, 0, "", &r);
    CHECK(pgkms_kmip_locate_result(&r, uid, &count, NULL) == PGKMS_OK && count == 2 &&
          strcmp(uid, "12") == 0);
    expect_response("resp-locate-none", PGKMS_KMIP_OP_LOCATE, 0, 0, "", &r);
    CHECK(pgkms_kmip_locate_result(&r, uid, &count, NULL) == PGKMS_OK && count == 0 &&
          uid[0] == '\0');

    expect_response("resp-encrypt", PGKMS_KMIP_OP_ENCRYPT, 0, 0, "", &r);
    CHECK(pgkms_kmip_encrypt_result(&r, &data, &len, NULL) == PGKMS_OK && len == 48 &&
          data[0] == 0 && data[47] == 47);

    expect_response("resp-denied", PGKMS_KMIP_OP_ENCRYPT, 1, 12,
                    "The encryption key must be in the Active state to be used for encryption.",
                    &r);
    CHECK(strcmp(pgkms_kmip_reason_name(r.reason), "Permission Denied") == 0);
    CHECK(pgkms_kmip_encrypt_result(&r, &data, &len, NULL) != PGKMS_OK);
    /* A failed item may omit the operation. */
    expect_response("resp-not-found", PGKMS_KMIP_OP_GET_ATTRIBUTES, 1, 1,
                    "Could not locate object: 7", &r);
    CHECK(strcmp(pgkms_kmip_reason_name(r.reason), "Item Not Found") == 0);
    CHECK(strcmp(pgkms_kmip_reason_name(0x100), "General Failure") == 0);
    CHECK(strcmp(pgkms_kmip_reason_name(0x9999), "unknown reason") == 0);
}

/* Damaged messages: every truncation, wrong padding, lengths, types, nesting, operation. */
static void check_refusals(void)
{
    const vector *v = find("resp-get-attributes");
    pgkms_kmip_response r;
    pgkms_ttlv item;
    uint8_t *b, deep[8 * 20];
    pgkms_status st;
    int refused = 0;

    if (v == NULL)
        return;
    b = malloc(v->len + 8);
    for (size_t n = 0; n < v->len; n++)
        refused += pgkms_kmip_parse_response(v->bytes, n, PGKMS_KMIP_OP_GET_ATTRIBUTES, &r, NULL) ==
                   PGKMS_E_BAD_FORMAT;
    CHECK_MSG(refused == (int)v->len, "%d of %zu truncations refused", refused, v->len);
    /* Trailing bytes. */
    memcpy(b, v->bytes, v->len);
    memset(b + v->len, 0, 8);
    CHECK(pgkms_ttlv_decode(b, v->len + 8, &item, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "follow") != NULL);
    /* Any bit flipped in the message's own header: another tag or type, or a wrong length. */
    for (size_t i = 0; i < 8; i++) {
        memcpy(b, v->bytes, v->len);
        b[i] ^= 0x01;
        CHECK(pgkms_kmip_parse_response(b, v->len, PGKMS_KMIP_OP_GET_ATTRIBUTES, &r, NULL) ==
              PGKMS_E_BAD_FORMAT);
    }
    /* The wrong operation. */
    CHECK(pgkms_kmip_parse_response(v->bytes, v->len, PGKMS_KMIP_OP_ENCRYPT, &r, &st) ==
              PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "another operation") != NULL);
    free(b);

    /* Non-zero padding, a boolean of 2, an integer of 8 bytes, an unknown type, a bad tag. */
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x02\x00\x00\x00\x04"
                                             "\x00\x00\x00\x08\x00\x00\x01\x00",
                            16, &item, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "padding") != NULL);
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x06\x00\x00\x00\x08"
                                             "\x00\x00\x00\x00\x00\x00\x00\x02",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x02\x00\x00\x00\x08"
                                             "\x00\x00\x00\x00\x00\x00\x00\x02",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x0b\x00\x00\x00\x04"
                                             "\x00\x00\x00\x00\x00\x00\x00\x00",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x43\x00\x20\x02\x00\x00\x00\x04"
                                             "\x00\x00\x00\x00\x00\x00\x00\x00",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    /* A length that points past the end, and one that is not padded in a structure. */
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x07\x00\x00\x00\x09"
                                             "abcdefgh",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    CHECK(pgkms_ttlv_decode((const uint8_t *)"\x42\x00\x20\x01\x00\x00\x00\x04"
                                             "\x00\x00\x00\x00\x00\x00\x00\x00",
                            16, &item, NULL) == PGKMS_E_BAD_FORMAT);
    /* 20 nested empty-ended structures: deeper than the limit. */
    for (int i = 0; i < 20; i++) {
        uint8_t *p = deep + 8 * i;

        memcpy(p, "\x42\x00\x20\x01", 4);
        p[4] = p[5] = 0;
        p[6] = 0;
        p[7] = (uint8_t)(8 * (19 - i));
    }
    CHECK(pgkms_ttlv_decode(deep, sizeof(deep), &item, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "deeper") != NULL);
    CHECK(pgkms_ttlv_decode(deep + 8 * 6, sizeof(deep) - 8 * 6, &item, NULL) == PGKMS_OK);
}

static void check_writer_errors(void)
{
    uint8_t buf[64];
    pgkms_ttlv_writer w;
    size_t len;

    pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
    pgkms_ttlv_begin(&w, 0x420020);
    CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_E_INTERNAL);
    pgkms_ttlv_end(&w);
    pgkms_ttlv_end(&w);
    CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) != PGKMS_OK);
    pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
    for (int i = 0; i < PGKMS_TTLV_DEPTH_MAX + 1; i++)
        pgkms_ttlv_begin(&w, 0x420020);
    CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) != PGKMS_OK);
    pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
    pgkms_ttlv_put_bytes(&w, 0x420020, buf, 57);
    CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_E_LIMIT);
    pgkms_ttlv_writer_init(&w, buf, sizeof(buf));
    pgkms_ttlv_put_bytes(&w, 0x420020, buf, 56);
    CHECK(pgkms_ttlv_writer_finish(&w, &len, NULL) == PGKMS_OK && len == 64);
}

/* URIs refused before any file is read or connection made. */
static void check_uris(void)
{
    static const struct {
        const char *uri, *says;
    } bad[] = {
        {"kmip://", "no host"},
        {"kmip://127.0.0.1:0/k?cert=/c&key=/k", "port"},
        {"kmip://127.0.0.1:99999/k?cert=/c&key=/k", "port"},
        {"kmip://127.0.0.1:5696x/k?cert=/c&key=/k", "port"},
        {"kmip://127.0.0.1:5696?cert=/c&key=/k", "no key identifier"},
        {"kmip://127.0.0.1/?cert=/c&key=/k", "empty"},
        {"kmip://127.0.0.1/a%2?cert=/c&key=/k", "escaped"},
        {"kmip://127.0.0.1/a%00b?cert=/c&key=/k", "escaped"},
        {"kmip://[::1/k?cert=/c&key=/k", "unterminated"},
        {"kmip://127.0.0.1/k?cert=/c", "no client certificate"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&password=x", "unknown parameter \"password\""},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&key=/j", "twice"},
        {"kmip://127.0.0.1/k?cert=c.pem&key=/k", "absolute"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&timeout=0", "timeout"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&timeout=301", "timeout"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&timeout=1s", "timeout"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&timeout=1&timeout=2", "twice"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&holddown=-1", "holddown"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&holddown=3601", "holddown"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&holddown=2s", "holddown"},
        {"kmip://127.0.0.1/k?cert=/c&key=/k&holddown=1&holddown=0", "twice"},
        {"kmip://127.0.0.1/k?cert=/c&key", "no value"},
    };
    pgkms_root *root;
    pgkms_status st;

    unsetenv("PGKMS_KMIP_CERT");
    unsetenv("PGKMS_KMIP_KEY");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pgkms_code rc = pgkms_root_open(NULL, bad[i].uri, 0, &root, &st);

        CHECK_MSG(rc == PGKMS_E_INVALID_ARGUMENT && strstr(st.detail, bad[i].says) != NULL,
                  "%s: %d %s", bad[i].uri, rc, st.detail);
    }
    /* Files that do not exist: a root-unavailable error naming the keyring and the file. */
    CHECK(pgkms_root_open(NULL, "kmip://127.0.0.1:1/k?cert=/nonexistent/c.pem&key=/k", 0, &root,
                          &st) == PGKMS_E_ROOT_UNAVAILABLE);
    CHECK_MSG(strstr(st.detail, "KMIP keyring kmip://127.0.0.1:1/k:") == st.detail &&
                  strstr(st.detail, "/nonexistent/c.pem") != NULL,
              "%s", st.detail);
    /* The environment supplies what the URI leaves out. */
    setenv("PGKMS_KMIP_CERT", "/nonexistent/env-c.pem", 1);
    setenv("PGKMS_KMIP_KEY", "/nonexistent/env-k.pem", 1);
    CHECK(pgkms_root_open(NULL, "kmip://127.0.0.1:1/k", 0, &root, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "/nonexistent/env-c.pem") != NULL);
    unsetenv("PGKMS_KMIP_CERT");
    unsetenv("PGKMS_KMIP_KEY");
}

void test_kmip(void)
{
    load_vectors();
    check_spec();
    check_requests();
    check_responses();
    check_refusals();
    check_writer_errors();
    check_uris();
    for (size_t i = 0; i < nvectors; i++)
        free(vectors[i].bytes);
    nvectors = 0;
}
