/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials from owner-only files or the environment, in secure memory (credential.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgkms/credential.h"
#include "pgkms/secmem.h"

void pgkms_secret_clear(pgkms_secret *s)
{
    if (s != NULL) {
        pgkms_secure_free(s->data, s->cap);
        memset(s, 0, sizeof(*s));
    }
}

pgkms_code pgkms_secret_set(pgkms_secret *out, const char *s, size_t len, pgkms_status *st)
{
    pgkms_secret_clear(out);
    if ((out->data = pgkms_secure_alloc(len + 1)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a credential");
    memcpy(out->data, s, len);
    out->data[len] = '\0';
    out->len = len;
    out->cap = len + 1;
    return PGKMS_OK;
}

int pgkms_secret_is_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return 0;
    return 1;
}

static int space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

pgkms_code pgkms_secret_read_file(const char *path, size_t max, const char *what, pgkms_secret *out,
                                  pgkms_status *st)
{
    struct stat sb;
    size_t len = 0, start = 0;
    int fd;

    memset(out, 0, sizeof(*out));
    if (path[0] != '/')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "%s must be an absolute path, not \"%.64s\"", what, path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not open %s \"%s\": %s", what, path,
                          strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s \"%s\" is not a regular file", what,
                          path);
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "%s \"%s\" is accessible by group or others (mode %03o); run chmod 600 "
                          "on it",
                          what, path, (unsigned)(sb.st_mode & 0777));
    }
    if ((out->data = pgkms_secure_alloc(max + 1)) == NULL) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a credential");
    }
    out->cap = max + 1;
    for (;;) {
        ssize_t n = read(fd, out->data + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;

            close(fd);
            pgkms_secret_clear(out);
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not read %s \"%s\": %s", what,
                              path, strerror(err));
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            close(fd);
            pgkms_secret_clear(out);
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s \"%s\" is larger than %zu bytes",
                              what, path, max);
        }
    }
    close(fd);
    while (len > 0 && space(out->data[len - 1]))
        len--;
    while (start < len && space(out->data[start]))
        start++;
    memmove(out->data, out->data + start, len - start);
    len -= start;
    pgkms_wipe(out->data + len, out->cap - len);
    out->len = len;
    if (len == 0) {
        pgkms_secret_clear(out);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s \"%s\" is empty", what, path);
    }
    return PGKMS_OK;
}
