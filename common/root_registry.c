/* SPDX-License-Identifier: Apache-2.0 */
/* Picks the root backend from the URI scheme and runs the common part of open/close. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/root.h"
#include "pgkms/root_kms.h"

typedef pgkms_code (*root_open_fn)(pgkms_root *, const char *, unsigned, pgkms_status *);

static const struct {
    const char *prefix; /* the rest of the URI goes to the backend */
    root_open_fn open;
} backends[] = {
    {"file:", pgkms_root_file_open},
    {"pkcs11:", pgkms_root_pkcs11_open},
    {"/", NULL}, /* a bare absolute path is a file root */
    {"vault+https:", pgkms_root_vault_open},
    {"vault+http:", pgkms_root_vault_open}, /* to a test server on 127.0.0.1 only */
    {"awskms:", pgkms_root_awskms_open},
    {"kmip://", pgkms_root_kmip_open},
    {"barbican+", pgkms_root_barbican_open},
};

pgkms_code pgkms_root_open(OSSL_LIB_CTX *libctx, const char *uri, unsigned flags, pgkms_root **out,
                           pgkms_status *st)
{
    pgkms_root *root;
    pgkms_code rc = PGKMS_E_INVALID_ARGUMENT;
    const char *rest = NULL;
    root_open_fn open = NULL;

    *out = NULL;
    if (uri == NULL || uri[0] == '\0')
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "no root key is configured");
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i].prefix);

        if (strncmp(uri, backends[i].prefix, n) == 0) {
            open = backends[i].open != NULL ? backends[i].open : pgkms_root_file_open;
            rest = backends[i].open != NULL ? uri + n : uri;
            break;
        }
    }
    if (open == NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "unsupported root key URI \"%.64s\": expected file:/path, pkcs11:..., "
                          "vault+https://host:port/<mount>/<key>, awskms://<region>/<key>, "
                          "kmip://host:port/<key> or "
                          "barbican+https://host/<secret uuid>?project=<id>",
                          uri);
    root = calloc(1, sizeof(*root));
    if (root == NULL || (root->uri = strdup(uri)) == NULL) {
        free(root);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    root->libctx = libctx;
    rc = open(root, rest, flags, st);
    if (rc != PGKMS_OK) {
        free(root->uri);
        free(root);
        return rc;
    }
    *out = root;
    return PGKMS_OK;
}

void pgkms_root_close(pgkms_root *root)
{
    if (root == NULL)
        return;
    if (root->ops != NULL && root->ops->close != NULL)
        root->ops->close(root);
    free(root->uri);
    free(root);
}
