/* Validators for numbers and network identifiers: Luhn and issuer ranges for
 * cards, ISO 13616 mod-97 with each country's length for IBANs, SSA rules for
 * US SSNs, HMRC prefix rules for NINOs; and the registry of all validators.
 * Network ids and e-mail: red_valid_net.c; phones: red_valid_phone.c; dates
 * and field context: red_valid_field.c; assigned secrets and placeholders:
 * red_valid_secret.c; token formats: red_valid_token.c. */
#include "redaction/red_valid.h"

static inline bool is_alnum_c(char c)
{
    return isalnum((unsigned char)c) != 0;
}

size_t red_digits_of(const char *s, size_t n, char *d, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (red_is_digit(s[i])) {
            if (k == cap)
                return cap + 1;
            d[k++] = s[i];
        }
    return k;
}

unsigned red_num_of(const char *d, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

bool red_luhn_ok(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* Issuer ranges (IIN) and lengths of the card schemes in use. */
static bool card_iin_ok(const char *d, size_t n)
{
    unsigned p2 = red_num_of(d, 2), p3 = red_num_of(d, 3), p4 = red_num_of(d, 4), p6 = red_num_of(d, 6);
    if (d[0] == '4')
        return n == 13 || n == 16 || n == 19;                 /* Visa */
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
        return n == 16;
    if (p2 == 34 || p2 == 37) /* Amex */
        return n == 15;
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
        return n >= 16 && n <= 19; /* Discover */
    if (p4 >= 3528 && p4 <= 3589)  /* JCB */
        return n >= 16 && n <= 19;
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) /* Diners */
        return n >= 14 && n <= 19;
    if (p2 == 62 || p2 == 81) /* UnionPay */
        return n >= 16 && n <= 19;
    if (p4 >= 2200 && p4 <= 2204) /* Mir */
        return n >= 16 && n <= 19;
    if (p2 == 50 || (p2 >= 56 && p2 <= 69)) /* Maestro */
        return n >= 12 && n <= 19;
    return false;
}

/* The digits are groups of an IBAN (FR14 2004 1010 0505 0001 3M02 606 with a
 * bad checksum is still no card): walk back over 4-character groups to a
 * country code and check digits. */
static bool is_in_iban(const red_vctx *v)
{
    const char *t = v->text;
    size_t p = v->start;
    for (int g = 0; g < 8; g++) {
        if (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '-'))
            p--;
        if (p < 4)
            return false;
        const char *q = t + p - 4;
        if (isupper((unsigned char)q[0]) && isupper((unsigned char)q[1]) && red_is_digit(q[2]) &&
            red_is_digit(q[3]))
            return p == 4 || !is_alnum_c(q[-1]);
        for (int k = 0; k < 4; k++)
            if (!red_is_digit(q[k]) && !isupper((unsigned char)q[k]))
                return false;
        if (p == 4 || (q[-1] != ' ' && q[-1] != '-'))
            return false;
        p -= 4;
    }
    return false;
}

static red_verdict v_card(red_vctx *v)
{
    if (is_in_iban(v))
        return RED_V_NO;
    char d[24];
    size_t n = red_digits_of(v->text + v->start, v->end - v->start, d, 19);
    if (n < 13 || n > 19 || !card_iin_ok(d, n) || !red_luhn_ok(d, n))
        return RED_V_NO;
    return RED_V_YES;
}

typedef struct iban_country {
    char cc[3];
    unsigned char len;
} iban_country;

/* SWIFT IBAN registry lengths (plus the partner countries that publish IBANs). */
static const iban_country iban_table[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AO", 25}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BF", 28}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BJ", 28}, {"BR", 29}, {"BY", 28}, {"CF", 27},
    {"CG", 27}, {"CH", 21}, {"CI", 28}, {"CM", 27}, {"CR", 22}, {"CV", 25}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"DZ", 26}, {"EE", 20}, {"EG", 29}, {"ES", 24},
    {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GA", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
    {"GL", 18}, {"GQ", 27}, {"GR", 27}, {"GT", 28}, {"GW", 25}, {"HN", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IR", 26}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KM", 27},
    {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
    {"LY", 25}, {"MA", 28}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MG", 27}, {"MK", 19}, {"ML", 28},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"MZ", 25}, {"NE", 28}, {"NI", 28}, {"NL", 18},
    {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24},
    {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24},
    {"SM", 27}, {"SN", 28}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TD", 27}, {"TG", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

static unsigned iban_len(char a, char b)
{
    a = (char)toupper((unsigned char)a);
    b = (char)toupper((unsigned char)b);
    for (size_t i = 0; i < sizeof(iban_table) / sizeof(iban_table[0]); i++)
        if (iban_table[i].cc[0] == a && iban_table[i].cc[1] == b)
            return iban_table[i].len;
    return 0;
}

/* s[0,n) holds an IBAN with optional single spaces or dashes between
 * characters; *used gets the bytes the country's length takes. */
bool red_iban_ok(const char *s, size_t n, size_t *used)
{
    if (n < 4)
        return false;
    unsigned want = iban_len(s[0], s[1]);
    if (want == 0 || !red_is_digit(s[2]) || !red_is_digit(s[3]))
        return false;
    char c[40];
    size_t k = 0, i = 0;
    for (; i < n && k < want; i++) {
        if (is_alnum_c(s[i]))
            c[k++] = (char)toupper((unsigned char)s[i]);
        else if (s[i] != ' ' && s[i] != '-')
            return false;
    }
    if (k < want)
        return false;
    /* the IBAN ends at a group boundary, not inside a longer token */
    if (i < n && is_alnum_c(s[i]) && !(s[i - 1] == ' ' || s[i - 1] == '-'))
        return false;
    unsigned rem = 0;
    for (size_t j = 0; j < want; j++) {
        char ch = c[(j + 4) % want];
        if (red_is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else if (ch >= 'A' && ch <= 'Z')
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            return false;
    }
    *used = i;
    return rem == 1;
}

static red_verdict v_iban(red_vctx *v)
{
    size_t used;
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    if (!red_iban_ok(s, n, &used))
        return RED_V_NO;
    v->end = v->start + used;
    while (v->end > v->start && (v->text[v->end - 1] == ' ' || v->text[v->end - 1] == '-'))
        v->end--;
    return RED_V_YES;
}

/* SSA rules: area 001-899 but not 666, group 01-99, serial 0001-9999; one separator kind. */
static red_verdict v_ssn(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char d[12], sep = 0;
    if (red_digits_of(s, n, d, 9) != 9)
        return RED_V_NO;
    for (size_t i = 0; i < n; i++)
        if (!red_is_digit(s[i])) {
            if (sep != 0 && s[i] != sep)
                return RED_V_NO;
            sep = s[i];
        }
    unsigned area = red_num_of(d, 3), group = red_num_of(d + 3, 2), serial = red_num_of(d + 5, 4);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return RED_V_NO;
    bool is_same = true;
    for (int i = 1; i < 9; i++)
        is_same &= d[i] == d[0];
    return is_same ? RED_V_NO : RED_V_YES;
}

/* HMRC: first letter not D F I Q U V, second not D F I O Q U V, and not
 * BG GB KN NK NT TN ZZ. Specimen-like prefixes (QQ) count only in context. */
static red_verdict v_nino(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char c[10];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 10; i++)
        if (s[i] != ' ')
            c[k++] = (char)toupper((unsigned char)s[i]);
    if (k != 9)
        return RED_V_NO;
    if (islower((unsigned char)s[0]) || islower((unsigned char)s[1]))
        return RED_V_WEAK; /* typed in lower case: only where a NINO is talked about */
    if (strchr("DFIQUV", c[0]) != NULL || strchr("DFIOQUV", c[1]) != NULL)
        return RED_V_WEAK;
    static const char *const bad[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (c[0] == bad[i][0] && c[1] == bad[i][1])
            return RED_V_WEAK;
    return RED_V_YES;
}

const red_validator red_validators[] = {
    {"card", v_card},
    {"iban", v_iban},
    {"ssn", v_ssn},
    {"nino", v_nino},
    {"ipv4", red_v_ipv4},
    {"ipv6", red_v_ipv6},
    {"mac", red_v_mac},
    {"phone", red_v_phone},
    {"date", red_v_date},
    {"dob_field", red_v_dob_field},
    {"email", red_v_email},
    {"github", red_v_github},
    {"jwt", red_v_jwt},
    {"pem", red_v_pem},
    {"secret", red_v_secret},
    {"password", red_v_password},
    {"credential", red_v_credential},
    {"aws_secret", red_v_aws_secret},
    {NULL, NULL},
};

const red_validator *red_validator_find(const char *name)
{
    for (const red_validator *p = red_validators; p->name != NULL; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}
