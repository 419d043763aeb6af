/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 URIs (RFC 7512) naming a root key in a token. Only what pgkms implements is
 * accepted: an attribute it would have to ignore could make the URI select more loosely than
 * written, so unknown attributes are refused rather than skipped.
 */
#ifndef PGKMS_PKCS11_URI_H
#define PGKMS_PKCS11_URI_H

#include <stddef.h>
#include <stdint.h>

#include "pgkms/status.h"

#define PGKMS_P11_URI_MAX   4096
#define PGKMS_P11_LABEL_MAX 32                 /* CK_TOKEN_INFO label and manufacturerID fields */
#define PGKMS_P11_SHORT_MAX 16                 /* CK_TOKEN_INFO model and serialNumber fields */
#define PGKMS_P11_ID_MAX    255                /* longest CKA_ID matched */
#define PGKMS_P11_PIN_ENV   "PGKMS_PKCS11_PIN" /* the PIN when the URI has no pin-source */

typedef enum pgkms_pin_kind {
    PGKMS_PIN_DEFAULT = 0, /* no pin-source: environment variable PGKMS_P11_PIN_ENV */
    PGKMS_PIN_FILE,        /* pin-source=file:/path or /path: first line of the file */
    PGKMS_PIN_ENV,         /* pin-source=env:NAME */
} pgkms_pin_kind;

/* Percent-decoded attributes; NULL (id: id_len 0 and NULL) when absent. */
typedef struct pgkms_pkcs11_uri {
    char *token;        /* path "token": token label, required */
    char *manufacturer; /* path "manufacturer", "model", "serial": further token filters */
    char *model;
    char *serial;
    char *object;            /* path "object": CKA_LABEL of the root key, required */
    uint8_t *id;             /* path "id": CKA_ID the key must also have */
    size_t id_len;           /* an "id=" with no value matches an empty CKA_ID */
    int has_id;              /* "id" was given */
    char *module_path;       /* query "module-path": absolute path, required */
    pgkms_pin_kind pin_kind; /* query "pin-source" */
    char *pin_ref;           /* file path or environment variable name */
} pgkms_pkcs11_uri;

/*
 * Parses a whole "pkcs11:" URI into out (zeroed first; free with pgkms_pkcs11_uri_free even
 * after a failure). Bad URIs give PGKMS_E_INVALID_ARGUMENT with the offending attribute named.
 */
pgkms_code pgkms_pkcs11_uri_parse(const char *uri, pgkms_pkcs11_uri *out,
                                  pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_pkcs11_uri_free(pgkms_pkcs11_uri *u);

#endif
