/* SPDX-License-Identifier: Apache-2.0 */
/*
 * URIs of the KMS keyrings: scheme://host[:port]/path[?name=value&...]. Strict: no user info
 * (credentials never travel in a URI), no fragment, no percent-encoding in the path; option
 * values are percent-decoded; unknown and repeated options are refused.
 */
#ifndef PGKMS_KMS_URI_H
#define PGKMS_KMS_URI_H

#include "pgkms/http.h"
#include "pgkms/status.h"

#define PGKMS_KMS_URI_MAX 2048

typedef struct pgkms_kms_option {
    char *name;
    char *value;
} pgkms_kms_option;

typedef struct pgkms_kms_uri {
    char *scheme; /* lowercase: "vault+https", "awskms", ... */
    char *host;   /* lowercase; an IPv6 address without its brackets */
    int ipv6;
    int port;   /* 0 when absent */
    char *path; /* after the first '/', possibly empty */
    size_t nopts;
    pgkms_kms_option *opts;
} pgkms_kms_uri;

pgkms_code pgkms_kms_uri_parse(const char *uri, pgkms_kms_uri *out,
                               pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_kms_uri_free(pgkms_kms_uri *u);
/* The value of option name, or NULL. */
const char *pgkms_kms_uri_option(const pgkms_kms_uri *u, const char *name);
/*
 * Applies the HTTP client options (http.h) to cfg and checks that every other option is in
 * known (NULL-terminated). cfg->ca_file points into u.
 */
pgkms_code pgkms_kms_uri_http_config(const pgkms_kms_uri *u, const char *const *known,
                                     pgkms_http_config *cfg, pgkms_status *st) PGKMS_MUST_CHECK;
/* "host", "host:port", "[v6]:port": the authority as written in URLs and Host headers. */
void pgkms_kms_uri_authority(const pgkms_kms_uri *u, int default_port, char *out, size_t cap);

#endif
