/*
 * bignum.c - the little arithmetic terms need: integers of any size to and
 * from text, comparing them with floats, and Erlang's float text.
 *
 * Quadratic schoolbook conversions: terms carry big integers rarely and
 * small ones mostly, and a simple loop is easy to trust.
 */
#include "node/term/etf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gv_alloc.h"

char *gv_big_to_decimal(bool negative, const uint8_t *mag, size_t n)
{
    /* Base-1e9 limbs, most significant first, divided down repeatedly. */
    size_t nlimbs = (n + 3) / 4;
    uint32_t *limbs = gv_malloc((nlimbs ? nlimbs : 1) * sizeof *limbs);
    for (size_t i = 0; i < nlimbs; i++) {
        uint32_t v = 0;
        for (size_t k = 4; k-- > 0;) {
            size_t at = 4 * (nlimbs - 1 - i) + k;
            v = v << 8 | (at < n ? mag[at] : 0);
        }
        limbs[i] = v;
    }
    /* 8 bits give at most 2.41 digits: size the text generously. */
    size_t cap = n * 3 + 3;
    char *out = gv_malloc(cap);
    size_t len = 0;
    size_t first = 0;
    while (first < nlimbs && limbs[first] == 0)
        first++;
    while (first < nlimbs) {
        uint64_t rem = 0;
        for (size_t i = first; i < nlimbs; i++) {
            uint64_t cur = rem << 32 | limbs[i];
            limbs[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (first < nlimbs && limbs[first] == 0)
            first++;
        for (int d = 0; d < 9; d++) {
            out[len++] = (char)('0' + rem % 10);
            rem /= 10;
            if (first == nlimbs && rem == 0)
                break;
        }
    }
    if (len == 0)
        out[len++] = '0';
    if (negative && !(len == 1 && out[0] == '0'))
        out[len++] = '-';
    for (size_t i = 0; i < len / 2; i++) {
        char c = out[i];
        out[i] = out[len - 1 - i];
        out[len - 1 - i] = c;
    }
    out[len] = '\0';
    gv_free(limbs);
    return out;
}

static int s_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

bool gv_big_from_digits(const char *digits, size_t len, unsigned base, uint8_t **mag, size_t *n)
{
    if (len == 0 || base < 2 || base > 36)
        return false;
    size_t cap = len - len / 4 + 2; /* each digit adds at most 6 bits */
    uint8_t *m = gv_calloc(cap, 1);
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        int d = s_digit(digits[i]);
        if (d >= (int)base) {
            gv_free(m);
            return false;
        }
        unsigned carry = (unsigned)d;
        for (size_t k = 0; k < used; k++) {
            unsigned v = m[k] * base + carry;
            m[k] = (uint8_t)v;
            carry = v >> 8;
        }
        while (carry) {
            m[used++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    *mag = m;
    *n = used;
    return true;
}

int gv_big_cmp_double(bool negative, const uint8_t *mag, size_t n, double d)
{
    /* Erlang's rule: below 2^53 in magnitude the float is the more precise
     * and the integer is converted to a float; above, the float holds an
     * integer exactly and the two compare as integers. */
    if (fabs(d) < 9007199254740992.0) {
        double v = 0;
        for (size_t i = n; i-- > 0;)
            v = v * 256.0 + mag[i];
        if (negative)
            v = -v;
        return (v > d) - (v < d);
    }
    bool dneg = d < 0;
    if (negative != dneg)
        return negative ? -1 : 1;
    /* |d| = m * 2^e with m a 53-bit integer and e >= 0 here. */
    int e;
    double fr = frexp(fabs(d), &e);
    uint64_t m = (uint64_t)ldexp(fr, 53);
    e -= 53;
    size_t dn = (size_t)(e / 8) + 9;
    uint8_t *dm = gv_calloc(dn + 1, 1);
    unsigned shift = (unsigned)(e % 8);
    uint64_t wide = m << shift; /* at most 60 bits */
    for (size_t i = 0; i < 8 && wide; i++) {
        dm[(size_t)(e / 8) + i] = (uint8_t)wide;
        wide >>= 8;
    }
    while (dn > 0 && dm[dn - 1] == 0)
        dn--;
    int c;
    if (n != dn) {
        c = n < dn ? -1 : 1;
    } else {
        c = 0;
        for (size_t i = n; i-- > 0 && !c;)
            c = (mag[i] > dm[i]) - (mag[i] < dm[i]);
    }
    gv_free(dm);
    return negative ? -c : c;
}

size_t gv_float_format(double v, char out[32])
{
    if (v == 0)
        return (size_t)snprintf(out, 32, signbit(v) ? "-0.0" : "0.0");
    /* The shortest digit string that reads back as v. */
    char sci[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    if (prec == 17)
        snprintf(sci, sizeof sci, "%.16e", v);
    /* sci is "[-]D[.DDD]e[+-]XX": split into digits and exponent. */
    const char *p = sci;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[24];
    size_t L = 0;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[L++] = *p;
    while (L > 1 && digits[L - 1] == '0')
        L--;
    int exp10 = atoi(p + 1);          /* value = D.DDD x 10^exp10 */
    int place = exp10 - (int)(L - 1); /* value = DDDD x 10^place */
    char expstr[8];
    int explen = snprintf(expstr, sizeof expstr, "%d", exp10);
    int expcost = explen + 2;
    char *o = out;
    if (neg)
        *o++ = '-';
    bool scientific;
    if (place < 0) {
        if (exp10 >= 0) {
            /* The point falls inside the digits. */
            memcpy(o, digits, (size_t)exp10 + 1);
            o += exp10 + 1;
            *o++ = '.';
            memcpy(o, digits + exp10 + 1, L - (size_t)exp10 - 1);
            o += L - (size_t)exp10 - 1;
            *o = '\0';
            return (size_t)(o - out);
        }
        scientific = 2 - place - (int)L > expcost;
        if (!scientific) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -place - (int)L; i++)
                *o++ = '0';
            memcpy(o, digits, L);
            o += L;
            *o = '\0';
            return (size_t)(o - out);
        }
    } else {
        int dot = L == 1 ? 1 : 0;
        scientific = !(expcost + dot >= place + 2 && fabs(v) < 9007199254740992.0);
        if (!scientific) {
            memcpy(o, digits, L);
            o += L;
            for (int i = 0; i < place; i++)
                *o++ = '0';
            memcpy(o, ".0", 3);
            o += 2;
            return (size_t)(o - out);
        }
    }
    *o++ = digits[0];
    *o++ = '.';
    if (L == 1) {
        *o++ = '0';
    } else {
        memcpy(o, digits + 1, L - 1);
        o += L - 1;
    }
    *o++ = 'e';
    memcpy(o, expstr, (size_t)explen + 1);
    o += explen;
    return (size_t)(o - out);
}
