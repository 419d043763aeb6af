/* SPDX-License-Identifier: Apache-2.0 */
/* KMS keyring URIs, credentials, root ids and the parsers of Vault's and AWS KMS's answers. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgkms/codec.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_kms.h"
#include "harness.h"

static char tmpdir[] = "/tmp/pgkms-kms.XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

static void check_uri(void)
{
    static const char *const bad[] = {
        "vault+https://user:pw@vault:8200/transit/k",     /* credentials in the authority */
        "vault+https://vault:8200/transit/k?token=s.abc", /* credentials as an option */
        "awskms://eu-west-1/k?secret_access_key=x",
        "vault+https://vault:8200/transit/k#frag",
        "vault+https://vault:0/transit/k",
        "vault+https://vault:65536/transit/k",
        "vault+https://vault:82a0/transit/k",
        "vault+https://vault:/transit/k",
        "vault+https:///transit/k",
        "vault+https://va ult/transit/k",
        "vault+https://[::1/transit/k",
        "vault+https://vault/transit/k%20",
        "vault+https://vault/transit/k?a=1&a=2",
        "vault+https://vault/transit/k?a=",
        "vault+https://vault/transit/k?a",
        "vault+https://vault/transit/k?=x",
        "vault+https://vault/transit/k?A=1",
        "vault+https://vault/transit/k?a=%zz",
        "vault+https://vault/transit/k?a=%00",
        "vault+https://vault/transit/k?a=%4",
        "vault/transit/k",
        "://vault/transit/k",
    };
    pgkms_kms_uri u;
    pgkms_status st;
    pgkms_http_config cfg;
    char auth[64];
    static const char *const known[] = {"token_file", NULL};

    CHECK(pgkms_kms_uri_parse("Vault+HTTPS://Vault.Example.COM:8200/transit/pgkms-root"
                              "?timeout_ms=1500&ca_file=%2Fetc%2Fca%20dir%2Fca.pem&token_file=/t",
                              &u, &st) == PGKMS_OK);
    CHECK(strcmp(u.scheme, "vault+https") == 0 && strcmp(u.host, "vault.example.com") == 0 &&
          u.port == 8200 && !u.ipv6 && strcmp(u.path, "transit/pgkms-root") == 0);
    CHECK(u.nopts == 3 && strcmp(pgkms_kms_uri_option(&u, "ca_file"), "/etc/ca dir/ca.pem") == 0);
    CHECK(pgkms_kms_uri_option(&u, "namespace") == NULL);
    pgkms_http_config_init(&cfg);
    CHECK(pgkms_kms_uri_http_config(&u, known, &cfg, &st) == PGKMS_OK && cfg.timeout_ms == 1500 &&
          strcmp(cfg.ca_file, "/etc/ca dir/ca.pem") == 0);
    CHECK(pgkms_kms_uri_http_config(&u, NULL, &cfg, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "token_file") != NULL);
    pgkms_kms_uri_authority(&u, 443, auth, sizeof(auth));
    CHECK(strcmp(auth, "vault.example.com:8200") == 0);
    pgkms_kms_uri_free(&u);

    CHECK(pgkms_kms_uri_parse("vault+http://[::1]:8200/transit/k", &u, &st) == PGKMS_OK && u.ipv6 &&
          strcmp(u.host, "::1") == 0 && u.port == 8200);
    pgkms_kms_uri_authority(&u, 80, auth, sizeof(auth));
    CHECK(strcmp(auth, "[::1]:8200") == 0);
    pgkms_kms_uri_free(&u);
    CHECK(pgkms_kms_uri_parse("https://kms.eu-west-1.amazonaws.com:443", &u, &st) == PGKMS_OK &&
          u.path[0] == '\0');
    pgkms_kms_uri_authority(&u, 443, auth, sizeof(auth));
    CHECK(strcmp(auth, "kms.eu-west-1.amazonaws.com") == 0);
    pgkms_kms_uri_free(&u);
    CHECK(pgkms_kms_uri_parse("awskms://eu-west-1/arn:aws:kms:eu-west-1:111122223333:key/"
                              "1234abcd-12ab-34cd-56ef-1234567890ab?endpoint=http://127.0.0.1:4566",
                              &u, &st) == PGKMS_OK &&
          strcmp(pgkms_kms_uri_option(&u, "endpoint"), "http://127.0.0.1:4566") == 0);
    pgkms_kms_uri_free(&u);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pgkms_code rc = pgkms_kms_uri_parse(bad[i], &u, &st);

        CHECK_MSG(rc == PGKMS_E_INVALID_ARGUMENT, "%s accepted", bad[i]);
        if (rc == PGKMS_OK)
            pgkms_kms_uri_free(&u);
        if (strstr(bad[i], "pw@") != NULL || strstr(bad[i], "token=") != NULL ||
            strstr(bad[i], "secret_access_key") != NULL)
            CHECK_MSG(strstr(st.detail, "credentials do not belong") != NULL, "%s", st.detail);
    }
}

static void id_hex(const pgkms_root *root, char out[2 * PGKMS_ROOT_ID_LEN + 1])
{
    pgkms_hex_encode(root->id, PGKMS_ROOT_ID_LEN, out);
}

static void check_vault_open(void)
{
    static const char *const bad[] = {
        "vault+http://10.1.2.3:8200/transit/k", /* plain http beyond the loopback */
        "vault+https://vault:8200/k",           /* no mount */
        "vault+https://vault:8200/transit/",    /* no key */
        "vault+https://vault:8200/transit/k?insecure=1",
        "vault+https://vault:8200/transit/k?timeout_ms=0",
        "vault+https://vault:8200/transit/a:b",
        "vault+https://vault:8200/transit/k?ca_file=relative.pem",
    };
    pgkms_root *root = NULL;
    pgkms_status st;
    char hex[2 * PGKMS_ROOT_ID_LEN + 1], path[256], uri[400];

    setenv("VAULT_TOKEN", "s.unit-test-token", 1);
    CHECK(pgkms_root_open(NULL, "vault+https://vault.example.com:8200/transit/pgkms-root", 0, &root,
                          &st) == PGKMS_OK);
    CHECK(root != NULL && strcmp(root->ops->kind, "vault") == 0);
    if (root != NULL) {
        /* sha256(b"\0".join([b"pgkms root id vault v1", b"vault.example.com:8200", b"",
         *                   b"transit", b"pgkms-root", b""])) */
        id_hex(root, hex);
        CHECK_MSG(strcmp(hex, "a6801f2835e8c2d2") == 0, "%s", hex);
    }
    pgkms_root_close(root);
    /* Options and letter case do not change the id; another key does. */
    CHECK(pgkms_root_open(NULL,
                          "vault+https://VAULT.example.com:8200/transit/pgkms-root?timeout_ms=900",
                          0, &root, &st) == PGKMS_OK);
    id_hex(root, hex);
    CHECK(strcmp(hex, "a6801f2835e8c2d2") == 0);
    pgkms_root_close(root);
    CHECK(pgkms_root_open(NULL, "vault+https://vault.example.com:8200/transit/other", 0, &root,
                          &st) == PGKMS_OK);
    id_hex(root, hex);
    CHECK(strcmp(hex, "a6801f2835e8c2d2") != 0);
    pgkms_root_close(root);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(pgkms_root_open(NULL, bad[i], 0, &root, &st) == PGKMS_E_INVALID_ARGUMENT,
                  "%s: %s", bad[i], st.detail);
    }

    /* The token: from a file only its owner can read, or the environment, never the URI. */
    snprintf(path, sizeof(path), "%s/vault-token", tmpdir);
    snprintf(uri, sizeof(uri), "vault+http://127.0.0.1:8200/transit/k?token_file=%s", path);
    write_file(path, "s.from-file\n", 0644);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "chmod 600") != NULL &&
          strstr(st.detail, "vault keyring vault+http://127.0.0.1:8200/transit/k") == st.detail);
    write_file(path, "s.two words\n", 0600);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "spaces or control") != NULL);
    write_file(path, "\n", 0600);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "empty") != NULL);
    write_file(path, "s.from-file\n", 0600);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_OK);
    pgkms_root_close(root);
    unlink(path);
    unsetenv("VAULT_TOKEN");
    setenv("HOME", tmpdir, 1);
    CHECK(pgkms_root_open(NULL, "vault+http://127.0.0.1:8200/transit/k", 0, &root, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "no Vault token") != NULL);
}

static void check_aws_open(void)
{
    static const char *const bad[] = {
        "awskms://eu-west-1/",
        "awskms://eu-west-1:443/1234abcd-12ab-34cd-56ef-1234567890ab",
        "awskms://eu_west_1/k",
        "awskms://eu-west-1/arn:aws:kms:us-east-1:111122223333:key/k",
        "awskms://eu-west-1/arn:aws:kms",
        "awskms://eu-west-1/a:b",
        "awskms://eu-west-1/k?endpoint=http://10.0.0.1:4566",
        "awskms://eu-west-1/k?endpoint=ftp://127.0.0.1",
        "awskms://eu-west-1/k?endpoint=https://kms.example/path",
        "awskms://eu-west-1/k?region=us-east-1",
    };
    pgkms_root *root = NULL;
    pgkms_status st;
    char hex[2 * PGKMS_ROOT_ID_LEN + 1], path[256], uri[400];

    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    CHECK(pgkms_root_open(NULL, "awskms://eu-west-1/1234abcd-12ab-34cd-56ef-1234567890ab", 0, &root,
                          &st) == PGKMS_OK);
    CHECK(root != NULL && strcmp(root->ops->kind, "awskms") == 0);
    if (root != NULL) {
        /* sha256(b"\0".join([b"pgkms root id awskms v1", b"eu-west-1", b"1234abcd-...", b""])) */
        id_hex(root, hex);
        CHECK_MSG(strcmp(hex, "ab183a8cd3d8872b") == 0, "%s", hex);
    }
    pgkms_root_close(root);
    /* The endpoint is where to reach the key, not which key: the id stays. */
    CHECK(pgkms_root_open(NULL,
                          "awskms://eu-west-1/1234abcd-12ab-34cd-56ef-1234567890ab"
                          "?endpoint=http://127.0.0.1:4566&retries=0",
                          0, &root, &st) == PGKMS_OK);
    id_hex(root, hex);
    CHECK(strcmp(hex, "ab183a8cd3d8872b") == 0);
    pgkms_root_close(root);
    CHECK(pgkms_root_open(NULL, "awskms://eu-west-1/arn:aws:kms:eu-west-1:111122223333:alias/pgkms",
                          0, &root, &st) == PGKMS_OK);
    pgkms_root_close(root);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(pgkms_root_open(NULL, bad[i], 0, &root, &st) == PGKMS_E_INVALID_ARGUMENT,
                  "%s: %s", bad[i], st.detail);

    /* A shared credentials file: the named profile only, owner-only mode. */
    snprintf(path, sizeof(path), "%s/credentials", tmpdir);
    write_file(path,
               "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n"
               "# a comment\n[pgkms]\r\naws_access_key_id=AKIDPGKMS\r\n"
               "aws_secret_access_key = s3cr3t/+x\r\naws_session_token = tok\r\n",
               0600);
    snprintf(uri, sizeof(uri), "awskms://eu-west-1/alias/pgkms?credentials_file=%s&profile=pgkms",
             path);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_OK);
    pgkms_root_close(root);
    snprintf(uri, sizeof(uri), "awskms://eu-west-1/alias/pgkms?credentials_file=%s&profile=none",
             path);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "profile [none]") != NULL);
    chmod(path, 0640);
    snprintf(uri, sizeof(uri), "awskms://eu-west-1/alias/pgkms?credentials_file=%s", path);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "chmod 600") != NULL);
    unlink(path);
    unsetenv("AWS_ACCESS_KEY_ID");
    CHECK(pgkms_root_open(NULL, "awskms://eu-west-1/alias/pgkms", 0, &root, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "no AWS credentials") != NULL);
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

static json_t *js(const char *text)
{
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

    CHECK_MSG(j != NULL, "%s", text);
    return j;
}

static void check_vault_answers(void)
{
    static const char *const bad_ct[] = {
        "{}",
        "{\"data\":null}",
        "{\"data\":{\"ciphertext\":12}}",
        "{\"data\":{\"ciphertext\":\"\"}}",
        "{\"data\":{\"ciphertext\":\"vault:v:AAAA\"}}",
        "{\"data\":{\"ciphertext\":\"vault:vx:AAAA\"}}",
        "{\"data\":{\"ciphertext\":\"vault:v1:\"}}",
        "{\"data\":{\"ciphertext\":\"vault:v1:AA AA\"}}",
        "{\"data\":{\"ciphertext\":\"vault:v1AAAA\"}}",
        "{\"data\":{\"ciphertext\":\"VAULT:v1:AAAA\"}}",
        "{\"data\":{\"ciphertext\":\"vault:v12345678901:AAAA\"}}",
    };
    static const char *const bad_pt[] = {
        "{\"data\":{}}",
        "{\"data\":{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"}}", /* 31 */
        "{\"data\":{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\"}}", /* 33 */
        "{\"data\":{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}}",  /* pad */
        "{\"data\":{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\\n\"}}",
        "{\"data\":{\"plaintext\":[\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]}}",
    };
    uint8_t out[PGKMS_WRAPPED_MAX], key[32];
    char big[700];
    size_t len = 0;
    pgkms_status st;
    json_t *j;

    j = js("{\"data\":{\"ciphertext\":\"vault:v12:Zm9vYmFyYmF6\",\"key_version\":12}}");
    CHECK(pgkms_vault_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_OK && len == 22 &&
          memcmp(out, "vault:v12:Zm9vYmFyYmF6", 22) == 0);
    json_decref(j);
    for (size_t i = 0; i < sizeof(bad_ct) / sizeof(bad_ct[0]); i++) {
        j = js(bad_ct[i]);
        CHECK_MSG(pgkms_vault_parse_ciphertext(j, "L", out, &len, &st) ==
                          PGKMS_E_ROOT_UNAVAILABLE &&
                      strncmp(st.detail, "L: malformed encrypt answer", 27) == 0,
                  "%s", bad_ct[i]);
        json_decref(j);
    }
    memset(big, 'A', sizeof(big));
    memcpy(big, "{\"data\":{\"ciphertext\":\"vault:v1:", 32);
    memcpy(big + sizeof(big) - 5, "\"}}", 4);
    j = js(big); /* a ciphertext longer than any wrapped key */
    CHECK(pgkms_vault_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);

    j = js("{\"data\":{\"plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}");
    CHECK(pgkms_vault_parse_plaintext(j, "L", key, 32, &st) == PGKMS_OK && key[0] == 0 &&
          key[31] == 31);
    json_decref(j);
    for (size_t i = 0; i < sizeof(bad_pt) / sizeof(bad_pt[0]); i++) {
        j = js(bad_pt[i]);
        CHECK_MSG(pgkms_vault_parse_plaintext(j, "L", key, 32, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
                      strstr(st.detail, "malformed decrypt answer") != NULL,
                  "%s", bad_pt[i]);
        json_decref(j);
    }

    j = js("{\"data\":{\"derived\":true,\"type\":\"aes256-gcm96\",\"supports_encryption\":true,"
           "\"supports_decryption\":true,\"latest_version\":3}}");
    CHECK(pgkms_vault_parse_key(j, "L", &st) == PGKMS_OK);
    json_decref(j);
    j = js("{\"data\":{\"derived\":false}}");
    CHECK(pgkms_vault_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "derived=true") != NULL);
    json_decref(j);
    j = js("{\"data\":{\"derived\":\"true\"}}");
    CHECK(pgkms_vault_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "malformed") != NULL);
    json_decref(j);
    j = js("{\"data\":{\"derived\":true,\"supports_encryption\":false}}");
    CHECK(pgkms_vault_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);
    CHECK(pgkms_vault_parse_key(NULL, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE);
}

static void check_aws_answers(void)
{
    uint8_t out[PGKMS_WRAPPED_MAX], key[32];
    char big[1000];
    size_t len = 0;
    pgkms_status st;
    json_t *j;

    j = js("{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"arn:aws:kms:eu-west-1:1:key/k\"}");
    CHECK(pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_OK && len == 4 &&
          out[3] == 4);
    json_decref(j);
    j = js("{\"CiphertextBlob\":\"\"}");
    CHECK(pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);
    j = js("{\"CiphertextBlob\":\"AQID*A==\"}");
    CHECK(pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);
    j = js("{\"ciphertextBlob\":\"AQIDBA==\"}");
    CHECK(pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "no CiphertextBlob") != NULL);
    json_decref(j);
    memset(big, 'A', sizeof(big));
    memcpy(big, "{\"CiphertextBlob\":\"", 19);
    memcpy(big + 19 + 688, "\"}", 3); /* 688 base64 characters: 516 bytes */
    j = js(big);
    CHECK(pgkms_awskms_parse_ciphertext(j, "L", out, &len, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);

    j = js("{\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"KeyId\":\"k\"}");
    CHECK(pgkms_awskms_parse_plaintext(j, "L", key, 32, &st) == PGKMS_OK && key[31] == 31);
    json_decref(j);
    j = js("{\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODw==\"}");
    CHECK(pgkms_awskms_parse_plaintext(j, "L", key, 32, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);

    j = js("{\"KeyMetadata\":{\"KeyId\":\"k\",\"Enabled\":true,\"KeyState\":\"Enabled\","
           "\"KeyUsage\":\"ENCRYPT_DECRYPT\",\"KeySpec\":\"SYMMETRIC_DEFAULT\"}}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_OK);
    json_decref(j);
    j = js("{\"KeyMetadata\":{\"Enabled\":false,\"KeyState\":\"Disabled\"}}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strcmp(st.detail, "L: the KMS key is Disabled, not Enabled") == 0);
    json_decref(j);
    j = js("{\"KeyMetadata\":{\"Enabled\":false,\"KeyState\":\"PendingDeletion\"}}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "PendingDeletion") != NULL);
    json_decref(j);
    j = js("{\"KeyMetadata\":{\"Enabled\":true,\"KeyState\":\"Enabled\","
           "\"KeyUsage\":\"SIGN_VERIFY\"}}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);
    j = js("{\"KeyMetadata\":{\"Enabled\":true,\"KeyState\":\"Enabled\","
           "\"KeySpec\":\"RSA_2048\"}}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE);
    json_decref(j);
    j = js("{\"Enabled\":true,\"KeyState\":\"Enabled\"}");
    CHECK(pgkms_awskms_parse_key(j, "L", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "malformed") != NULL);
    json_decref(j);

    j = js("{\"__type\":\"InvalidCiphertextException\"}");
    CHECK(pgkms_awskms_error(400, j, "L", "Decrypt", &st) == PGKMS_E_AUTH_FAILED);
    json_decref(j);
    j = js("{\"__type\":\"com.amazonaws.kms#DisabledException\",\"message\":\"key is \\u0007 "
           "disabled\"}");
    CHECK(pgkms_awskms_error(400, j, "L", "Encrypt", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strcmp(st.detail, "L: Encrypt refused: DisabledException: key is ? disabled") == 0);
    json_decref(j);
    CHECK(pgkms_awskms_error(502, NULL, "L", "Decrypt", &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strcmp(st.detail, "L: Decrypt refused (HTTP 502)") == 0);
}

void test_kms_roots(void)
{
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

    CHECK(mkdtemp(tmpdir) != NULL);
    check_uri();
    check_vault_open();
    check_aws_open();
    check_vault_answers();
    check_aws_answers();
    if (home != NULL)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
    free(home);
    rmdir(tmpdir);
}
