/* SPDX-License-Identifier: Apache-2.0 */
/* ENCODER "PGKMS" to text: describes a tenant key (ids, states, keyrings), never its bytes. */
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>

#include "pgkms-provider.h"

static void *enc_newctx(void *provctx)
{
    return provctx;
}

static void enc_freectx(void *vctx)
{
    (void)vctx;
}

static int enc_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 || selection == 0;
}

static void describe(BIO *out, const pgkms_prov_key *key)
{
    const pgkms_keyset *ks = &key->ks;
    const pgkms_key_record *sel = pgkms_keyset_selected(ks);
    char root_id[2 * PGKMS_ROOT_ID_LEN + 1];

    BIO_printf(out, "pgkms tenant key\n");
    BIO_printf(out, "tenant: %s\n", ks->tenant);
    for (size_t i = 0; i < ks->keys.nkeys; i++) {
        const pgkms_key_record *r = &ks->keys.keys[i];
        char kid[PGKMS_UUID_STR_LEN + 1];

        pgkms_uuid_format(r->key_id, kid);
        BIO_printf(out, "key: %s%s\n", kid, r == sel ? " (selected)" : "");
        BIO_printf(out, "    alias: %s\n", r->alias ? r->alias : "-");
        BIO_printf(out, "    default: %s\n", r->is_default ? "yes" : "no");
        BIO_printf(out, "    state: %s\n", r->state);
        BIO_printf(out, "    current version: %u\n", r->current_version);
        BIO_printf(out, "    created: %s\n", r->created ? r->created : "-");
        for (size_t j = 0; j < r->nversions; j++) {
            const pgkms_key_version *v = &r->versions[j];

            pgkms_hex_encode(v->root_id, PGKMS_ROOT_ID_LEN, root_id);
            BIO_printf(out, "    version %u: keyring %s, root %s, created %s\n", v->version,
                       v->keyring, root_id, v->created ? v->created : "-");
        }
    }
    if (key->pinned_version != 0)
        BIO_printf(out, "pinned version: %u\n", key->pinned_version);
    BIO_printf(out, "key cache ttl: %d s\n", ks->ttl);
}

static int enc_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                      const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                      void *cbarg)
{
    pgkms_prov_ctx *ctx = vctx;
    const pgkms_prov_key *key = obj_raw;
    BIO *out;

    (void)obj_abstract;
    (void)selection;
    (void)cb;
    (void)cbarg;
    if (key == NULL || !key->loaded)
        return 0;
    out = BIO_new_from_core_bio(ctx->libctx, cout);
    if (out == NULL)
        return 0;
    describe(out, key);
    BIO_free(out);
    return 1;
}

const OSSL_DISPATCH pgkms_pgkms_text_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode},
    {0, NULL}};
