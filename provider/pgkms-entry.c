/* SPDX-License-Identifier: Apache-2.0 */
/* The module's only exported symbol; the extension links the provider without it. */
#include "pgkms-provider.h"

__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    return pgkms_provider_init(handle, in, out, provctx);
}
