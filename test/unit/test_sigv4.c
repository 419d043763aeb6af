/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 against AWS's published examples and against botocore's signer. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "pgkms/sigv4.h"
#include "harness.h"

#define EXAMPLE_ID     "AKIDEXAMPLE"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* AWS General Reference, "Examples of how to derive a signing key for Signature Version 4". */
static void check_signing_key(void)
{
    uint8_t key[32];
    char hex[65];
    pgkms_status st;

    CHECK(pgkms_sigv4_signing_key(NULL, EXAMPLE_SECRET, "20120215", "us-east-1", "iam", key, &st) ==
          PGKMS_OK);
    pgkms_hex_encode(key, 32, hex);
    CHECK_MSG(strcmp(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d") == 0,
              "%s", hex);
}

static pgkms_sigv4_request vanilla(const char *method, const pgkms_sigv4_header *h, size_t n)
{
    pgkms_sigv4_request r;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = "/";
    r.query = "";
    r.headers = h;
    r.nheaders = n;
    r.amz_date = "20150830T123600Z";
    r.region = "us-east-1";
    r.service = "service";
    return r;
}

/* aws-sig-v4-test-suite: get-vanilla and post-vanilla (.creq and .authz). */
static void check_test_suite(void)
{
    static const pgkms_sigv4_header h[] = {{"Host", "example.amazonaws.com"},
                                           {"X-Amz-Date", "20150830T123600Z"}};
    static const pgkms_sigv4_header swapped[] = {{"x-amz-date", "20150830T123600Z"},
                                                 {"HOST", "example.amazonaws.com"}};
    pgkms_sigv4_request r = vanilla("GET", h, 2);
    char auth[PGKMS_SIGV4_AUTH_MAX], sig[65], signed_headers[256];
    char *creq = pgkms_sigv4_canonical_request(NULL, &r, signed_headers, sizeof(signed_headers));
    pgkms_status st;

    CHECK(creq != NULL &&
          strcmp(creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                       "host;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    free(creq);
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), sig,
                                    &st) == PGKMS_OK);
    CHECK_MSG(strcmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                           "aws4_request, SignedHeaders=host;x-amz-date, "
                           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
                           "bf31") == 0,
              "%s", auth);
    r = vanilla("GET", swapped, 2); /* order and case of the caller's headers do not matter */
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), sig,
                                    &st) == PGKMS_OK &&
          strcmp(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0);
    r = vanilla("POST", h, 2);
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), sig,
                                    &st) == PGKMS_OK &&
          strcmp(sig, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b") == 0);
    r.amz_date = "2015-08-30";
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), sig,
                                    &st) == PGKMS_E_INVALID_ARGUMENT);
}

/*
 * KMS Encrypt requests as pgkms sends them, signed by botocore 1.29 (Debian 12):
 *   body =
 * b'{"KeyId":"alias/pgkms","Plaintext":"AAEC","EncryptionContext":{"pgkms-aad":"cGdrbXM="}}' r =
 * AWSRequest(method="POST", url=URL, data=body, headers={"Content-Type":
 *       "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"})
 *   with mock.patch.object(botocore.auth.datetime, "datetime", <utcnow() = 2024-01-02 03:04:05>):
 *       SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", TOKEN),
 *                 "kms", "eu-west-1").add_auth(r)
 *   print(r.headers["Authorization"])
 * with (URL, TOKEN) = ("https://kms.eu-west-1.amazonaws.com/", "FQoGZXIvYXdzEXAMPLETOKEN") and
 * ("http://127.0.0.1:4566/", None).
 */
static void check_botocore(void)
{
    static const char body[] = "{\"KeyId\":\"alias/pgkms\",\"Plaintext\":\"AAEC\","
                               "\"EncryptionContext\":{\"pgkms-aad\":\"cGdrbXM=\"}}";
    pgkms_sigv4_header h[] = {{"Content-Type", "application/x-amz-json-1.1"},
                              {"X-Amz-Target", "TrentService.Encrypt"},
                              {"X-Amz-Date", "20240102T030405Z"},
                              {"Host", "kms.eu-west-1.amazonaws.com"},
                              {"X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLETOKEN"}};
    pgkms_sigv4_request r;
    char auth[PGKMS_SIGV4_AUTH_MAX], date[PGKMS_SIGV4_DATE_LEN + 1];
    pgkms_status st;

    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.path = "/";
    r.query = "";
    r.headers = h;
    r.nheaders = 5;
    r.body = (const uint8_t *)body;
    r.body_len = strlen(body);
    r.amz_date = "20240102T030405Z";
    r.region = "eu-west-1";
    r.service = "kms";
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), NULL,
                                    &st) == PGKMS_OK);
    CHECK_MSG(strcmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/kms/"
                           "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                           "x-amz-security-token;x-amz-target, Signature=4a1b74197fa040bd1612f1039"
                           "6656cd02376041c788d2b50a44dd344fc4a3846") == 0,
              "%s", auth);
    h[3].value = "127.0.0.1:4566";
    r.nheaders = 4;
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), NULL,
                                    &st) == PGKMS_OK);
    CHECK_MSG(strstr(auth,
                     "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
                     "ef91b3dbc4c8946f0b30da606b731306def81a11a1234499ca1a6cac83eac436") != NULL,
              "%s", auth);
    /* Header values are trimmed and inner runs of spaces collapse, as SigV4 requires. */
    h[1].value = "  TrentService.Encrypt  ";
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, EXAMPLE_SECRET, auth, sizeof(auth), NULL,
                                    &st) == PGKMS_OK &&
          strstr(auth, "ef91b3dbc4c8946f0b30da606b731306def81a11a1234499ca1a6cac83eac436") != NULL);
    /* A different secret gives a different signature. */
    CHECK(pgkms_sigv4_authorization(NULL, &r, EXAMPLE_ID, "wrong", auth, sizeof(auth), NULL, &st) ==
              PGKMS_OK &&
          strstr(auth, "ef91b3db") == NULL);
    pgkms_sigv4_date(0, date);
    CHECK(strcmp(date, "19700101T000000Z") == 0);
    pgkms_sigv4_date(1704164645, date);
    CHECK(strcmp(date, "20240102T030405Z") == 0);
}

void test_sigv4(void)
{
    check_signing_key();
    check_test_suite();
    check_botocore();
}
