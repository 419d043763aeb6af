/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Roots held by a KMS over HTTP/JSON: HashiCorp Vault / OpenBao transit (root_vault.c) and
 * AWS KMS (root_awskms.c). URIs, AAD binding, credentials and timeouts: docs/keyrings.md.
 * The parsers of the KMS answers are declared here for the unit tests.
 */
#ifndef PGKMS_ROOT_KMS_H
#define PGKMS_ROOT_KMS_H

#include <jansson.h>

#include "pgkms/root.h"

/* vault+https://host[:port]/<mount>/<key>[?options], vault+http://127.0.0.1:port/... */
pgkms_code pgkms_root_vault_open(pgkms_root *root, const char *rest, unsigned flags,
                                 pgkms_status *st) PGKMS_MUST_CHECK;
/* awskms://<region>/<key id, key ARN, alias/name or alias ARN>[?options] */
pgkms_code pgkms_root_awskms_open(pgkms_root *root, const char *rest, unsigned flags,
                                  pgkms_status *st) PGKMS_MUST_CHECK;

/* Vault: data.ciphertext of encrypt ("vault:v<N>:<base64>", copied as the wrapped bytes). */
pgkms_code pgkms_vault_parse_ciphertext(const json_t *answer, const char *label, uint8_t *out,
                                        size_t *out_len, pgkms_status *st) PGKMS_MUST_CHECK;
/* Vault: data.plaintext of decrypt, base64 of exactly key_len bytes. */
pgkms_code pgkms_vault_parse_plaintext(const json_t *answer, const char *label, uint8_t *key,
                                       size_t key_len, pgkms_status *st) PGKMS_MUST_CHECK;
/* Vault: a key read (GET keys/<key>) that can wrap for pgkms: derived, encrypting, decrypting. */
pgkms_code pgkms_vault_parse_key(const json_t *answer, const char *label,
                                 pgkms_status *st) PGKMS_MUST_CHECK;
/* Whether a wrapped blob looks like a Vault ciphertext ("vault:v<N>:<base64>"). */
int pgkms_vault_ciphertext_ok(const uint8_t *in, size_t len);

/* AWS KMS: CiphertextBlob of Encrypt, base64 of at most PGKMS_WRAPPED_MAX bytes. */
pgkms_code pgkms_awskms_parse_ciphertext(const json_t *answer, const char *label, uint8_t *out,
                                         size_t *out_len, pgkms_status *st) PGKMS_MUST_CHECK;
/* AWS KMS: Plaintext of Decrypt, base64 of exactly key_len bytes. */
pgkms_code pgkms_awskms_parse_plaintext(const json_t *answer, const char *label, uint8_t *key,
                                        size_t key_len, pgkms_status *st) PGKMS_MUST_CHECK;
/* AWS KMS: KeyMetadata of DescribeKey: enabled, for ENCRYPT_DECRYPT. */
pgkms_code pgkms_awskms_parse_key(const json_t *answer, const char *label,
                                  pgkms_status *st) PGKMS_MUST_CHECK;
/* AWS KMS: the code of an error answer of operation op (never PGKMS_OK). */
pgkms_code pgkms_awskms_error(long status, const json_t *answer, const char *label, const char *op,
                              pgkms_status *st);

#endif
