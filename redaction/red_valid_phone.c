/* Phone numbers: E.164 country plans and lengths, NANP shape, trunk-0
 * national lengths, dates refused; bare digit runs only with context (a phone
 * word near, or a column or key that names a phone). */
#include "redaction/red_valid.h"

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
    unsigned cc = red_num_of(d, cl);
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
        if (red_is_digit(s[i])) {
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

/* The digits continue a code that mixes letters and digits, joined by one
 * space: "1Z 999 AA1 01 2345 6784" is a UPS tracking number, not a phone. */
static bool is_code_tail(const red_vctx *v)
{
    const char *t = v->text;
    size_t i = v->start;
    if (i < 2 || t[i - 1] != ' ')
        return false;
    size_t e = i - 1, b = e;
    while (b > 0 && isalnum((unsigned char)t[b - 1]) && e - b < 12)
        b--;
    bool has_alpha = false, has_digit = false;
    for (size_t k = b; k < e; k++) {
        has_alpha |= isalpha((unsigned char)t[k]) != 0;
        has_digit |= red_is_digit(t[k]);
    }
    return has_alpha && has_digit;
}

/* International numbers need a plausible plan; national ones a plausible
 * length and grouping; bare digit runs count only with a phone word near. */
red_verdict red_v_phone(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char d[24];
    size_t nd = red_digits_of(s, n, d, 20);
    if (nd < 7 || nd > 15)
        return RED_V_NO;
    bool is_same = true;
    for (size_t i = 1; i < nd; i++)
        is_same &= d[i] == d[0];
    if (is_same || looks_like_date(s, n))
        return RED_V_NO;
    size_t seps = 0;
    for (size_t i = 0; i < n; i++)
        seps += !red_is_digit(s[i]) && s[i] != '+';
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
        size_t before = z ? red_digits_of(s, (size_t)(z - s), tmp, 20) : 0;
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
    if (is_code_tail(v))
        return RED_V_NO;
    red_verdict vd = RED_V_WEAK;
    if (seps == 0)
        vd = RED_V_WEAK;
    else if (d[0] == '0')
        vd = nd >= 9 && nd <= 12 ? RED_V_YES : RED_V_WEAK;
    /* 3-3-4 with separators or (xxx) is how US numbers are written, also
     * the made-up ones (555-123-4567) people put in prompts */
    else if (nd == 10 || (nd == 11 && d[0] == '1'))
        vd = s[0] == '(' || seps >= 2 ? RED_V_YES : RED_V_WEAK;
    /* a bare number under a phone column or key (telefono,Phone,"mobile":) */
    if (vd == RED_V_WEAK && nd >= 8 && red_field_is(v, red_name_is_phone))
        vd = RED_V_YES;
    return vd;
}
