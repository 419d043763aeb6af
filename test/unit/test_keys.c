/* SPDX-License-Identifier: Apache-2.0 */
/* Roots, tenant keys, keyring files and the TTL rules of keysets. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgkms/keyset.h"
#include "pgkms/root_file.h"
#include "pgkms/secmem.h"
#include "harness.h"

static char tmpdir[] = "/tmp/pgkms-unit.XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

static void check_root_file(void)
{
    char path[256], uri[300];
    pgkms_root *root = NULL;
    pgkms_status st;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/root.key", tmpdir);
    snprintf(uri, sizeof(uri), "file:%s", path);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE); /* missing */
    CHECK(pgkms_root_open(NULL, uri, PGKMS_ROOT_CREATE, &root, &st) == PGKMS_OK && root->created);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 65);
    pgkms_root_close(root);
    chmod(path, 0640);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "chmod 600") != NULL);
    write_file(path, "00112233\n", 0600);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "64 hex") != NULL);
    write_file(path, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    CHECK(pgkms_root_open(NULL, "relative/root.key", 0, &root, &st) != PGKMS_OK);
    CHECK(pgkms_root_open(NULL, "pkcs11:token=x", 0, &root, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_root_open(NULL, "", 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE);
}

/* The file helpers used by escrow: write once, read back with the server's rules, root id. */
static void check_root_file_helpers(void)
{
    static const uint8_t VECTOR_ID[PGKMS_ROOT_ID_LEN] = {0x18, 0x48, 0x0e, 0x89,
                                                         0x7e, 0x41, 0x78, 0xb1};
    char path[256];
    uint8_t root[PGKMS_ROOT_FILE_KEY_LEN], back[PGKMS_ROOT_FILE_KEY_LEN], id[PGKMS_ROOT_ID_LEN];
    pgkms_status st;
    struct stat sb;

    for (int i = 0; i < PGKMS_ROOT_FILE_KEY_LEN; i++)
        root[i] = (uint8_t)i;
    CHECK(pgkms_root_file_id(NULL, root, id, &st) == PGKMS_OK &&
          memcmp(id, VECTOR_ID, sizeof(id)) == 0);
    snprintf(path, sizeof(path), "%s/written.key", tmpdir);
    CHECK(pgkms_root_file_write(path, root, &st) == PGKMS_OK);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 65);
    CHECK(pgkms_root_file_read(path, back, &st) == PGKMS_OK && memcmp(root, back, 32) == 0);
    root[0] ^= 1;
    CHECK(pgkms_root_file_write(path, root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "already exists") != NULL);
    CHECK(pgkms_root_file_read(path, back, &st) == PGKMS_OK && back[0] == 0); /* unchanged */
    chmod(path, 0604);
    CHECK(pgkms_root_file_read(path, back, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "chmod 600") != NULL);
    snprintf(path, sizeof(path), "%s/no-such-dir/written.key", tmpdir);
    CHECK(pgkms_root_file_write(path, root, &st) == PGKMS_E_ROOT_UNAVAILABLE);
}

/* The vector keyring (wrapped by Python) unwraps to the vector tenant key. */
static void check_vector_keyring(pgkms_root **root_out)
{
    char path[512], uri[600];
    pgkms_keyring kr;
    pgkms_status st;
    uint8_t tmk[32];
    static const char root_hex[] =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

    snprintf(path, sizeof(path), "%s/vector-root.key", tmpdir);
    write_file(path, root_hex, 0600);
    snprintf(uri, sizeof(uri), "file:%s", path);
    CHECK(pgkms_root_open(NULL, uri, 0, root_out, &st) == PGKMS_OK);
    snprintf(path, sizeof(path), "%s/format_keyring.json", t_vectors_dir);
    CHECK_MSG(pgkms_keyring_load(path, &kr, &st) == PGKMS_OK && kr.nkeys == 1, "%s", st.detail);
    if (kr.nkeys != 1 || *root_out == NULL)
        return;
    CHECK(pgkms_tenant_key_unwrap(*root_out, &kr.keys[0], &kr.keys[0].versions[0], tmk, &st) ==
          PGKMS_OK);
    for (int i = 0; i < 32; i++)
        CHECK(tmk[i] == 0x40 + i);
    /* The wrapping is bound to the tenant: renaming it breaks the unwrap. */
    free(kr.keys[0].tenant);
    kr.keys[0].tenant = strdup("globex");
    CHECK(pgkms_tenant_key_unwrap(*root_out, &kr.keys[0], &kr.keys[0].versions[0], tmk, &st) ==
          PGKMS_E_AUTH_FAILED);
    /* A record wrapped under another root says so instead of failing obscurely. */
    kr.keys[0].versions[0].root_id[0] ^= 1;
    CHECK(pgkms_tenant_key_unwrap(*root_out, &kr.keys[0], &kr.keys[0].versions[0], tmk, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "wrapped under root key") != NULL);
    pgkms_keyring_free(&kr);
}

static void check_keyring_parse(pgkms_root *root)
{
    static const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"format\":\"pgkms-keyring\",\"version\":2,\"keys\":[]}",
        "{\"format\":\"pgkms-keyring\",\"version\":1,\"keys\":[{}]}",
        "{\"format\":\"pgkms-keyring\",\"version\":1,\"keys\":[],\"keys\":[]}",
        "{\"format\":\"pgkms-keyring\",\"version\":1,\"keys\":[{\"tenant\":\"a b\"}]}",
    };
    pgkms_keyring kr = {0, NULL}, back;
    pgkms_key_record rec;
    pgkms_status st;
    char *json = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(pgkms_keyring_parse(bad[i], strlen(bad[i]), &back, &st) == PGKMS_E_BAD_FORMAT,
                  "accepted keyring %zu", i);
    /* Round trip: create, serialize, parse, unwrap. */
    CHECK(pgkms_tenant_key_create(root, "tenant-1", 1, &rec, &st) == PGKMS_OK);
    CHECK((rec.key_id[6] & 0xF0) == 0x40);
    CHECK(pgkms_keyring_add(&kr, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyring_serialize(&kr, &json, &st) == PGKMS_OK);
    CHECK(json != NULL && pgkms_keyring_parse(json, strlen(json), &back, &st) == PGKMS_OK &&
          back.nkeys == 1 && strcmp(back.keys[0].tenant, "tenant-1") == 0 &&
          back.keys[0].versions[0].wrapped_len == kr.keys[0].versions[0].wrapped_len);
    CHECK(pgkms_keyring_find_default(&back, "tenant-1") != NULL);
    CHECK(pgkms_keyring_find_default(&back, "tenant-2") == NULL);
    CHECK(pgkms_keyring_find_ref(&back, kr.keys[0].key_id) != NULL);
    pgkms_keyring_free(&back);
    pgkms_keyring_free(&kr);
    free(json);
    CHECK(pgkms_tenant_validate("acme.eu-1@x:y_z", NULL) == PGKMS_OK);
    CHECK(pgkms_tenant_validate("", NULL) != PGKMS_OK);
    CHECK(pgkms_tenant_validate("a;b", NULL) != PGKMS_OK);
    CHECK(pgkms_tenant_validate("张三", NULL) != PGKMS_OK);
}

/* A root whose unwrap can be switched off, to play an unreachable KMS. */
static int root_down;
static pgkms_code (*real_unwrap)(pgkms_root *, const uint8_t *, size_t, const uint8_t *, size_t,
                                 uint8_t *, size_t, pgkms_status *);

static pgkms_code flaky_unwrap(pgkms_root *r, const uint8_t *aad, size_t aad_len, const uint8_t *in,
                               size_t in_len, uint8_t *key, size_t key_len, pgkms_status *st)
{
    if (root_down)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "root is unreachable");
    return real_unwrap(r, aad, aad_len, in, in_len, key, key_len, st);
}

static void check_keyset_ttl(pgkms_root *root)
{
    pgkms_root_ops flaky = *root->ops;
    pgkms_keyring kr = {0, NULL};
    pgkms_key_record rec;
    pgkms_keyset ks;
    pgkms_status st;
    const uint8_t *tmk = NULL;
    uint8_t first[32];
    const int ttl = 10;

    real_unwrap = root->ops->unwrap;
    flaky.unwrap = flaky_unwrap;
    root->ops = &flaky;
    CHECK(pgkms_tenant_key_create(root, "ttl", 1, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyring_add(&kr, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_init(&ks, "ttl", &kr, 0, root, ttl, &st) == PGKMS_OK);
    const pgkms_key_record *r = pgkms_keyset_selected(&ks);

    CHECK(pgkms_keyset_material(&ks, r, 1, 1000, &tmk, &st) == PGKMS_OK && tmk != NULL);
    memcpy(first, tmk, 32);
    root_down = 1;
    /* Before half-life: the cache answers without asking the root. */
    CHECK(pgkms_keyset_material(&ks, r, 1, 1004, &tmk, &st) == PGKMS_OK);
    /* After half-life the refresh fails, but the key bridges the outage until the TTL. */
    CHECK(pgkms_keyset_material(&ks, r, 1, 1009, &tmk, &st) == PGKMS_OK &&
          memcmp(tmk, first, 32) == 0);
    /* At the TTL: fail closed, with the root's error. */
    CHECK(pgkms_keyset_material(&ks, r, 1, 1010, &tmk, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          tmk == NULL);
    /* Recovers by itself when the root returns. */
    root_down = 0;
    CHECK(pgkms_keyset_material(&ks, r, 1, 1011, &tmk, &st) == PGKMS_OK &&
          memcmp(tmk, first, 32) == 0);
    CHECK(pgkms_keyset_material(&ks, r, 2, 1011, &tmk, &st) == PGKMS_E_KEY_NOT_FOUND);
    CHECK(pgkms_key_usable(r, &st) == PGKMS_OK);
    CHECK(pgkms_key_record_set_state(&ks.keys.keys[0], "Disabled", &st) == PGKMS_OK &&
          !ks.keys.keys[0].enabled);
    CHECK(pgkms_key_usable(r, &st) == PGKMS_E_KEY_STATE && strstr(st.detail, "Disabled"));
    ks.root = NULL; /* owned by the caller here */
    pgkms_keyset_cleanup(&ks);
}

/* A file root removed from disk ends its cached keys within the TTL, and comes back with it. */
static void check_file_root_removed(void)
{
    char path[256], moved[256], uri[300];
    pgkms_root *root = NULL;
    pgkms_keyring kr = {0, NULL};
    pgkms_key_record rec;
    pgkms_keyset ks;
    pgkms_status st;
    const uint8_t *tmk = NULL;

    snprintf(path, sizeof(path), "%s/removable.key", tmpdir);
    snprintf(moved, sizeof(moved), "%s/removable.key.away", tmpdir);
    snprintf(uri, sizeof(uri), "file:%s", path);
    CHECK(pgkms_root_open(NULL, uri, PGKMS_ROOT_CREATE, &root, &st) == PGKMS_OK);
    if (root == NULL)
        return;
    CHECK(pgkms_tenant_key_create(root, "removed", 1, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyring_add(&kr, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_init(&ks, "removed", &kr, 0, root, 10, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 100, &tmk, &st) == PGKMS_OK);
    CHECK(rename(path, moved) == 0);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 106, &tmk, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 110, &tmk, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "could not open root key file") != NULL);
    /* Still missing: the key stays closed, it does not come back from the root's memory. */
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 111, &tmk, &st) ==
          PGKMS_E_ROOT_UNAVAILABLE);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 112, &tmk, &st) ==
          PGKMS_E_ROOT_UNAVAILABLE);
    CHECK(rename(moved, path) == 0);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 113, &tmk, &st) == PGKMS_OK);
    pgkms_keyset_cleanup(&ks); /* closes the root */
}

void test_keys(void)
{
    pgkms_root *root = NULL;
    char cmd[300];

    CHECK(mkdtemp(tmpdir) != NULL);
    check_root_file();
    check_root_file_helpers();
    check_vector_keyring(&root);
    if (root != NULL) {
        check_keyring_parse(root);
        check_keyset_ttl(root);
        pgkms_root_close(root);
    }
    check_file_root_removed();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}
