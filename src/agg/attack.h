// attack.h - the attack simulator: which parties attack, and what an attacker does to its update,
// so that the robust rules (agg/robust.h) can be measured. docs/robust.md.
//
// An attacker is an honest party whose update Δ = x − global is replaced after local training,
// before screening: sign flip (Δ → −s·Δ; Blanchard et al. 2017 and Fang et al., USENIX Security
// 2020, use it as the basic untargeted attack), scaling (Δ → s·Δ, the boosting of Bagdasaryan et
// al., AISTATS 2020), Gaussian noise (Δ → N(0, s²) per coordinate; the "Gaussian attack" of
// Blanchard et al. 2017), and NaN (a few coordinates made NaN: a broken or hostile client that
// must not end the run). The attackers are k of the P parties, fixed for the whole run, drawn from
// the stream (seed, 0, 0, RNG_ATTACK); the noise comes from (seed, round, party, RNG_ATTACK). Both
// depend on no rank or layout. [I] reconstruction of the set-up.
#pragma once

#include <stddef.h>
#include <stdint.h>

// The kinds of --attack. Written to run files by name: append-only.
typedef enum AttackKind {
    ATTACK_NONE,
    ATTACK_SIGNFLIP, // Δ → −strength·Δ
    ATTACK_SCALE,    // Δ → strength·Δ
    ATTACK_NOISE,    // Δ → N(0, strength²) per coordinate
    ATTACK_NAN,      // ATTACK_NAN_COUNT coordinates of Δ → NaN
} AttackKind;
#define ATTACK_KIND_COUNT 5
// The valid names, for error and help messages.
#define ATTACK_KIND_NAMES "none, signflip, scale, noise, nan"
// How many coordinates the nan attack sets (fewer when n is smaller).
#define ATTACK_NAN_COUNT 3

// The kind's name as --attack spells it / NULL out of range. Static strings. Local.
const char *attack_kind_name(AttackKind kind);
// *out = the kind named name; returns 0, or -1 (leaving *out) when no kind has that name (the
// caller's message lists ATTACK_KIND_NAMES). CHECKs its pointers. Local.
int attack_kind_from_name(const char *name, AttackKind *out);
// The strength an option should default to: signflip 1 (the plain sign flip), scale 10, noise 1
// (a standard deviation far above a typical update's coordinates), none and nan 0 (unused). Local.
double attack_default_strength(AttackKind kind);

// is_attacker (P) = 1 for k of the P parties, 0 for the others: a uniform k-subset drawn from the
// stream (seed, 0, 0, RNG_ATTACK) (rng_sample_prefix), the same for every call with these
// arguments, on any rank. CHECKs is_attacker, 0 <= k <= P. Local.
void attack_parties(uint8_t *is_attacker, int P, int k, uint64_t seed);

// Applies the attack to party `party`'s update of round `round` in place, delta (n):
//   signflip: delta[i] = (float)(−strength · delta[i]) (exact for strength 1 or a power of two);
//   scale:    delta[i] = (float)(strength · delta[i]);
//   noise:    delta[i] = N(0, strength²), drawn with rng_fill_normal from the stream
//             (seed, round, party, RNG_ATTACK), the update's values discarded;
//   nan:      delta[j · n / c] = NaN for j < c = min(n, ATTACK_NAN_COUNT): the first coordinate
//             and c − 1 spread across the vector, the rest untouched;
//   none:     nothing.
// CHECKs the kind, delta (n > 0), strength finite and > 0 for signflip, scale and noise, round >= 1
// (round 0, party 0 is attack_parties' stream; the driver's rounds count from 1), party >= 0.
// Local.
void attack_apply(AttackKind kind, float *delta, size_t n, double strength, uint64_t seed,
                  int round, int party);
