/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 7512 URIs: percent-decoding, path versus query, PIN sources, and refusal of the rest. */
#include <string.h>

#include "pgkms/pkcs11_uri.h"
#include "harness.h"

#define MOD "?module-path=/usr/lib/softhsm/libsofthsm2.so"

static int parses(const char *uri, pgkms_pkcs11_uri *u)
{
    pgkms_status st;
    pgkms_code rc = pgkms_pkcs11_uri_parse(uri, u, &st);

    if (rc != PGKMS_OK)
        fprintf(stderr, "  (%s: %s)\n", uri, st.detail);
    return rc == PGKMS_OK;
}

/* The URI must be refused as a bad argument, with detail mentioning `says`. */
static void refused(const char *uri, const char *says)
{
    pgkms_pkcs11_uri u;
    pgkms_status st;
    pgkms_code rc;

    pgkms_status_clear(&st);
    rc = pgkms_pkcs11_uri_parse(uri, &u, &st);
    CHECK_MSG(rc == PGKMS_E_INVALID_ARGUMENT && st.code == rc, "accepted %s", uri);
    CHECK_MSG(strstr(st.detail, says) != NULL, "%s: \"%s\" lacks \"%s\"", uri, st.detail, says);
    pgkms_pkcs11_uri_free(&u);
}

void test_pkcs11_uri(void)
{
    pgkms_pkcs11_uri u;

    /* The usual form; pin-source=file: gives a path. */
    CHECK(parses("pkcs11:token=pgkms;object=root" MOD "&pin-source=file:/etc/pgkms/pin", &u));
    CHECK(strcmp(u.token, "pgkms") == 0 && strcmp(u.object, "root") == 0);
    CHECK(strcmp(u.module_path, "/usr/lib/softhsm/libsofthsm2.so") == 0);
    CHECK(u.pin_kind == PGKMS_PIN_FILE && strcmp(u.pin_ref, "/etc/pgkms/pin") == 0);
    CHECK(u.manufacturer == NULL && u.model == NULL && u.serial == NULL && !u.has_id);
    pgkms_pkcs11_uri_free(&u);

    /* Percent-decoding in path and query, either hex case; attributes in any order. */
    CHECK(parses("pkcs11:object=root%20key%2fv1;token=My%20HSM%3b%3F;serial=00%4142" MOD
                 "%2e&pin-source=file:/run/secrets/p%C3%AFn",
                 &u));
    CHECK(strcmp(u.token, "My HSM;?") == 0 && strcmp(u.object, "root key/v1") == 0);
    CHECK(strcmp(u.serial, "00A42") == 0);
    CHECK(strcmp(u.module_path, "/usr/lib/softhsm/libsofthsm2.so.") == 0);
    CHECK(strcmp(u.pin_ref, "/run/secrets/p\xc3\xafn") == 0);
    pgkms_pkcs11_uri_free(&u);

    /* id is bytes (NUL included); the characters RFC 7512 allows unencoded are accepted. */
    CHECK(parses("pkcs11:token=a:b@c!$'()*+,=[];object=x~y-z._1;id=%00%01%ff;type=secret-key;"
                 "manufacturer=SoftHSM%20project;model=SoftHSM%20v2" MOD "&pin-source=/p?x|y",
                 &u));
    CHECK(strcmp(u.token, "a:b@c!$'()*+,=[]") == 0 && strcmp(u.object, "x~y-z._1") == 0);
    CHECK(u.has_id && u.id_len == 3 && memcmp(u.id, "\x00\x01\xff", 3) == 0);
    CHECK(strcmp(u.manufacturer, "SoftHSM project") == 0 && strcmp(u.model, "SoftHSM v2") == 0);
    CHECK(u.pin_kind == PGKMS_PIN_FILE && strcmp(u.pin_ref, "/p?x|y") == 0);
    pgkms_pkcs11_uri_free(&u);

    /* PIN sources: env:NAME, file:///path, and none (PGKMS_PKCS11_PIN). The scheme's case. */
    CHECK(parses("pkcs11:token=t;object=o" MOD "&pin-source=env:PGKMS_HSM_PIN_2", &u));
    CHECK(u.pin_kind == PGKMS_PIN_ENV && strcmp(u.pin_ref, "PGKMS_HSM_PIN_2") == 0);
    pgkms_pkcs11_uri_free(&u);
    CHECK(parses("PKCS11:token=t;object=o" MOD "&pin-source=file:///etc/pin", &u));
    CHECK(u.pin_kind == PGKMS_PIN_FILE && strcmp(u.pin_ref, "/etc/pin") == 0);
    pgkms_pkcs11_uri_free(&u);
    CHECK(parses("pkcs11:token=t;object=o" MOD, &u));
    CHECK(u.pin_kind == PGKMS_PIN_DEFAULT && u.pin_ref == NULL);
    pgkms_pkcs11_uri_free(&u);
    CHECK(parses("pkcs11:token=t;object=o;id=" MOD, &u)); /* an empty CKA_ID */
    CHECK(u.has_id && u.id_len == 0);
    pgkms_pkcs11_uri_free(&u);
    /* 32 bytes of label fit CK_TOKEN_INFO; 33 do not. */
    CHECK(parses("pkcs11:token=0123456789abcdef0123456789abcdef;object=o" MOD, &u));
    pgkms_pkcs11_uri_free(&u);
    refused("pkcs11:token=0123456789abcdef0123456789abcdef0;object=o" MOD,
            "\"token\" is longer than 32 bytes");
    refused("pkcs11:token=t;serial=0123456789abcdef0;object=o" MOD,
            "\"serial\" is longer than 16 bytes");

    /* Required parts. */
    refused("file:/etc/root.key", "not a pkcs11: URI");
    refused("pkcs11:", "token=<label> is required");
    refused("pkcs11:object=o" MOD, "token=<label> is required");
    refused("pkcs11:token=;object=o" MOD, "token=<label> is required");
    refused("pkcs11:token=t" MOD, "object=<label> is required");
    refused("pkcs11:token=t;object=o", "module-path");
    refused("pkcs11:token=t;object=o?module-path=libsofthsm2.so", "module-path");

    /* Attributes in the wrong part, unknown, repeated, empty or without a value. */
    refused("pkcs11:token=t;object=o;module-path=/m.so", "\"module-path\" belongs in the query");
    refused("pkcs11:token=t;object=o" MOD "&token=t", "\"token\" belongs in the path");
    refused("pkcs11:token=t;object=o;colour=red" MOD, "unknown path attribute \"colour\"");
    refused("pkcs11:token=t;object=o" MOD "&x-vendor=1", "unknown query attribute \"x-vendor\"");
    refused("pkcs11:token=t;object=o;token=u" MOD, "\"token\" is given twice");
    refused("pkcs11:token=t;;object=o" MOD, "empty attribute in the path");
    refused("pkcs11:token=t;object=o;" MOD, "empty attribute in the path");
    refused("pkcs11:token=t;object=o" MOD "&&pin-source=/p", "empty attribute in the query");
    refused("pkcs11:token=t;object" MOD, "\"object\" is not an attribute");

    /* Percent-encoding: malformed escapes, characters that must be encoded, NUL in a label. */
    refused("pkcs11:token=t%2;object=o" MOD, "not followed by two hex digits");
    refused("pkcs11:token=t%zz;object=o" MOD, "not followed by two hex digits");
    refused("pkcs11:token=t;object=o%" MOD, "not followed by two hex digits");
    refused("pkcs11:token=my token;object=o" MOD, "byte 0x20 in attribute \"token\"");
    refused("pkcs11:token=t/u;object=o" MOD, "\"/\" in attribute \"token\" must be");
    refused("pkcs11:token=t;object=o&p" MOD, "\"&\" in attribute \"object\" must be");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=/a;b", "\";\" in attribute \"pin-source\"");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=/a#b", "\"#\" in attribute \"pin-source\"");
    refused("pkcs11:token=t%00x;object=o" MOD, "NUL byte");

    /* What pgkms refuses on purpose: PINs in the URI, slots, modules by name, other types. */
    refused("pkcs11:token=t;object=o" MOD "&pin-value=1234", "\"pin-value\" is not accepted");
    refused("pkcs11:token=t;object=o;slot-id=3" MOD, "not its slot");
    refused("pkcs11:token=t;object=o;slot-description=x" MOD, "not its slot");
    refused("pkcs11:token=t;object=o;library-version=2" MOD, "\"library-version\" is not");
    refused("pkcs11:token=t;object=o?module-name=softhsm2", "absolute module-path");
    refused("pkcs11:token=t;object=o;type=private" MOD, "type must be \"secret-key\"");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=pin.txt", "pin-source must be");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=|/bin/cat", "pin-source must be");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=file://host/pin", "pin-source must be");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=env:1PIN", "environment variable name");
    refused("pkcs11:token=t;object=o" MOD "&pin-source=env:", "environment variable name");
    {
        static char long_uri[PGKMS_P11_URI_MAX + 2];
        size_t n = strlen("pkcs11:token=t;object=o" MOD "&pin-source=/");

        memcpy(long_uri, "pkcs11:token=t;object=o" MOD "&pin-source=/", n);
        memset(long_uri + n, 'p', sizeof(long_uri) - 1 - n);
        refused(long_uri, "longer than 4096 characters");
        long_uri[PGKMS_P11_URI_MAX] = '\0'; /* exactly the limit: parses */
        CHECK(parses(long_uri, &u));
        pgkms_pkcs11_uri_free(&u);
    }
}
