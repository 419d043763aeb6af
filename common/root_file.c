/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File root: 32 random bytes as 64 hex characters in a file only its owner can read.
 * Tenant keys are wrapped under a key derived from it (root_kek.h), so the root bytes
 * themselves are never used directly as a cipher key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "pgkms/codec.h"
#include "pgkms/root.h"
#include "pgkms/root_file.h"
#include "pgkms/root_kek.h"
#include "pgkms/secmem.h"

#define ROOT_LEN     PGKMS_ROOT_SECRET_LEN
#define ROOT_HEX_LEN 64

_Static_assert(PGKMS_ROOT_FILE_KEY_LEN == PGKMS_ROOT_SECRET_LEN, "a root file holds a root secret");

typedef struct file_state {
    pgkms_root_kek kek;
} file_state;

static pgkms_code file_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                            const uint8_t *key, size_t key_len, uint8_t *out, size_t *out_len,
                            pgkms_status *st)
{
    file_state *fs = root->state;

    return pgkms_root_kek_wrap(root->libctx, &fs->kek, aad, aad_len, key, key_len, out, out_len,
                               st);
}

static pgkms_code file_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                              const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                              pgkms_status *st)
{
    file_state *fs = root->state;

    return pgkms_root_kek_unwrap(root->libctx, &fs->kek, aad, aad_len, in, in_len, key, key_len,
                                 st);
}

static void file_close(pgkms_root *root)
{
    pgkms_secure_free(root->state, sizeof(file_state));
    root->state = NULL;
}

static pgkms_code file_refresh(pgkms_root *root, pgkms_status *st);
static const pgkms_root_ops file_ops = {"file", file_wrap, file_unwrap, file_refresh, file_close};

/*
 * Writes root bytes without ever exposing a partial file: temp file, then link(), which never
 * replaces an existing file. With exist_ok, a file that appeared meanwhile (another process
 * created the root first) is success and is the one used.
 */
static pgkms_code write_root_file(const char *path, const uint8_t raw[ROOT_LEN], int exist_ok,
                                  pgkms_status *st)
{
    char hex[ROOT_HEX_LEN + 2];
    char tmp[4096];
    int fd, ok;
    pgkms_code rc = PGKMS_OK;

    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "root key path is too long");
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not create root key file \"%s\": %s",
                          tmp, strerror(errno));
    pgkms_hex_encode(raw, ROOT_LEN, hex);
    hex[ROOT_HEX_LEN] = '\n';
    ok = write(fd, hex, ROOT_HEX_LEN + 1) == ROOT_HEX_LEN + 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    pgkms_wipe(hex, sizeof(hex));
    if (!ok)
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not write root key file \"%s\": %s",
                        tmp, strerror(errno));
    else if (link(tmp, path) != 0 && !(exist_ok && errno == EEXIST))
        rc = errno == EEXIST
                 ? pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "root key file \"%s\" already exists; it is never replaced", path)
                 : pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "could not create root key file \"%s\": %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}

static pgkms_code create_root_file(OSSL_LIB_CTX *libctx, const char *path, pgkms_status *st)
{
    uint8_t *raw = pgkms_secure_alloc(ROOT_LEN);
    pgkms_code rc;

    if (raw == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for the root key");
    if (RAND_bytes_ex(libctx, raw, ROOT_LEN, 256) <= 0)
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    else
        rc = write_root_file(path, raw, 1, st);
    pgkms_secure_free(raw, ROOT_LEN);
    return rc;
}

pgkms_code pgkms_root_file_write(const char *path, const uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                                 pgkms_status *st)
{
    return write_root_file(path, root, 0, st);
}

pgkms_code pgkms_root_file_id(OSSL_LIB_CTX *libctx, const uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                              uint8_t id[PGKMS_ROOT_ID_LEN], pgkms_status *st)
{
    return pgkms_root_kek_id(libctx, root, id, st);
}

pgkms_code pgkms_root_file_read(const char *path, uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                                pgkms_status *st)
{
    char buf[ROOT_HEX_LEN + 8];
    struct stat sb;
    ssize_t n;
    size_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    pgkms_code rc;

    if (fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not open root key file \"%s\": %s",
                          path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "root key \"%s\" is not a regular file",
                          path);
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "root key file \"%s\" is accessible by group or others (mode %03o); "
                          "run chmod 600 on it",
                          path, (unsigned)(sb.st_mode & 0777));
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) {
        pgkms_wipe(buf, sizeof(buf));
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not read root key file \"%s\": %s",
                          path, strerror(errno));
    }
    len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    rc = pgkms_hex_decode(buf, len, root, ROOT_LEN, NULL);
    pgkms_wipe(buf, sizeof(buf));
    if (rc != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "root key file \"%s\" must hold exactly 64 hex characters "
                          "(openssl rand -hex 32)",
                          path);
    return PGKMS_OK;
}

/* Reads the root file into a new state; the root's current state is replaced only on success. */
static pgkms_code load_root(pgkms_root *root, const char *path, pgkms_status *st)
{
    uint8_t *secret = pgkms_secure_alloc(ROOT_LEN);
    file_state *fresh = pgkms_secure_alloc(sizeof(file_state));
    uint8_t id[PGKMS_ROOT_ID_LEN];
    pgkms_code rc;

    if (secret == NULL || fresh == NULL) {
        pgkms_secure_free(secret, ROOT_LEN);
        pgkms_secure_free(fresh, sizeof(file_state));
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for the root key");
    }
    rc = pgkms_root_file_read(path, secret, st);
    if (rc == PGKMS_OK)
        rc = pgkms_root_kek_derive(root->libctx, secret, &fresh->kek, id, st);
    pgkms_secure_free(secret, ROOT_LEN);
    if (rc != PGKMS_OK) {
        pgkms_secure_free(fresh, sizeof(file_state));
        return rc;
    }
    file_close(root);
    root->state = fresh;
    memcpy(root->id, id, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

static const char *file_path(const pgkms_root *root)
{
    return strncmp(root->uri, "file:", 5) == 0 ? root->uri + 5 : root->uri;
}

/* Re-reads the file, so a root removed or replaced stops working when cached keys expire. */
static pgkms_code file_refresh(pgkms_root *root, pgkms_status *st)
{
    return load_root(root, file_path(root), st);
}

pgkms_code pgkms_root_file_open(pgkms_root *root, const char *path, unsigned flags,
                                pgkms_status *st)
{
    pgkms_code rc;

    if (path[0] != '/')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "root key file must be an absolute path, not \"%.64s\"", path);
    if ((flags & PGKMS_ROOT_CREATE) && access(path, F_OK) != 0 && errno == ENOENT) {
        rc = create_root_file(root->libctx, path, st);
        if (rc != PGKMS_OK)
            return rc;
        root->created = 1;
    }
    rc = load_root(root, path, st);
    if (rc == PGKMS_OK)
        root->ops = &file_ops;
    return rc;
}
