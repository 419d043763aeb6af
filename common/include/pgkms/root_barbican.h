/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenStack Barbican root (key fetch): a 32-byte symmetric secret stored in Barbican for one
 * project is fetched (GET /v1/secrets/<id>/payload with X-Project-Id) into secure memory and
 * used like a root file (root_kek.h). refresh() fetches it again, so a deleted secret or
 * revoked access ends the root's tenant keys within the TTL. pgkms creates nothing in Barbican.
 *
 *   barbican+https://host:9311[/prefix][/v1/secrets]/<secret uuid>?project=<project id>
 *       [&token_file=/abs/path | &token_env=NAME][&ca_file=/abs/path][&timeout_ms=..]...
 *
 * Credentials never appear in the URI: the X-Auth-Token header comes from token_file (read
 * again for every fetch, so a rotated token is picked up) or the environment variable
 * token_env. Query values may be percent-encoded.
 */
#ifndef PGKMS_ROOT_BARBICAN_H
#define PGKMS_ROOT_BARBICAN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "pgkms/http.h"
#include "pgkms/root.h"
#include "pgkms/root_kek.h"

#define PGKMS_BARBICAN_PROJECT_MAX    255
#define PGKMS_BARBICAN_TOKEN_MAX      8192
#define PGKMS_BARBICAN_MAX_RESPONSE   4096 /* a 32-byte payload, or a short JSON error */
#define PGKMS_BARBICAN_MIN_REFETCH_MS 1000 /* refreshes closer than this reuse the last fetch */

/* What a Barbican root URI says. Everything is owned; http.ca_file points into ca_file. */
typedef struct pgkms_barbican_target {
    char *label;       /* "barbican keyring barbican+https://host:9311/<id>": for every detail */
    char *secret_id;   /* the secret's UUID, lower case */
    char *payload_url; /* <endpoint>/v1/secrets/<id>/payload */
    char *project;     /* X-Project-Id */
    char *token_file;  /* NULL: none */
    char *token_env;   /* NULL: none */
    char *ca_file;     /* NULL: the system store */
    pgkms_http_config http;
} pgkms_barbican_target;

/* Parses uri (with or without its "barbican+" prefix). On failure *t holds nothing. */
pgkms_code pgkms_barbican_parse(const char *uri, pgkms_barbican_target *t,
                                pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_barbican_target_free(pgkms_barbican_target *t);

/*
 * The token to send as X-Auth-Token, from token_file or token_env: *token is NULL when none is
 * configured; otherwise release it with pgkms_barbican_token_free.
 */
pgkms_code pgkms_barbican_token(const pgkms_barbican_target *t, char **token,
                                pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_barbican_token_free(char *token);

/*
 * Judges an answer to the payload request: 200 with exactly 32 bytes gives the secret; every
 * other answer is PGKMS_E_ROOT_UNAVAILABLE with a detail that names the keyring and the cause
 * (not found, access denied, not authenticated, not binary, wrong size). json may be NULL.
 */
pgkms_code pgkms_barbican_payload(const pgkms_barbican_target *t, long status, const char *body,
                                  size_t body_len, const json_t *json,
                                  uint8_t secret[PGKMS_ROOT_SECRET_LEN],
                                  pgkms_status *st) PGKMS_MUST_CHECK;

#endif
