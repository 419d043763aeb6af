/* SPDX-License-Identifier: Apache-2.0 */
/* Result codes and their non-secret details. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgkms/status.h"

pgkms_code pgkms_fail(pgkms_status *st, pgkms_code code, const char *fmt, ...)
{
    if (st != NULL) {
        va_list ap;

        st->code = code;
        va_start(ap, fmt);
        vsnprintf(st->detail, sizeof(st->detail), fmt, ap);
        va_end(ap);
    }
    return code;
}

void pgkms_status_clear(pgkms_status *st)
{
    if (st != NULL) {
        st->code = PGKMS_OK;
        st->detail[0] = '\0';
    }
}

const char *pgkms_code_name(pgkms_code code)
{
    switch (code) {
    case PGKMS_OK:
        return "success";
    case PGKMS_E_INVALID_ARGUMENT:
        return "invalid argument";
    case PGKMS_E_BAD_FORMAT:
        return "malformed pgkms data";
    case PGKMS_E_AUTH_FAILED:
        return "authentication failed";
    case PGKMS_E_KEY_NOT_FOUND:
        return "key not found";
    case PGKMS_E_KEY_STATE:
        return "key not usable in its state";
    case PGKMS_E_DENIED:
        return "permission denied";
    case PGKMS_E_ROOT_UNAVAILABLE:
        return "root key unavailable";
    case PGKMS_E_NO_MEMORY:
        return "out of memory";
    case PGKMS_E_INTERNAL:
        return "internal error";
    case PGKMS_E_LIMIT:
        return "input too large";
    }
    return "unknown error";
}
