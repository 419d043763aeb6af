/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials of the KMS keyrings (tokens, access keys), read only from files or the
 * environment and kept in wiped, page-backed memory. A credential file must be a regular file
 * that neither group nor others can access, like a root key file.
 */
#ifndef PGKMS_CREDENTIAL_H
#define PGKMS_CREDENTIAL_H

#include <stddef.h>

#include "pgkms/status.h"

#define PGKMS_CREDENTIAL_FILE_MAX (64 * 1024)

typedef struct pgkms_secret {
    char *data; /* NUL-terminated, secure memory; NULL when empty */
    size_t len;
    size_t cap;
} pgkms_secret;

/*
 * The whole file at path (at most max bytes), surrounding whitespace trimmed. what names the
 * credential in details ("Vault token file").
 */
pgkms_code pgkms_secret_read_file(const char *path, size_t max, const char *what, pgkms_secret *out,
                                  pgkms_status *st) PGKMS_MUST_CHECK;
/* A copy of s[0..len) in secure memory. */
pgkms_code pgkms_secret_set(pgkms_secret *out, const char *s, size_t len,
                            pgkms_status *st) PGKMS_MUST_CHECK;
/* Wipes and frees; the struct is zeroed. */
void pgkms_secret_clear(pgkms_secret *s);
/* 1 when s is a single printable ASCII token (no spaces or controls): safe in a header. */
int pgkms_secret_is_token(const char *s, size_t len);

#endif
