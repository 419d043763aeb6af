/* SPDX-License-Identifier: Apache-2.0 */
/* Names of the provider's parameters: the contract between the provider and its users. */
#ifndef PGKMS_PARAMS_H
#define PGKMS_PARAMS_H

#define PGKMS_PROV_NAME    "pgkms"
#define PGKMS_KEY_TYPE     "PGKMS" /* KEYMGMT, ASYM_CIPHER and ENCODER name */
#define PGKMS_STORE_SCHEME "kms"

/* Key import (EVP_PKEY_fromdata), generation and get_params. */
#define PGKMS_PARAM_TENANT   "tenant"       /* utf8 */
#define PGKMS_PARAM_KEYRING  "kms-keyring"  /* utf8: keyring JSON with the tenant's records */
#define PGKMS_PARAM_KEY      "kms-key"      /* utf8: alias or id of the key that encrypts */
#define PGKMS_PARAM_ROOT_KEY "kms-root-key" /* utf8: root keyring URI */
/* utf8: the root being rotated away from, which still unwraps versions not yet moved */
#define PGKMS_PARAM_ROOT_KEY_PREVIOUS "kms-root-key-previous"
#define PGKMS_PARAM_CACHE_TTL         "kms-key-cache-ttl" /* int: seconds */
/* utf8: UUID of the key that encrypts (get); with generation, the key to add a version to */
#define PGKMS_PARAM_KEY_ID "kms-key-id"
/* uint, generation: the new version of kms-key-id to create (rotation) */
#define PGKMS_PARAM_VERSION "kms-version"
/* int: create a missing file root (the extension's embedded default) */
#define PGKMS_PARAM_ROOT_CREATE "kms-root-create"

/* Asymmetric cipher context. */
#define PGKMS_PARAM_CONTEXT "kms-context" /* octet/utf8: caller context bound as AAD */
/* utf8: "data" (default), "wrap", "det", "blind-index" or "pseudonym" */
#define PGKMS_PARAM_OP "kms-op"
/* octet/utf8: 1-255 bytes naming what a blind index or pseudonym is for ("default") */
#define PGKMS_PARAM_PURPOSE "kms-purpose"
#define PGKMS_PARAM_BITS    "kms-bits" /* int: blind index length, 32-256, a multiple of 8 */
/* int 0/1: blind index of the canonical form: ASCII lower case, white space trimmed, collapsed */
#define PGKMS_PARAM_CANONICAL "kms-canonical"
/* size_t: raise the 64 MiB input limit (for callers that hold inputs whole anyway) */
#define PGKMS_PARAM_MAX_INPUT "kms-max-input"

/* Provider configuration (openssl.cnf section) and their environment overrides. */
#define PGKMS_CONF_ROOT_KEY          "root_key"
#define PGKMS_CONF_ROOT_KEY_PREVIOUS "root_key_previous"
#define PGKMS_CONF_KEYRING           "keyring"
#define PGKMS_CONF_CACHE_TTL         "key_cache_ttl"
#define PGKMS_ENV_ROOT_KEY           "PGKMS_ROOT_KEY"
#define PGKMS_ENV_ROOT_KEY_PREVIOUS  "PGKMS_ROOT_KEY_PREVIOUS"
#define PGKMS_ENV_KEYRING            "PGKMS_KEYRING"

/* pkeyutl holds whole inputs in memory; larger files are refused, never truncated. */
#define PGKMS_PROV_MAX_INPUT ((size_t)64 * 1024 * 1024)

#endif
