// half.c - binary16 conversion (see half.h).
#include "core/half.h"

#include <string.h>

uint16_t half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)(x >> 16 & 0x8000u);
    const uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u); // Inf, NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u; // rounds to at least 65520: infinity
    uint32_t h, rem, halfway, shift;
    if (a >= 0x38800000u) { // a normal half: rebias the exponent, drop 13 mantissa bits
        h = (a - (112u << 23)) >> 13, rem = a & 0x1fffu, halfway = 0x1000u;
    } else { // a subnormal half (or zero): value = m · 2^(e − 150), unit 2^-24
        if (a < 0x33000000u) return sign; // below 2^-25 (2^-25 itself ties to even: 0)
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        shift = 126u - e;
        h = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    }
    if (rem > halfway || (rem == halfway && (h & 1u))) h++; // a carry moves into the exponent
    return (uint16_t)(sign | h);
}

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = h >> 10 & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0x1f)
        x = sign | 0x7f800000u | m << 13; // Inf, NaN
    else if (e)
        x = sign | (e + 112u) << 23 | m << 13;
    else if (!m)
        x = sign;
    else { // subnormal: normalise
        e = 113u;
        while (!(m & 0x400u))
            m <<= 1, e--;
        x = sign | e << 23 | (m & 0x3ffu) << 13;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}
