// attack.c - the attack simulator (see attack.h, docs/robust.md).
#include "agg/attack.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"

static const char *const KIND_NAMES[ATTACK_KIND_COUNT] = {"none", "signflip", "scale", "noise",
                                                          "nan"};

const char *attack_kind_name(AttackKind kind) {
    return (unsigned)kind < ATTACK_KIND_COUNT ? KIND_NAMES[kind] : NULL;
}

int attack_kind_from_name(const char *name, AttackKind *out) {
    CHECK_PTR(name);
    CHECK_PTR(out);
    for (int k = 0; k < ATTACK_KIND_COUNT; k++)
        if (strcmp(name, KIND_NAMES[k]) == 0) {
            *out = (AttackKind)k;
            return 0;
        }
    return -1;
}

double attack_default_strength(AttackKind kind) {
    switch (kind) {
    case ATTACK_SIGNFLIP:
        return 1.0;
    case ATTACK_SCALE:
        return 10.0;
    case ATTACK_NOISE:
        return 1.0;
    default:
        return 0.0;
    }
}

void attack_parties(uint8_t *is_attacker, int P, int k, uint64_t seed) {
    CHECK_PTR(is_attacker);
    CHECK(P >= 0 && k >= 0 && k <= P, "attackers k = %d must be in [0, P = %d parties]", k, P);
    memset(is_attacker, 0, (size_t)P);
    if (P == 0) return;
    int64_t *idx = xmalloc((size_t)P * sizeof *idx);
    Rng r;
    rng_init(&r, seed, 0, 0, RNG_ATTACK);
    rng_sample_prefix(&r, idx, P, k);
    for (int j = 0; j < k; j++)
        is_attacker[idx[j]] = 1;
    xfree(idx);
}

void attack_apply(AttackKind kind, float *delta, size_t n, double strength, uint64_t seed,
                  int round, int party) {
    CHECK((unsigned)kind < ATTACK_KIND_COUNT, "attack kind %d is not one of %s", (int)kind,
          ATTACK_KIND_NAMES);
    CHECK_PTR(delta);
    CHECK(n > 0, "attack on an update of n = 0 values");
    // Round 0's party-0 stream is attack_parties': the driver's rounds count from 1.
    CHECK(round >= 1 && party >= 0, "attack on round %d party %d: round must be >= 1, party >= 0",
          round, party);
    if (kind == ATTACK_SIGNFLIP || kind == ATTACK_SCALE || kind == ATTACK_NOISE)
        CHECK(isfinite(strength) && strength > 0, "attack %s: strength = %g must be finite and > 0",
              KIND_NAMES[kind], strength);
    switch (kind) {
    case ATTACK_NONE:
        break;
    case ATTACK_SIGNFLIP:
    case ATTACK_SCALE: {
        double s = kind == ATTACK_SIGNFLIP ? -strength : strength;
        for (size_t i = 0; i < n; i++) // the product in double, rounded once
            delta[i] = (float)(s * delta[i]);
        break;
    }
    case ATTACK_NOISE: {
        Rng r;
        rng_init(&r, seed, (uint32_t)round, (uint32_t)party, RNG_ATTACK);
        rng_fill_normal(&r, delta, n, 0.f, (float)strength);
        break;
    }
    case ATTACK_NAN: {
        size_t c = n < ATTACK_NAN_COUNT ? n : ATTACK_NAN_COUNT;
        for (size_t j = 0; j < c; j++)
            delta[j * n / c] = NAN;
        break;
    }
    }
}
