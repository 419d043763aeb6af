/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Grants: a key's tenant lets another tenant use the key (kms.create_grant). The grants of a
 * (key, grantee) pair are read once through SPI and kept until the key cache goes stale, which
 * every change to kms._grants causes at commit; a check is then a hash lookup.
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "pgkms_ext.h"

typedef struct grant_key {
    uint8_t ref[PGKMS_KEY_REF_LEN];
    char grantee[PGKMS_TENANT_MAX + 1];
} grant_key;

typedef struct grant_entry {
    grant_key key; /* hash key */
    int n;
    pgkms_grant_rule *rules;
} grant_entry;

static HTAB *grants;
static MemoryContext grants_cxt;

void pgkms_grants_reset(void)
{
    if (grants_cxt != NULL)
        MemoryContextDelete(grants_cxt); /* the hash table lives in it too */
    grants_cxt = NULL;
    grants = NULL;
}

static grant_entry *lookup(const uint8_t ref[PGKMS_KEY_REF_LEN], const char *grantee)
{
    grant_key k;
    grant_entry *e;
    bool found;

    if (grants == NULL) {
        HASHCTL ctl;

        grants_cxt = AllocSetContextCreate(TopMemoryContext, "pgkms grants", ALLOCSET_SMALL_SIZES);
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(grant_key);
        ctl.entrysize = sizeof(grant_entry);
        ctl.hcxt = grants_cxt;
        grants = hash_create("pgkms grants", 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    memset(&k, 0, sizeof(k));
    memcpy(k.ref, ref, PGKMS_KEY_REF_LEN);
    strlcpy(k.grantee, grantee, sizeof(k.grantee));
    e = hash_search(grants, &k, HASH_FIND, NULL);
    if (e == NULL) {
        pgkms_grant_rule *rules;
        int n = pgkms_keys_grants(ref, grantee, grants_cxt, &rules);

        e = hash_search(grants, &k, HASH_ENTER, &found);
        e->n = n;
        e->rules = rules;
    }
    return e;
}

static bool rule_matches(const pgkms_grant_rule *r, pgkms_grant_op op, const char *ctx,
                         size_t ctx_len)
{
    if ((r->ops & op) == 0)
        return false;
    if (r->context != NULL &&
        (ctx == NULL || strlen(r->context) != ctx_len || memcmp(r->context, ctx, ctx_len) != 0))
        return false;
    if (r->context_prefix != NULL &&
        (ctx == NULL || strlen(r->context_prefix) > ctx_len ||
         memcmp(r->context_prefix, ctx, strlen(r->context_prefix)) != 0))
        return false;
    return true;
}

static const char *op_name(pgkms_grant_op op)
{
    switch (op) {
    case PGKMS_OP_ENCRYPT:
        return "Encrypt";
    case PGKMS_OP_DECRYPT:
        return "Decrypt";
    case PGKMS_OP_REENCRYPT:
        return "ReEncrypt";
    case PGKMS_OP_DESCRIBE:
        break;
    }
    return "DescribeKey";
}

void pgkms_grants_require(const uint8_t ref[PGKMS_KEY_REF_LEN], const char *owner,
                          const char *grantee, pgkms_grant_op op, const char *context,
                          size_t context_len)
{
    grant_entry *e = lookup(ref, grantee);

    for (int i = 0; i < e->n; i++)
        if (rule_matches(&e->rules[i], op, context, context_len))
            return;
    pgkms_audit_refusal(op_name(op), grantee, ref, -1,
                        psprintf("42501: no %s grant from tenant \"%s\"%s", op_name(op), owner,
                                 e->n > 0 ? " matches this context" : ""));
    /* The owner's name is for the audit log only: tenants do not learn about each other. */
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             op == PGKMS_OP_DECRYPT
                 ? errmsg("permission denied to decrypt a value of another tenant")
                 : errmsg("permission denied to use a key of another tenant for %s", op_name(op)),
             errdetail("The acting tenant is \"%s\"; %s.", grantee,
                       e->n > 0 ? "its grants on this key do not allow this operation "
                                  "with this context"
                                : "it has no grant on this key")));
}
