/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which tenants the current role may act as (kms.role_tenants), cached per backend and
 * dropped when the table changes (statement trigger, at commit). The per-call check is a
 * comparison with the last tenant allowed; the catalog is read only when role or table change.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"

#include "pgkms_ext.h"

static bool valid;
static Oid role = InvalidOid;
static bool restricted;
static int nallowed;
static char **allowed;
static char last_ok[PGKMS_TENANT_MAX + 1];

void pgkms_acl_invalidate(void)
{
    valid = false; /* safe inside an invalidation callback: the reload happens on next use */
}

static void reload(Oid current)
{
    for (int i = 0; i < nallowed; i++)
        free(allowed[i]);
    free(allowed);
    allowed = NULL;
    nallowed = 0;
    last_ok[0] = '\0';
    restricted = false;
    role = current;
    valid = true;
    /* Superusers, and databases without the extension, are not restricted. */
    if (superuser_arg(current) || get_namespace_oid("kms", true) == InvalidOid)
        return;
    allowed = pgkms_keys_role_tenants(GetUserNameFromId(current, false), &nallowed);
    restricted = nallowed > 0;
}

bool pgkms_acl_allows(const char *tenant)
{
    return pgkms_acl_role_allows(GetUserId(), tenant);
}

bool pgkms_acl_role_allows(Oid current, const char *tenant)
{
    if (valid && current == role && strcmp(tenant, last_ok) == 0)
        return true;
    if (!valid || current != role) {
        valid = false;
        reload(current);
    }
    if (restricted) {
        int i;

        for (i = 0; i < nallowed && strcmp(allowed[i], tenant) != 0; i++)
            ;
        if (i == nallowed)
            return false;
    }
    strlcpy(last_ok, tenant, sizeof(last_ok));
    return true;
}

void pgkms_acl_check(const char *tenant)
{
    pgkms_acl_role_check(GetUserId(), tenant);
}

void pgkms_acl_role_check(Oid role, const char *tenant)
{
    if (pgkms_acl_role_allows(role, tenant))
        return;
    pgkms_audit_refusal("act_as_tenant", tenant, NULL, -1, "42501: role may not act as tenant");
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("role \"%s\" may not act as tenant \"%s\"",
                           GetUserNameFromId(role, false), tenant),
                    errhint("An administrator allows it with kms.allow_tenant().")));
}
