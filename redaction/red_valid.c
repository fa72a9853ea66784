/* Validators for numbers and network identifiers: Luhn and issuer ranges for
 * cards, ISO 13616 mod-97 with each country's length for IBANs, SSA rules for
 * US SSNs, HMRC prefix rules for NINOs, octet ranges for IPv4, inet_pton for
 * IPv6, separator consistency for MACs, numbering-plan lengths for phones and
 * calendar checks for birth dates. Secrets live in red_valid_secret.c. */
#include "redaction/red_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_alnum_c(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* Digits of [s, s+n) into d (at most cap); returns their count, or cap+1 when more. */
static size_t digits_of(const char *s, size_t n, char *d, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (is_digit(s[i])) {
            if (k == cap)
                return cap + 1;
            d[k++] = s[i];
        }
    return k;
}

static unsigned num_of(const char *d, size_t n)
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
    unsigned p2 = num_of(d, 2), p3 = num_of(d, 3), p4 = num_of(d, 4), p6 = num_of(d, 6);
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

static red_verdict v_card(red_vctx *v)
{
    char d[24];
    size_t n = digits_of(v->text + v->start, v->end - v->start, d, 19);
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
    if (want == 0 || !is_digit(s[2]) || !is_digit(s[3]))
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
        if (is_digit(ch))
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
    if (digits_of(s, n, d, 9) != 9)
        return RED_V_NO;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) {
            if (sep != 0 && s[i] != sep)
                return RED_V_NO;
            sep = s[i];
        }
    unsigned area = num_of(d, 3), group = num_of(d + 3, 2), serial = num_of(d + 5, 4);
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

/* Four octets 0-255 without leading zeros, not part of a longer dotted run. */
static red_verdict v_ipv4(red_vctx *v)
{
    const char *t = v->text;
    size_t s = v->start, e = v->end;
    if (s >= 2 && t[s - 1] == '.' && is_digit(t[s - 2]))
        return RED_V_NO;
    if (e + 1 < v->len && t[e] == '.' && is_digit(t[e + 1]))
        return RED_V_NO;
    unsigned octets = 0, small = 0;
    bool is_same = true;
    size_t i = s;
    while (i < e) {
        size_t j = i;
        unsigned val = 0;
        while (j < e && is_digit(t[j]))
            val = val * 10 + (unsigned)(t[j++] - '0');
        size_t nd = j - i;
        if (nd == 0 || nd > 3 || val > 255 || (nd > 1 && t[i] == '0'))
            return RED_V_NO;
        octets++;
        small += nd == 1;
        is_same &= nd == 1 && t[i] == t[s];
        if (j < e && t[j] != '.')
            return RED_V_NO;
        i = j + 1;
    }
    if (octets != 4)
        return RED_V_NO;
    /* 2.5.4.3 is more often an OID or a version than a host; 8.8.8.8 is a host */
    return small == 4 && !is_same ? RED_V_WEAK : RED_V_YES;
}

static red_verdict v_ipv6(red_vctx *v)
{
    size_t n = v->end - v->start;
    char buf[64];
    unsigned char addr[16];
    if (n < 3 || n >= sizeof(buf))
        return RED_V_NO;
    memcpy(buf, v->text + v->start, n);
    buf[n] = '\0';
    char *pct = strchr(buf, '%'); /* zone id */
    if (pct != NULL)
        *pct = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return RED_V_NO;
    size_t groups = 0, longest = 0, cur = 0;
    for (const char *p = buf;; p++) {
        if (isxdigit((unsigned char)*p) || *p == '.') {
            cur++;
            continue;
        }
        if (cur > 0) {
            groups++;
            if (cur > longest)
                longest = cur;
        }
        cur = 0;
        if (*p == '\0')
            break;
    }
    if (strstr(buf, "::") == NULL || groups >= 3 || (groups == 2 && longest >= 3))
        return RED_V_YES;
    return strcmp(buf, "::1") == 0 ? RED_V_YES : RED_V_NO;
}

static red_verdict v_mac(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char sep = 0;
    size_t hex = 0;
    for (size_t i = 0; i < n; i++) {
        if (isxdigit((unsigned char)s[i])) {
            hex++;
        } else {
            if (sep != 0 && s[i] != sep)
                return RED_V_NO;
            sep = s[i];
        }
    }
    return hex == 12 ? RED_V_YES : RED_V_NO;
}

/* ---- phone numbers ----------------------------------------------------- */

typedef struct cc_plan {
    unsigned short cc;
    unsigned char min, max; /* national significant number length */
} cc_plan;

static const cc_plan cc_plans[] = {
    {1, 10, 10},  {7, 10, 10},  {20, 9, 10},  {27, 9, 9},   {30, 10, 10}, {31, 9, 9},  {32, 8, 9},
    {33, 9, 9},   {34, 9, 9},   {36, 8, 9},   {39, 6, 11},  {40, 9, 9},   {41, 9, 9},  {43, 4, 13},
    {44, 9, 10},  {45, 8, 8},   {46, 7, 10},  {47, 8, 8},   {48, 9, 9},   {49, 5, 13}, {51, 8, 9},
    {52, 10, 10}, {54, 10, 11}, {55, 10, 11}, {56, 9, 9},   {57, 10, 10}, {60, 8, 10}, {61, 9, 9},
    {62, 8, 12},  {63, 8, 10},  {64, 8, 10},  {65, 8, 8},   {66, 8, 9},   {81, 9, 10}, {82, 8, 10},
    {84, 9, 10},  {86, 10, 11}, {90, 10, 10}, {91, 10, 10}, {92, 9, 10},  {212, 9, 9}, {216, 8, 8},
    {234, 8, 10}, {254, 9, 9},  {351, 9, 9},  {352, 6, 11}, {353, 7, 9},  {354, 7, 9}, {356, 8, 8},
    {357, 8, 8},  {358, 5, 12}, {359, 8, 9},  {370, 8, 8},  {371, 8, 8},  {372, 7, 8}, {380, 9, 9},
    {385, 8, 9},  {386, 8, 8},  {420, 9, 9},  {421, 9, 9},  {852, 8, 8},  {886, 8, 9}, {966, 9, 9},
    {971, 8, 9},  {972, 8, 9},  {974, 8, 8},
};

/* Lengths of country codes: 1 and 7 are one digit, the rest follow ITU zones. */
static size_t cc_len(const char *d, size_t n)
{
    if (n < 1)
        return 0;
    if (d[0] == '1' || d[0] == '7')
        return 1;
    if (n < 2)
        return 0;
    static const char *const two[] = {
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
    for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
        if (d[0] == two[i][0] && d[1] == two[i][1])
            return 2;
    return n >= 3 ? 3 : 0;
}

static bool intl_ok(const char *d, size_t n)
{
    size_t cl = cc_len(d, n);
    if (cl == 0 || n <= cl)
        return false;
    unsigned cc = num_of(d, cl);
    size_t nsn = n - cl;
    for (size_t i = 0; i < sizeof(cc_plans) / sizeof(cc_plans[0]); i++)
        if (cc_plans[i].cc == cc) {
            return nsn >= cc_plans[i].min && nsn <= cc_plans[i].max;
        }
    return n >= 8 && n <= 15;
}

/* Two groups of 2 + 4 digits around two same separators, or a year first: a date. */
static bool looks_like_date(const char *s, size_t n)
{
    size_t g[4] = {0}, ng = 0;
    char seps[3] = {0};
    for (size_t i = 0; i < n && ng < 4; i++) {
        if (is_digit(s[i])) {
            g[ng]++;
        } else if (g[ng] > 0) {
            if (ng < 3)
                seps[ng] = s[i];
            ng++;
        }
    }
    if (ng < 4 && g[ng] > 0)
        ng++;
    if (ng != 3 || seps[0] != seps[1] || seps[0] == ' ')
        return false;
    return (g[0] <= 2 && g[1] <= 2 && g[2] == 4) || (g[0] == 4 && g[1] <= 2 && g[2] <= 2);
}

/* International numbers need a plausible plan; national ones a plausible
 * length and grouping; bare digit runs count only with a phone word near. */
static red_verdict v_phone(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char d[24];
    size_t nd = digits_of(s, n, d, 20);
    if (nd < 7 || nd > 15)
        return RED_V_NO;
    bool is_same = true;
    for (size_t i = 1; i < nd; i++)
        is_same &= d[i] == d[0];
    if (is_same || looks_like_date(s, n))
        return RED_V_NO;
    size_t seps = 0;
    for (size_t i = 0; i < n; i++)
        seps += !is_digit(s[i]) && s[i] != '+';
    bool is_intl = s[0] == '+' || (nd > 2 && d[0] == '0' && d[1] == '0' && s[0] == '0');
    if (is_intl) {
        const char *p = d;
        size_t k = nd;
        if (s[0] != '+') {
            p += 2;
            k -= 2;
        }
        /* "+49 (0)30 ...": the bracketed trunk zero is not dialled */
        const char *z = memmem(s, n, "(0)", 3);
        char tmp[24];
        size_t before = z ? digits_of(s, (size_t)(z - s), tmp, 20) : 0;
        if (z != NULL && s[0] != '+')
            before = before >= 2 ? before - 2 : k;
        if (z != NULL && before < k) {
            memcpy(tmp, p, before);
            memcpy(tmp + before, p + before + 1, k - before - 1);
            p = tmp;
            k--;
        }
        return intl_ok(p, k) ? RED_V_YES : RED_V_NO;
    }
    if (seps == 0)
        return RED_V_WEAK;
    if (d[0] == '0')
        return nd >= 9 && nd <= 12 ? RED_V_YES : RED_V_WEAK;
    /* 3-3-4 with separators or (xxx) is how US numbers are written, also
     * the made-up ones (555-123-4567) people put in prompts */
    if (nd == 10 || (nd == 11 && d[0] == '1'))
        return s[0] == '(' || seps >= 2 ? RED_V_YES : RED_V_WEAK;
    return RED_V_WEAK;
}

/* ---- dates of birth ------------------------------------------------------ */

static bool dm_ok(unsigned d, unsigned m)
{
    static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m >= 1 && m <= 12 && d >= 1 && d <= mdays[m];
}

/* Numeric forms are checked as a calendar date (d/m/y, m/d/y or y-m-d);
 * forms with a month name only need a plausible day and year. */
static red_verdict v_date(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    unsigned num[3] = {0}, len[3] = {0};
    size_t k = 0;
    bool has_alpha = false;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i])) {
            if (k < 3) {
                num[k] = num[k] * 10 + (unsigned)(s[i] - '0');
                len[k]++;
            }
        } else {
            if (isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
                has_alpha = true;
            if (k < 3 && len[k] > 0)
                k++;
        }
    }
    if (k < 3 && len[k] > 0)
        k++;
    if (has_alpha) {
        for (size_t i = 0; i < k; i++)
            if (len[i] > 2 && (num[i] < 1900 || num[i] > 2030))
                return RED_V_NO;
            else if (len[i] <= 2 && num[i] > 31)
                return RED_V_NO;
        return k >= 1 ? RED_V_YES : RED_V_NO;
    }
    if (k != 3)
        return RED_V_NO;
    if (len[0] == 4)
        return num[0] >= 1900 && num[0] <= 2030 && dm_ok(num[2], num[1]) ? RED_V_YES : RED_V_NO;
    unsigned y = num[2];
    if (len[2] == 2)
        y += 1900;
    else if (len[2] != 4 || y < 1900 || y > 2030)
        return RED_V_NO;
    return dm_ok(num[0], num[1]) || dm_ok(num[1], num[0]) ? RED_V_YES : RED_V_NO;
}

const red_validator red_validators[] = {
    {"card", v_card},
    {"iban", v_iban},
    {"ssn", v_ssn},
    {"nino", v_nino},
    {"ipv4", v_ipv4},
    {"ipv6", v_ipv6},
    {"mac", v_mac},
    {"phone", v_phone},
    {"date", v_date},
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
