/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which tenants the current role may act as (kms.role_tenants), and whether it sees their data
 * only masked (kms.masked_roles, except the tenants in kms.reveal_grants); cached per backend
 * and dropped when a table changes (statement trigger, at commit). The per-call check is a
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
static bool masked;
static int nrevealed;
static char **revealed; /* tenants a masked role sees in plaintext */
static char last_ok[PGKMS_TENANT_MAX + 1];

void pgkms_acl_invalidate(void)
{
    valid = false; /* safe inside an invalidation callback: the reload happens on next use */
    pgkms_resolve_epoch++;
}

static bool listed(char **list, int n, const char *tenant)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], tenant) == 0)
            return true;
    return false;
}

static void reload(Oid current)
{
    for (int i = 0; i < nallowed; i++)
        free(allowed[i]);
    free(allowed);
    allowed = NULL;
    nallowed = 0;
    for (int i = 0; i < nrevealed; i++)
        free(revealed[i]);
    free(revealed);
    revealed = NULL;
    nrevealed = 0;
    masked = false;
    last_ok[0] = '\0';
    restricted = false;
    role = current;
    valid = true;
    /* Superusers, and databases without the extension, are not restricted. */
    if (superuser_arg(current) || get_namespace_oid("kms", true) == InvalidOid)
        return;
    allowed = pgkms_keys_role_tenants("role_tenants", GetUserNameFromId(current, false), &nallowed);
    restricted = nallowed > 0;
    masked = pgkms_keys_role_masked(GetUserNameFromId(current, false));
    if (masked)
        revealed =
            pgkms_keys_role_tenants("reveal_grants", GetUserNameFromId(current, false), &nrevealed);
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
    if (restricted && !listed(allowed, nallowed, tenant))
        return false;
    strlcpy(last_ok, tenant, sizeof(last_ok));
    return true;
}

bool pgkms_acl_may_reveal(const char *tenant)
{
    Oid current = GetUserId();

    if (!valid || current != role) {
        valid = false;
        reload(current);
    }
    return !masked || listed(revealed, nrevealed, tenant);
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
