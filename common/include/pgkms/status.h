/* SPDX-License-Identifier: Apache-2.0 */
/* Result codes of common/: the provider and the extension each translate them in one place. */
#ifndef PGKMS_STATUS_H
#define PGKMS_STATUS_H

#include <stddef.h>

/* Values are part of the provider's error reasons: append, never renumber. */
typedef enum pgkms_code {
    PGKMS_OK = 0,
    PGKMS_E_INVALID_ARGUMENT = 1, /* caller passed something unusable */
    PGKMS_E_BAD_FORMAT = 2,       /* bytes are not a well-formed pgkms object */
    PGKMS_E_AUTH_FAILED = 3,      /* tag or wrapping did not verify */
    PGKMS_E_KEY_NOT_FOUND = 4,    /* no such tenant, key or version */
    PGKMS_E_KEY_STATE = 5,        /* key exists but its state forbids the operation */
    PGKMS_E_DENIED = 6,           /* acting tenant may not use this key */
    PGKMS_E_ROOT_UNAVAILABLE = 7, /* root of trust missing, unreadable or not the right one */
    PGKMS_E_NO_MEMORY = 8,
    PGKMS_E_INTERNAL = 9,
    PGKMS_E_LIMIT = 10, /* input larger than the operation allows */
} pgkms_code;

#define PGKMS_DETAIL_MAX 256

/*
 * A code and a human-readable, non-secret detail. Details never contain key bytes or
 * plaintext: they name tenants, key ids, versions, paths and sizes only.
 */
typedef struct pgkms_status {
    pgkms_code code;
    char detail[PGKMS_DETAIL_MAX];
} pgkms_status;

/* PGKMS_COLD marks failure paths: the compiler moves the blocks that call them out of line. */
#if defined(__GNUC__)
#define PGKMS_MUST_CHECK   __attribute__((warn_unused_result))
#define PGKMS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PGKMS_COLD         __attribute__((cold))
#else
#define PGKMS_MUST_CHECK
#define PGKMS_PRINTF(f, a)
#define PGKMS_COLD
#endif

/* Sets st (if not NULL) and returns code, so callers can write `return pgkms_fail(...)`. */
pgkms_code pgkms_fail(pgkms_status *st, pgkms_code code, const char *fmt, ...)
    PGKMS_PRINTF(3, 4) PGKMS_COLD;
void pgkms_status_clear(pgkms_status *st);
/* Short English name of a code, for messages ("authentication failed"). */
const char *pgkms_code_name(pgkms_code code);

#endif
