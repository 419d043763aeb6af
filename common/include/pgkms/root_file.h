/* SPDX-License-Identifier: Apache-2.0 */
/* The root key file itself, for tools that handle it outside a keyring (escrow, recovery). */
#ifndef PGKMS_ROOT_FILE_H
#define PGKMS_ROOT_FILE_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/root.h"
#include "pgkms/status.h"

#define PGKMS_ROOT_FILE_KEY_LEN 32

/* Reads a root key file with the server's rules: regular file, not a symlink, no access for
 * group or others, exactly 64 hex digits and optional trailing newline. root should be
 * secure memory. */
pgkms_code pgkms_root_file_read(const char *path, uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                                pgkms_status *st) PGKMS_MUST_CHECK;
/* Writes root as a new 0600 file; refuses (PGKMS_E_ROOT_UNAVAILABLE) if path exists. */
pgkms_code pgkms_root_file_write(const char *path, const uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                                 pgkms_status *st) PGKMS_MUST_CHECK;
/* The root id: HMAC-SHA256(root, "pgkms root id v1")[0..8] (docs/format.md §2). */
pgkms_code pgkms_root_file_id(OSSL_LIB_CTX *libctx, const uint8_t root[PGKMS_ROOT_FILE_KEY_LEN],
                              uint8_t id[PGKMS_ROOT_ID_LEN], pgkms_status *st) PGKMS_MUST_CHECK;

#endif
