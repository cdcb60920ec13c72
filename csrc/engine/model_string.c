/* RouteLLM's model strings in C, to the letter of fastroute/decision/model_string.py:
 * router-<router>-<threshold> or router-<router>-<percent>%, <threshold> and <percent> plain
 * ASCII decimals with an optional exponent, compared with their bounds exactly (as decimals),
 * rounded to a double once; the same refusals with the same messages.
 * tests/conformance/model_strings.json is the table both sides are tested against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fre.h"

static const char FRE_SYNTAX[] =
    "'router-<router>-<threshold>' with a decimal threshold in [0, 1], e.g. 'router-mf-0.11593', or "
    "'router-<router>-<percent>%' for a share of strong-model calls, e.g. 'router-mf-50%'";

/* The length of the longest prefix of s that is a NUMBER ([0-9]+(.[0-9]*)?|.[0-9]+ then an
 * optional exponent), or 0. */
static size_t fre_number_len(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        size_t j = i + 1, frac = 0;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++, frac++;
        if (digits == 0 && frac == 0)
            return 0;
        i = j;
    } else if (digits == 0) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        const size_t k = j;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j > k)
            i = j;
    }
    return i;
}

/* Whether tail fully matches [+-]?NUMBER%? ; its parts when it does. */
static int fre_tail(const char *s, size_t n, char *sign, const char **num, size_t *num_len, int *pct)
{
    size_t i = 0;
    *sign = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        *sign = s[i++];
    const size_t k = fre_number_len(s + i, n - i);
    if (!k)
        return 0;
    *num = s + i;
    *num_len = k;
    i += k;
    *pct = 0;
    if (i < n && s[i] == '%')
        *pct = 1, i++;
    return i == n;
}

/* Python's str.strip() would change the name (Unicode whitespace at an end), or it holds a
 * control character of [\x00-\x1f\x7f-\x9f\u2028\u2029]. */
static int fre_bad_router_name(const char *r, size_t n)
{
    const unsigned char *u = (const unsigned char *)r;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return 1;
        if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
            return 1;
        if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
            return 1;
    }
    /* whitespace at either end: ASCII, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028/9,
     * U+202F, U+205F, U+3000 (Python's str.isspace) */
    static const char *const WS[] = {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
                                     "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
                                     "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xaf",
                                     "\xe2\x81\x9f", "\xe3\x80\x80", "\x1c", "\x1d", "\x1e", "\x1f"};
    if (n && (u[0] == ' ' || u[n - 1] == ' ' || (u[0] >= 0x09 && u[0] <= 0x0d) ||
              (u[n - 1] >= 0x09 && u[n - 1] <= 0x0d)))
        return 1;
    for (size_t w = 0; w < sizeof WS / sizeof WS[0]; w++) {
        const size_t k = strlen(WS[w]);
        if (n >= k && (memcmp(r, WS[w], k) == 0 || memcmp(r + n - k, WS[w], k) == 0))
            return 1;
    }
    return 0;
}

/* The number as significant digits and a power of ten: value = digits * 10^exp10. */
static void fre_decimal(const char *num, size_t n, char *digits, size_t cap, long *exp10)
{
    size_t nd = 0;
    long frac = 0, e = 0;
    int in_frac = 0;
    size_t i = 0;
    for (; i < n && num[i] != 'e' && num[i] != 'E'; i++) {
        if (num[i] == '.') {
            in_frac = 1;
            continue;
        }
        if (nd == 0 && num[i] == '0') { /* leading zeros */
            if (in_frac)
                frac++;
            continue;
        }
        if (nd + 1 < cap)
            digits[nd++] = num[i];
        else if (!in_frac)
            e++; /* beyond the buffer: only the magnitude matters (and it is refused as too long) */
        if (in_frac)
            frac++;
    }
    digits[nd] = '\0';
    if (i < n) {
        const long x = strtol(num + i + 1, NULL, 10);
        e += x > 100000 ? 100000 : (x < -100000 ? -100000 : x);
    }
    *exp10 = e - frac;
}

/* digits * 10^exp10 compared with an integer `top` (1 or 100): -1, 0 or 1. */
static int fre_decimal_cmp(const char *digits, long exp10, const char *top)
{
    size_t nd = strlen(digits);
    while (nd > 1 && digits[nd - 1] == '0') /* trailing zeros into the exponent */
        nd--, exp10++;
    if (nd == 1 && digits[0] == '\0')
        nd = 0;
    if (nd == 0 || (nd == 1 && digits[0] == '0'))
        return -1; /* zero */
    const long order = (long)nd + exp10, top_order = (long)strlen(top);
    if (order != top_order)
        return order > top_order ? 1 : -1;
    for (long k = 0; k < top_order; k++) {
        const char a = k < (long)nd ? digits[k] : '0';
        if (a != top[k])
            return a > top[k] ? 1 : -1;
    }
    return (long)nd > top_order ? 1 : 0;
}

static int fre_is_zero(const char *digits) { return digits[0] == '\0'; }

FASTROUTE_EXPORT int fastroute_parse_model_string(const char *model, size_t len, fastroute_model_string *out,
                                                  fastroute_error *err)
{
    fre_clear(err);
    if (!model || !out)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_parse_model_string: NULL argument");
    char repr[700]; /* Python's repr of the model, for the messages: made only on a refusal */
#define FRE_REPR() fre_py_repr(model, len < 256 ? len : 256, repr, sizeof repr)
    if (len > 256)
        return fre_fail(err, FASTROUTE_E_MODEL, "model strings are at most 256 bytes here; expected %s", FRE_SYNTAX);
    if (len < 7 || memcmp(model, "router-", 7) != 0)
        return FRE_REPR(), fre_fail(err, FASTROUTE_E_MODEL, "%s is not a router model string; expected %s", repr, FRE_SYNTAX);
    const char *rest = model + 7;
    const size_t rn = len - 7;
    char sign = 0;
    const char *num = NULL;
    size_t num_len = 0, split = 0;
    int pct = 0;
    for (size_t i = 1; i < rn; i++) /* the router is the shortest prefix after which a number ends it */
        if (rest[i] == '-' && fre_tail(rest + i + 1, rn - i - 1, &sign, &num, &num_len, &pct)) {
            split = i;
            break;
        }
    if (!split) {
        size_t dash = rn;
        for (size_t i = rn; i > 0; i--)
            if (rest[i - 1] == '-') {
                dash = i - 1;
                break;
            }
        FRE_REPR();
        if (dash == rn)
            return fre_fail(err, FASTROUTE_E_MODEL, "%s names no threshold; expected %s", repr, FRE_SYNTAX);
        if (dash == 0)
            return fre_fail(err, FASTROUTE_E_MODEL, "%s names no router; expected %s", repr, FRE_SYNTAX);
        char tail[700];
        fre_py_repr(rest + dash + 1, rn - dash - 1, tail, sizeof tail);
        return fre_fail(err, FASTROUTE_E_MODEL, "%s: threshold %s is not a plain decimal number; expected %s", repr, tail,
                        FRE_SYNTAX);
    }
    if (fre_bad_router_name(rest, split)) {
        FRE_REPR();
        char rrepr[700];
        fre_py_repr(rest, split, rrepr, sizeof rrepr);
        return fre_fail(err, FASTROUTE_E_MODEL,
                        "%s: router name %s is empty, padded with whitespace or holds control characters; expected %s",
                        repr, rrepr, FRE_SYNTAX);
    }
    const char *what = pct ? "percent" : "threshold", *top = pct ? "100" : "1";
    char raw[300], digits[300];
    snprintf(raw, sizeof raw, "%.*s", (int)num_len, num);
    long exp10;
    fre_decimal(raw, num_len, digits, sizeof digits, &exp10);
    if (sign || fre_decimal_cmp(digits, exp10, top) > 0)
        FRE_REPR();
    if (sign == '-' && !fre_is_zero(digits))
        return fre_fail(err, FASTROUTE_E_MODEL, "%s: %s -%s is negative; it must be in [0, %s]", repr, what, raw, top);
    if (sign)
        return fre_fail(err, FASTROUTE_E_MODEL, "%s: %s %c%s has a sign; expected %s", repr, what, sign, raw, FRE_SYNTAX);
    if (!fre_is_zero(digits) && fre_decimal_cmp(digits, exp10, top) > 0)
        return fre_fail(err, FASTROUTE_E_MODEL, "%s: %s %s is above %s; it must be in [0, %s]", repr, what, raw, top, top);
    double value;
    if (fre_is_zero(digits)) {
        value = 0.0;
    } else { /* one correct rounding of the exact decimal (divided by 100 for a percent) */
        char exact[340];
        snprintf(exact, sizeof exact, "%se%ld", digits, exp10 - (pct ? 2 : 0));
        value = strtod(exact, NULL);
    }
    if (value == 0.0 && !fre_is_zero(digits))
        return FRE_REPR(), fre_fail(err, FASTROUTE_E_MODEL,
                        "%s: %s %s is too small for a float64 (it would become 0); write 0 if that is meant", repr, what,
                        raw);
#undef FRE_REPR
    out->router = rest;
    out->router_len = split;
    out->is_share = pct;
    out->value = value;
    return FASTROUTE_OK;
}
