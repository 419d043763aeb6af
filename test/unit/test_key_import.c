/* SPDX-License-Identifier: Apache-2.0 */
/* BYOK import: sealed import parameters, RSA-OAEP unwrapping, key-check values, a CLI vector. */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "pgkms/key_import.h"
#include "pgkms/secmem.h"
#include "pgkms/tenant_key.h"
#include "harness.h"

static char tmpdir[] = "/tmp/pgkms-import.XXXXXX";

/* 6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4d and the same id with its last byte changed. */
static const uint8_t KEY_A[PGKMS_UUID_LEN] = {0x6b, 0x3a, 0x1f, 0x0e, 0x2c, 0x4d, 0x4a, 0x5b,
                                              0x8c, 0x7d, 0x9e, 0x0f, 0x1a, 0x2b, 0x3c, 0x4d};
static const uint8_t KEY_B[PGKMS_UUID_LEN] = {0x6b, 0x3a, 0x1f, 0x0e, 0x2c, 0x4d, 0x4a, 0x5b,
                                              0x8c, 0x7d, 0x9e, 0x0f, 0x1a, 0x2b, 0x3c, 0x4e};

static int all_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

static uint8_t *read_vector(const char *name, size_t *len)
{
    char path[512];
    uint8_t *buf = malloc(4096);
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", t_vectors_dir, name);
    f = fopen(path, "rb");
    CHECK_MSG(f != NULL && buf != NULL, "cannot open %s", path);
    if (f == NULL || buf == NULL) {
        free(buf);
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, 4096, f);
    fclose(f);
    return buf;
}

static EVP_PKEY *public_key_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return pkey;
}

/* What a tenant does with the public key: RSAES-OAEP with md for both OAEP and MGF1. */
static size_t oaep_encrypt(EVP_PKEY *pub, const char *md, const uint8_t *pt, size_t len,
                           uint8_t out[512])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    OSSL_PARAM params[4];
    size_t outlen = 512;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                 (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *)md, 0);
    params[2] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *)md, 0);
    params[3] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_encrypt_init_ex(ctx, params) <= 0 ||
        EVP_PKEY_encrypt(ctx, out, &outlen, pt, len) <= 0)
        outlen = 0;
    EVP_PKEY_CTX_free(ctx);
    CHECK(outlen == PGKMS_IMPORT_RSA_BITS / 8);
    return outlen;
}

static pgkms_code unwrap(pgkms_root *root, const uint8_t *key_id, const uint8_t *token,
                         const pgkms_import_params *p, const uint8_t *enc, size_t enc_len,
                         uint8_t material[32], pgkms_status *st)
{
    return pgkms_import_unwrap_material(root, key_id, NULL, token, PGKMS_IMPORT_TOKEN_LEN,
                                        p->sealed, p->sealed_len, enc, enc_len, material, st);
}

/* Imported material becomes a tenant key version exactly like generated material. */
static void check_as_tenant_key(pgkms_root *root, const uint8_t material[32])
{
    pgkms_key_record rec;
    pgkms_key_version v;
    pgkms_status st;
    uint8_t *tmk = pgkms_secure_alloc(PGKMS_TMK_LEN);

    memset(&rec, 0, sizeof(rec));
    CHECK(pgkms_tenant_key_wrap(root, "acme", KEY_A, 1, material, &v, &st) == PGKMS_OK);
    rec.tenant = "acme";
    memcpy(rec.key_id, KEY_A, PGKMS_UUID_LEN);
    CHECK(pgkms_tenant_key_unwrap(root, &rec, &v, tmk, &st) == PGKMS_OK &&
          memcmp(tmk, material, 32) == 0);
    free(v.keyring);
    free(v.created);
    free(v.wrapped);
    pgkms_secure_free(tmk, PGKMS_TMK_LEN);
}

static void check_round_trip(pgkms_root *root, const pgkms_import_params *a, EVP_PKEY *pub)
{
    uint8_t material[32], enc[512], got[32], hash[32], again[32];
    pgkms_status st;
    size_t enc_len, w;

    CHECK(strncmp(a->public_pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    CHECK(pub != NULL && EVP_PKEY_is_a(pub, "RSA") &&
          EVP_PKEY_get_bits(pub) == PGKMS_IMPORT_RSA_BITS);
    /* Layout of docs/format.md §4, with the file root's 61-byte wrapped key. */
    CHECK(a->sealed[0] == 1 && memcmp(a->sealed + 1, root->id, PGKMS_ROOT_ID_LEN) == 0);
    w = ((size_t)a->sealed[9] << 8) | a->sealed[10];
    CHECK(w == 61 && a->sealed_len > 11 + w + 12 + 16 + 1000);
    CHECK(a->sealed_len <= PGKMS_IMPORT_SEALED_MAX && PGKMS_IMPORT_SEALED_MAX == 4647);
    CHECK(!all_zero(a->token, sizeof(a->token)));
    CHECK(pgkms_import_token_hash(NULL, a->token, 32, hash, &st) == PGKMS_OK);
    CHECK(memcmp(hash, a->token, 32) != 0);
    CHECK(pgkms_import_token_hash(NULL, a->token, 31, hash, &st) == PGKMS_E_INVALID_ARGUMENT);

    CHECK(RAND_bytes(material, sizeof(material)) == 1);
    enc_len = oaep_encrypt(pub, "SHA256", material, 32, enc);
    CHECK(unwrap(root, KEY_A, a->token, a, enc, enc_len, got, &st) == PGKMS_OK &&
          memcmp(got, material, 32) == 0);
    /* Import parameters serve until the token expires: a second use gives the same bytes. */
    CHECK(unwrap(root, KEY_A, a->token, a, enc, enc_len, again, &st) == PGKMS_OK &&
          memcmp(again, material, 32) == 0);
    check_as_tenant_key(root, got);
}

/* Every way the material can be wrong gives one code and one message, and no OpenSSL error. */
static void check_bad_material(pgkms_root *root, const pgkms_import_params *a, EVP_PKEY *pub)
{
    uint8_t material[33], enc[512], got[32];
    char first[PGKMS_DETAIL_MAX] = "";
    pgkms_status st;
    size_t enc_len;
    static const struct {
        const char *what;
        const char *md;
        size_t len;
    } cases[] = {
        {"31 bytes", "SHA256", 31}, {"33 bytes", "SHA256", 33}, {"OAEP with SHA-1", "SHA1", 32},
        {"empty", "SHA256", 0},     {"random block", NULL, 0},
    };

    CHECK(RAND_bytes(material, sizeof(material)) == 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].md != NULL) {
            enc_len = oaep_encrypt(pub, cases[i].md, material, cases[i].len, enc);
        } else {
            enc_len = PGKMS_IMPORT_RSA_BITS / 8;
            CHECK(RAND_bytes(enc, (int)enc_len) == 1);
            enc[0] = 0; /* below the modulus */
        }
        memset(got, 0xAA, sizeof(got));
        ERR_clear_error();
        CHECK_MSG(unwrap(root, KEY_A, a->token, a, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED,
                  "%s accepted", cases[i].what);
        CHECK_MSG(all_zero(got, sizeof(got)), "%s left bytes", cases[i].what);
        CHECK_MSG(ERR_peek_error() == 0, "%s left an OpenSSL error", cases[i].what);
        if (i == 0)
            memcpy(first, st.detail, sizeof(first));
        CHECK_MSG(strcmp(st.detail, first) == 0, "%s: %s", cases[i].what, st.detail);
    }
    CHECK(strstr(first, "RSAES-OAEP using SHA-256") != NULL);
    /* The ciphertext length is public: it gets its own message. */
    enc_len = oaep_encrypt(pub, "SHA256", material, 32, enc);
    CHECK(unwrap(root, KEY_A, a->token, a, enc, enc_len - 1, got, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "384 bytes") != NULL);
}

/* Tokens, keys and sealed bytes that do not belong together are refused before any RSA work. */
static void check_binding(pgkms_root *root, const pgkms_import_params *a,
                          const pgkms_import_params *b, EVP_PKEY *pub)
{
    uint8_t material[32], enc[512], got[32], token[32];
    pgkms_import_params t;
    pgkms_status st;
    size_t enc_len, refused = 0;

    CHECK(RAND_bytes(material, sizeof(material)) == 1);
    enc_len = oaep_encrypt(pub, "SHA256", material, 32, enc);
    /* Key B's token with key A's parameters. */
    CHECK(unwrap(root, KEY_A, b->token, a, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED &&
          strstr(st.detail, "import token does not match") != NULL && all_zero(got, 32));
    /* Key A's parameters and token presented for key B. */
    CHECK(unwrap(root, KEY_B, a->token, a, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED &&
          strstr(st.detail, "belong to another key") != NULL);
    /* A wrong token: one bit off. */
    memcpy(token, a->token, 32);
    token[31] ^= 0x01;
    CHECK(unwrap(root, KEY_A, token, a, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED);
    CHECK(pgkms_import_unwrap_material(root, KEY_A, NULL, a->token, 31, a->sealed, a->sealed_len,
                                       enc, enc_len, got, &st) == PGKMS_E_INVALID_ARGUMENT);
    /* Every single flipped bit of the sealed parameters is refused. */
    t = *a;
    t.sealed = malloc(a->sealed_len);
    for (size_t i = 0; t.sealed != NULL && i < a->sealed_len; i++) {
        memcpy(t.sealed, a->sealed, a->sealed_len);
        t.sealed[i] ^= (uint8_t)(1u << (i % 8));
        memset(got, 0xAA, sizeof(got));
        if (unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) != PGKMS_OK &&
            all_zero(got, 32))
            refused++;
        else
            CHECK_MSG(0, "flipped byte %zu accepted", i);
    }
    CHECK(refused == a->sealed_len);
    /* Which part was changed decides the message. */
    memcpy(t.sealed, a->sealed, a->sealed_len);
    t.sealed[0] = 2;
    CHECK(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) == PGKMS_E_BAD_FORMAT);
    t.sealed[0] = 1;
    t.sealed[1] ^= 1;
    CHECK(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "sealed under root key") != NULL);
    t.sealed[1] ^= 1;
    t.sealed[20] ^= 1; /* wrapped sealing key */
    CHECK(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED);
    t.sealed[20] ^= 1;
    t.sealed[a->sealed_len - 1] ^= 1; /* tag */
    CHECK(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) == PGKMS_E_AUTH_FAILED);
    /* Truncated at every length. */
    for (size_t len = 0; len < a->sealed_len; len += (len < 100 ? 1 : 97)) {
        t.sealed_len = len;
        CHECK_MSG(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) != PGKMS_OK,
                  "truncated to %zu accepted", len);
    }
    t.sealed_len = a->sealed_len - 1;
    CHECK(unwrap(root, KEY_A, a->token, &t, enc, enc_len, got, &st) != PGKMS_OK);
    free(t.sealed);
    /* Untouched, they still work. */
    CHECK(unwrap(root, KEY_A, a->token, a, enc, enc_len, got, &st) == PGKMS_OK &&
          memcmp(got, material, 32) == 0);
}

static void check_material_check(void)
{
    uint8_t m1[32], m2[32], c1[32], c2[32], c3[32];
    pgkms_status st;
    size_t len = 0;
    /*
     * HMAC-SHA256(key = bytes 60..7f, "pgkms material check v1" || KEY_A), computed by
     *   python3 -c "import hmac,hashlib,uuid; print(hmac.new(bytes(range(0x60,0x80)),
     *     b'pgkms material check v1' + uuid.UUID('6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4d').bytes,
     *     hashlib.sha256).hexdigest())"
     * and confirmed with
     *   { printf 'pgkms material check v1'; printf 6b3a1f0e2c4d4a5b8c7d9e0f1a2b3c4d | xxd -r -p; }
     * | openssl mac -digest SHA256 -macopt hexkey:606162...7f HMAC
     */
    uint8_t *want =
        t_unhex("341a4518950a3141fe858aa49e51d17ea1726edafc3a167338040c637d8c4bf0", &len);

    for (int i = 0; i < 32; i++)
        m1[i] = (uint8_t)(0x60 + i);
    CHECK(pgkms_material_check(NULL, m1, KEY_A, c1, &st) == PGKMS_OK);
    CHECK(want != NULL && len == 32 && memcmp(c1, want, 32) == 0);
    CHECK(pgkms_material_check(NULL, m1, KEY_A, c2, &st) == PGKMS_OK && memcmp(c1, c2, 32) == 0);
    memcpy(m2, m1, 32);
    m2[0] ^= 1;
    CHECK(pgkms_material_check(NULL, m2, KEY_A, c2, &st) == PGKMS_OK && memcmp(c1, c2, 32) != 0);
    /* The same material under another key gives an unrelated value. */
    CHECK(pgkms_material_check(NULL, m1, KEY_B, c3, &st) == PGKMS_OK && memcmp(c1, c3, 32) != 0);
    free(want);
}

static void check_token_hash(void)
{
    uint8_t token[32], hash[32];
    size_t len = 0;
    /* python3 -c "import hashlib; print(hashlib.sha256(bytes(range(32))).hexdigest())" */
    uint8_t *want =
        t_unhex("630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd", &len);

    for (int i = 0; i < 32; i++)
        token[i] = (uint8_t)i;
    CHECK(pgkms_import_token_hash(NULL, token, 32, hash, NULL) == PGKMS_OK);
    CHECK(want != NULL && memcmp(hash, want, 32) == 0);
    free(want);
}

/* Material wrapped by the openssl CLI (test/vectors/README.md) under the committed test key. */
static void check_cli_vector(void)
{
    char path[512];
    size_t mlen = 0, elen = 0, slen = 0;
    uint8_t *material = read_vector("byok_material.bin", &mlen);
    uint8_t *enc = read_vector("byok_material.enc", &elen);
    uint8_t *sha1 = read_vector("byok_material_sha1.enc", &slen);
    uint8_t got[32];
    EVP_PKEY *pkey = NULL;
    pgkms_status st;
    BIO *bio;

    snprintf(path, sizeof(path), "%s/byok_test_rsa3072.key", t_vectors_dir);
    bio = BIO_new_file(path, "r");
    if (bio != NULL)
        pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    CHECK_MSG(pkey != NULL, "cannot read %s", path);
    if (pkey != NULL && material != NULL && enc != NULL && sha1 != NULL) {
        CHECK(mlen == 32 && elen == 384 && slen == 384);
        CHECK_MSG(pgkms_import_oaep_decrypt(NULL, pkey, enc, elen, got, &st) == PGKMS_OK &&
                      memcmp(got, material, 32) == 0,
                  "%s", st.detail);
        CHECK(pgkms_import_oaep_decrypt(NULL, pkey, sha1, slen, got, &st) == PGKMS_E_AUTH_FAILED &&
              all_zero(got, 32));
    }
    EVP_PKEY_free(pkey);
    free(material);
    free(enc);
    free(sha1);
}

/*
 * Wycheproof RSA-3072 OAEP-SHA-256 vectors, MGF1 with SHA-256 and with SHA-1: the one valid
 * 32-byte message without a label decrypts; everything else, valid elsewhere or not, is refused
 * with the same code and message and no OpenSSL error (a wrong ciphertext length excepted).
 */
static void check_wycheproof(void)
{
    char path[512], line[1 << 14], buf[64], first[PGKMS_DETAIL_MAX] = "";
    EVP_PKEY *pkey = NULL;
    int accepted = 0, refused = 0, wrong_len = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/rsa_oaep3072_wycheproof.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t ctlen = 0, msglen = 0, labellen = 0, len = 0;
        uint8_t *ct, *msg, *label, got[32];
        const char *mgf, *result, *id;
        char mgfbuf[16], resbuf[16];
        pgkms_status st;
        pgkms_code rc;
        int want_ok;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (strncmp(line, "key=", 4) == 0) {
            uint8_t *der = t_hex_field(line, "key", &len);
            const unsigned char *p = der;

            EVP_PKEY_free(pkey);
            pkey = der != NULL ? d2i_AutoPrivateKey(NULL, &p, (long)len) : NULL;
            CHECK(pkey != NULL && EVP_PKEY_get_bits(pkey) == 3072);
            free(der);
            continue;
        }
        ct = t_hex_field(line, "ct", &ctlen);
        msg = t_hex_field(line, "msg", &msglen);
        label = t_hex_field(line, "label", &labellen);
        mgf = t_field(line, "mgf", mgfbuf, sizeof(mgfbuf));
        result = t_field(line, "result", resbuf, sizeof(resbuf));
        id = t_field(line, "id", buf, sizeof(buf));
        CHECK_MSG(pkey && ct && msg && label && mgf && result && id, "malformed: %.60s", line);
        if (pkey && ct && msg && label && mgf && result && id) {
            want_ok = strcmp(result, "valid") == 0 && strcmp(mgf, "SHA-256") == 0 &&
                      labellen == 0 && msglen == 32;
            memset(got, 0xAA, sizeof(got));
            ERR_clear_error();
            rc = pgkms_import_oaep_decrypt(NULL, pkey, ct, ctlen, got, &st);
            if (ctlen != 384) {
                CHECK_MSG(rc == PGKMS_E_INVALID_ARGUMENT, "%s", id);
                wrong_len++;
            } else if (want_ok) {
                CHECK_MSG(rc == PGKMS_OK && memcmp(got, msg, 32) == 0, "%s: %s", id, st.detail);
                accepted++;
            } else {
                if (first[0] == '\0')
                    memcpy(first, st.detail, sizeof(first));
                CHECK_MSG(rc == PGKMS_E_AUTH_FAILED && strcmp(st.detail, first) == 0 &&
                              all_zero(got, 32) && ERR_peek_error() == 0,
                          "%s", id);
                refused++;
            }
        }
        free(ct);
        free(msg);
        free(label);
    }
    if (f != NULL)
        fclose(f);
    EVP_PKEY_free(pkey);
    CHECK(accepted == 1 && refused == 58 && wrong_len == 10);
}

void test_key_import(void)
{
    pgkms_import_params a, b;
    pgkms_root *root = NULL;
    pgkms_status st;
    EVP_PKEY *pub = NULL;
    char uri[300], cmd[300];

    check_material_check();
    check_token_hash();
    check_cli_vector();
    check_wycheproof();
    CHECK(mkdtemp(tmpdir) != NULL);
    snprintf(uri, sizeof(uri), "file:%s/root.key", tmpdir);
    CHECK(pgkms_root_open(NULL, uri, PGKMS_ROOT_CREATE, &root, &st) == PGKMS_OK);
    if (root != NULL) {
        CHECK_MSG(pgkms_import_params_new(root, KEY_A, NULL, &a, &st) == PGKMS_OK, "%s", st.detail);
        CHECK_MSG(pgkms_import_params_new(root, KEY_B, NULL, &b, &st) == PGKMS_OK, "%s", st.detail);
        if (a.public_pem != NULL && b.public_pem != NULL) {
            CHECK(strcmp(a.public_pem, b.public_pem) != 0 && memcmp(a.token, b.token, 32) != 0);
            pub = public_key_of(a.public_pem);
            check_round_trip(root, &a, pub);
            check_bad_material(root, &a, pub);
            check_binding(root, &a, &b, pub);
        }
        EVP_PKEY_free(pub);
        pgkms_import_params_free(&a);
        pgkms_import_params_free(&b);
        pgkms_root_close(root);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}
