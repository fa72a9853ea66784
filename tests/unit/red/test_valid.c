/* Validators: checksums (Luhn, IBAN mod-97, GitHub CRC32), number rules
 * (SSN, NINO, IPv4 octets, phone plans, calendar dates) and the secret
 * heuristics, through the validator table and through whole scans. */
#include "red_tests.h"

static red_verdict run(const char *name, const char *text, size_t start, size_t end)
{
    const red_validator *v = red_validator_find(name);
    if (v == NULL)
        return (red_verdict)-1;
    red_vctx c = {.text = text,
                  .len = strlen(text),
                  .start = start,
                  .end = end,
                  .mstart = start,
                  .mend = end};
    return v->fn(&c);
}

static red_verdict whole(const char *name, const char *text)
{
    return run(name, text, 0, strlen(text));
}

static void test_checksums(void)
{
    CHECK(red_luhn_ok("4111111111111111", 16));
    CHECK(!red_luhn_ok("4111111111111112", 16));
    CHECK(red_luhn_ok("378282246310005", 15));
    CHECK(whole("card", "4111 1111 1111 1111") == RED_V_YES);
    CHECK(whole("card", "5555-5555-5555-4444") == RED_V_YES);
    CHECK(whole("card", "2223003122003222") == RED_V_YES);   /* Mastercard 2-series */
    CHECK(whole("card", "6011111111111117") == RED_V_YES);   /* Discover */
    CHECK(whole("card", "3530111333300000") == RED_V_YES);   /* JCB */
    CHECK(whole("card", "4111 1111 1111 1112") == RED_V_NO); /* Luhn */
    CHECK(whole("card", "1234567812345670") == RED_V_NO);    /* Luhn ok, no issuer 12 */
    CHECK(whole("card", "3782822463100050") == RED_V_NO);    /* Amex has 15 digits */

    size_t used = 0;
    const char *ibans[] = {
        "DE89370400440532013000",          "GB29NWBK60161331926819",  "FR1420041010050500013M02606",
        "ES9121000418450200051332",        "NL91ABNA0417164300",      "IT60X0542811101000000123456",
        "CH9300762011623852957",           "BE68539007547034",        "NO9386011117947",
        "MT84MALT011000012345MTLCAST001S", "SA0380000000608010167519"};
    for (size_t i = 0; i < sizeof(ibans) / sizeof(ibans[0]); i++)
        CHECK(red_iban_ok(ibans[i], strlen(ibans[i]), &used) && used == strlen(ibans[i]));
    CHECK(red_iban_ok("DE89 3704 0044 0532 0130 00", 27, &used) && used == 27);
    CHECK(!red_iban_ok("DE89370400440532013001", 22, &used)); /* checksum */
    CHECK(!red_iban_ok("DE8937040044053201300", 21, &used));  /* too short for DE */
    CHECK(!red_iban_ok("XX89370400440532013000", 22, &used)); /* no such country */
    /* the IBAN is trimmed to its country's length; a glued longer token is not one */
    const char *t = "IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX";
    red_vctx c = {.text = t, .len = strlen(t), .start = 5, .end = strlen(t)};
    CHECK(red_validator_find("iban")->fn(&c) == RED_V_YES && c.end == 32);
    CHECK(whole("iban", "DE8937040044053201300012") == RED_V_NO);

    /* ghp_ + 30 random + base62(CRC32(random)) */
    CHECK(red_github_crc_ok("ghp_c1ZP1fn3oHZjzBsbEhFBJGLWvAkJlO2ZGXoN", 40) ||
          !red_github_crc_ok("ghp_c1ZP1fn3oHZjzBsbEhFBJGLWvAkJlO2ZGXoX", 40));
    CHECK(!red_github_crc_ok("ghp_c1ZP1fn3oHZjzBsbEhFBJGLWvAkJlO2ZGXoX", 40));
    CHECK(whole("github", "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX") == RED_V_NO);
    CHECK(whole("github", "ghp_1A2b3C4d5E6f7G8h9I0jKlMnOpQrStUvWxYz") == RED_V_WEAK);
}

static void test_numbers(void)
{
    CHECK(whole("ssn", "536-22-1234") == RED_V_YES);
    CHECK(whole("ssn", "000-22-1234") == RED_V_NO);
    CHECK(whole("ssn", "666-22-1234") == RED_V_NO);
    CHECK(whole("ssn", "912-22-1234") == RED_V_NO);
    CHECK(whole("ssn", "536-00-1234") == RED_V_NO);
    CHECK(whole("ssn", "536-22-0000") == RED_V_NO);
    CHECK(whole("ssn", "536-22 1234") == RED_V_NO); /* mixed separators */
    CHECK(whole("ssn", "111-11-1111") == RED_V_NO);

    CHECK(whole("nino", "AB 12 34 56 C") == RED_V_YES);
    CHECK(whole("nino", "JG103759A") == RED_V_YES);
    CHECK(whole("nino", "QQ123456C") == RED_V_WEAK); /* specimen prefix: context only */
    CHECK(whole("nino", "GB123456A") == RED_V_WEAK);
    CHECK(whole("nino", "AB12345C") == RED_V_NO);

    CHECK(whole("ipv4", "192.168.1.1") == RED_V_YES);
    CHECK(whole("ipv4", "255.255.255.255") == RED_V_YES);
    CHECK(whole("ipv4", "8.8.8.8") == RED_V_YES);
    CHECK(whole("ipv4", "2.5.4.3") == RED_V_WEAK);
    CHECK(whole("ipv4", "256.1.1.1") == RED_V_NO);
    CHECK(whole("ipv4", "10.0.0.300") == RED_V_NO);
    CHECK(whole("ipv4", "010.1.1.1") == RED_V_NO);
    CHECK(run("ipv4", "1.2.840.113549.1", 0, 11) == RED_V_NO); /* part of an OID */
    CHECK(whole("ipv6", "2001:db8::1") == RED_V_YES);
    CHECK(whole("ipv6", "fe80::1c2b:3dff:fe4a:5e6f") == RED_V_YES);
    CHECK(whole("ipv6", "::1") == RED_V_YES);
    CHECK(whole("ipv6", "12:30:45") == RED_V_NO);
    CHECK(whole("ipv6", "00:1a:2b:3c:4d:5e") == RED_V_NO);
    CHECK(whole("ipv6", "a::b") == RED_V_NO);
    CHECK(whole("mac", "00:1A:2B:3C:4D:5E") == RED_V_YES);
    CHECK(whole("mac", "00:1A-2B:3C:4D:5E") == RED_V_NO);

    CHECK(whole("phone", "+49 30 1234567") == RED_V_YES);
    CHECK(whole("phone", "+49 (0)211 8765 432") == RED_V_YES);
    CHECK(whole("phone", "+1 415-555-0132") == RED_V_YES);
    CHECK(whole("phone", "+1-555-123-4567") == RED_V_YES); /* the made-up ones too */
    CHECK(whole("phone", "+1 415-555-013") == RED_V_NO);   /* 9 digits after +1 */
    CHECK(whole("phone", "+33 6 98 76 54 32") == RED_V_YES);
    CHECK(whole("phone", "+33 6 98 76 54 32 11") == RED_V_NO); /* 11 digits after +33 */
    CHECK(whole("phone", "0049 30 1234567") == RED_V_YES);
    CHECK(whole("phone", "(312) 555-0147") == RED_V_YES);
    CHECK(whole("phone", "0171 2345678") == RED_V_YES);
    CHECK(whole("phone", "06 12 34 56 78") == RED_V_YES);
    CHECK(whole("phone", "912 345 678") == RED_V_WEAK); /* Spanish landline: only in context */
    CHECK(whole("phone", "4155550132") == RED_V_WEAK);
    CHECK(whole("phone", "01.04.2024") == RED_V_NO);
    CHECK(whole("phone", "2024-05-17") == RED_V_NO);
    CHECK(whole("phone", "1111111111") == RED_V_NO);

    CHECK(whole("date", "14.03.1978") == RED_V_YES);
    CHECK(whole("date", "1988-11-23") == RED_V_YES);
    CHECK(whole("date", "02/28/1951") == RED_V_YES);
    CHECK(whole("date", "31/02/1980") == RED_V_NO);
    CHECK(whole("date", "14.13.1978") == RED_V_NO);
    CHECK(whole("date", "14.03.1878") == RED_V_NO);
    CHECK(whole("date", "March 3, 1992") == RED_V_YES);
    CHECK(whole("date", "14 de marzo de 2008") == RED_V_YES);
    CHECK(whole("date", "40 March 1992") == RED_V_NO);
}

static void test_secrets(void)
{
    CHECK(red_is_placeholder("${DB_PASSWORD}", 14));
    CHECK(red_is_placeholder("<your-api-key>", 14));
    CHECK(red_is_placeholder("YOUR_API_KEY", 12));
    CHECK(red_is_placeholder("********", 8));
    CHECK(red_is_placeholder("os.environ[", 11));
    CHECK(red_is_placeholder("req.body.password", 17));
    CHECK(red_is_placeholder("null", 4));
    CHECK(!red_is_placeholder("Xk9mP2vLq7", 10));
    CHECK(!red_is_placeholder("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 40));
    CHECK(red_entropy("aaaaaaaa", 8) < 0.01);
    CHECK(red_entropy("abcdefgh", 8) > 2.99 && red_entropy("abcdefgh", 8) < 3.01);

    CHECK(whole("aws_secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == RED_V_YES);
    CHECK(whole("aws_secret", "3f786850e387550fdab836ed7e6dc881de23001b") == RED_V_NO);
    CHECK(whole("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc") == RED_V_YES);
    CHECK(whole("jwt", "eyJxxxxxxxxxxxxxxx.eyJyyyyyyy.zz") == RED_V_NO);
    CHECK(whole("email", "jane.doe@example.com") == RED_V_YES);
    CHECK(whole("email", "logo@2x.png") == RED_V_NO);
    CHECK(whole("email", "a..b@example.com") == RED_V_NO);
    CHECK(whole("password", "Tr0ub4dor&3") == RED_V_YES);
    CHECK(whole("password", "correct") == RED_V_NO);
    CHECK(whole("password", "forgotten") == RED_V_NO);
    CHECK(whole("password", "abc12") == RED_V_NO); /* too short */
    /* assignments: the key decides (x_id is an identifier, x_ttl a duration) */
    const char *t1 = "private_key_id: 3f786850e387550fdab836ed7e6dc881";
    red_vctx c = {.text = t1, .len = strlen(t1), .mstart = 0, .start = 16, .end = strlen(t1)};
    CHECK(red_validator_find("secret")->fn(&c) == RED_V_NO);
    const char *t2 = "api_secret: 3f786850e387550fdab836ed7e6dc881";
    red_vctx d = {.text = t2, .len = strlen(t2), .mstart = 4, .start = 12, .end = strlen(t2)};
    CHECK(red_validator_find("secret")->fn(&d) == RED_V_YES);
    CHECK(red_validator_find("no-such-validator") == NULL);
}

/* whole scans: look-alikes from the issue stay untouched */
static void test_lookalikes(void)
{
    static const char *const clean[] = {
        "order ORD-2024-000123 shipped",
        "uuid 123e4567-e89b-12d3-a456-426614174000 created",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",
        "sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "at 2024-05-17T08:13:22.481Z and 1715939602",
        "version 2.14.3 and build 10.0.19045.4412",
        "card 4111 1111 1111 1112 fails Luhn",
        "IBAN DE89 3704 0044 0532 0130 01 has a bad checksum",
        "host 256.12.4.1 is not an address",
        "ISBN 978-3-16-148410-0 and 978-0-306-40615-7",
        "UPS 1Z 999 AA1 01 2345 6784 and DHL JD014600003828120000",
        "password: ${DB_PASSWORD} and api_key: {{ .Values.key }}",
    };
    for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
        const char *got = t_findings(clean[i]);
        check_count++;
        if (got[0] != '\0') {
            check_failures++;
            fprintf(stderr, "%s:%d: look-alike found: \"%s\" -> %s\n", __FILE__, __LINE__, clean[i],
                    got);
        }
    }
    CHECK_STR_EQ(t_findings("SSN 536-22-1234, IBAN GB29NWBK60161331926819"),
                 "US_SSN:4-15 IBAN:22-44");
}

void test_valid(void)
{
    test_checksums();
    test_numbers();
    test_secrets();
    test_lookalikes();
}
