// test_scenario.c - scenario properties: every sample (or (sample, modality) pair) held at most
// once, masks at the requested rates, cross-modal and hybrid parties hold only their modalities,
// large alpha gives uniform label shares, the split does not depend on who computes it, presets
// resolve, bad configs die naming key and value, one-pass streams use each sample once.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/scenario.h"
#include "helpers.h"

enum { N = 20000, C = 10, M = 2 };

// ck_assert_* records a mark point (a pipe write) on every success: too slow for per-row checks.
#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                                                    \
    } while (0)

// Tolerance for a rate estimated from n Bernoulli draws: 5 standard deviations of p = 0.5.
static double rate_tol(int64_t n) { return 5.0 * 0.5 / sqrt((double)n); }

typedef struct {
    int32_t label[N];
    int64_t entity[N];
    int32_t meta[N * 2];
} Data;

// Labels in a scrambled but fixed order, one per entity; entity = i / per_entity; meta (snr, voice)
// = (i % 3, i % 7).
static Data *make_data(int per_entity) {
    Data *d = xmalloc(sizeof *d);
    for (int i = 0; i < N; i++) {
        d->label[i] = (int32_t)(((unsigned)(i / per_entity) * 7919u) % C); // one label per entity
        d->entity[i] = i / per_entity;
        d->meta[2 * i] = i % 3;
        d->meta[2 * i + 1] = i % 7;
    }
    return d;
}

static const char *const meta_names[2] = {"snr", "voice"};

static ScenarioData view(const Data *d, int64_t n, int with_entity) {
    return (ScenarioData){.n = n,
                          .n_classes = C,
                          .n_modalities = M,
                          .label = d->label,
                          .entity = with_entity ? d->entity : NULL,
                          .meta = d->meta,
                          .n_meta = 2,
                          .meta_names = meta_names};
}

static ScenarioConfig preset(const char *name, int parties) {
    ScenarioConfig cfg;
    ck_assert_msg(scenario_preset(&cfg, name, parties, M) == 0, "preset %s did not resolve", name);
    return cfg;
}

// Held[i*M + m] = how many parties hold modality m of sample i; rows[i] = rows naming sample i.
static void tally(const Scenario *s, int *held, int *rows) {
    memset(held, 0, sizeof(int) * N * M);
    memset(rows, 0, sizeof(int) * N);
    for (int k = 0; k < s->n_parties; k++) {
        const ScenarioParty *p = &s->party[k];
        for (int64_t j = 0; j < p->n; j++) {
            if (j > 0)
                REQUIRE(p->index[j] > p->index[j - 1], "party %d rows not ascending at %lld", k,
                        (long long)j);
            rows[p->index[j]]++;
            for (int m = 0; m < M; m++)
                held[p->index[j] * M + m] += (p->mask[j] >> m) & 1;
        }
    }
}

START_TEST(test_every_preset_holds_each_sample_modality_at_most_once) {
    const char *name = SCENARIO_PRESETS[_i];
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 1);
    ScenarioConfig cfg = preset(name, 10);
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 42);
    int *held = xmalloc(sizeof(int) * N * M), *rows = xmalloc(sizeof(int) * N);
    tally(&s, held, rows);
    int64_t total = 0;
    for (int i = 0; i < N; i++) {
        for (int m = 0; m < M; m++)
            REQUIRE(held[i * M + m] <= 1, "%s: sample %d modality %d held %d times", name, i, m,
                    held[i * M + m]);
        // a sample is in two parties only when the overlap control split it by modality
        REQUIRE(rows[i] <= (cfg.overlap >= 0 ? 2 : 1), "%s: sample %d in %d parties", name, i,
                rows[i]);
        total += rows[i] > 0;
    }
    ck_assert_msg(total + s.n_unassigned == N, "%s: %lld assigned + %lld unassigned != %d", name,
                  (long long)total, (long long)s.n_unassigned, N);
    free(held);
    free(rows);
    scenario_free(&s);
    scenario_free(&s); // freeing twice is safe
    free(d);
}
END_TEST

// Fraction of rows (over all parties) missing modality m, and of empty rows.
static void missing_rates(const Scenario *s, double *miss, double *empty) {
    int64_t rows = 0, gone[M] = {0}, none = 0;
    for (int k = 0; k < s->n_parties; k++)
        for (int64_t j = 0; j < s->party[k].n; j++, rows++) {
            for (int m = 0; m < M; m++)
                gone[m] += !((s->party[k].mask[j] >> m) & 1);
            none += s->party[k].mask[j] == 0;
        }
    for (int m = 0; m < M; m++)
        miss[m] = (double)gone[m] / (double)rows;
    *empty = (double)none / (double)rows;
}

START_TEST(test_missing_rates_match_beta) {
    // FedMLLM: independent drops, both can go: P(missing m) = beta, P(empty) = beta^2.
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    const float betas[3] = {0.3f, 0.4f, 0.5f};
    const char *names[3] = {"fedmllm-missing0.3", "fedmllm-missing0.4", "fedmllm-missing0.5"};
    for (int b = 0; b < 3; b++) {
        ScenarioConfig cfg = preset(names[b], 10);
        Scenario s;
        scenario_compute(&s, &cfg, &sd, 7);
        double miss[M], empty;
        missing_rates(&s, miss, &empty);
        for (int m = 0; m < M; m++)
            REQUIRE(fabs(miss[m] - betas[b]) < rate_tol(N),
                    "%s: modality %d missing %.4f, want %.2f +- %.4f", names[b], m, miss[m],
                    betas[b], rate_tol(N));
        ck_assert_msg(fabs(empty - betas[b] * betas[b]) < rate_tol(N), "%s: empty %.4f", names[b],
                      empty);
        scenario_free(&s);
    }
    // keep_one: an emptied sample gets one modality back (uniformly): P(missing m) = b - b^2/2.
    ScenarioConfig cfg = preset("fedmllm-missing0.5", 10);
    scenario_config_set(&cfg, "keep_one", "1");
    scenario_config_set(&cfg, "missing.1", "0.2");
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 7);
    double miss[M], empty;
    missing_rates(&s, miss, &empty);
    ck_assert_msg(empty == 0, "keep_one left %.4f empty rows", empty);
    // m0: dropped w.p. .5 unless m1 also dropped (.2) and the coin gives m0 back (.5)
    ck_assert_msg(fabs(miss[0] - (0.5 - 0.5 * 0.2 * 0.5)) < rate_tol(N), "keep_one m0 missing %.4f",
                  miss[0]);
    ck_assert_msg(fabs(miss[1] - (0.2 - 0.5 * 0.2 * 0.5)) < rate_tol(N), "keep_one m1 missing %.4f",
                  miss[1]);
    scenario_free(&s);
    free(d);
}
END_TEST

START_TEST(test_cross_modal_parties_hold_only_their_modality) {
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    const char *names[3] = {"fedmllm-cross3:7", "fedmllm-cross5:5", "fedmllm-cross7:3"};
    const int image_parties[3] = {3, 5, 7};
    for (int t = 0; t < 3; t++) {
        ScenarioConfig cfg = preset(names[t], 10);
        Scenario s;
        scenario_compute(&s, &cfg, &sd, 3);
        int n_image = 0;
        for (int k = 0; k < 10; k++) {
            const ScenarioParty *p = &s.party[k];
            REQUIRE(p->modalities == 1 || p->modalities == 2, "%s: party %d modalities %u",
                    names[t], k, p->modalities);
            n_image += p->modalities == 1;
            for (int64_t j = 0; j < p->n; j++)
                REQUIRE(p->mask[j] == p->modalities,
                        "%s: party %d row %lld mask %u, party holds %u", names[t], k, (long long)j,
                        p->mask[j], p->modalities);
        }
        ck_assert_msg(n_image == image_parties[t], "%s: %d image-only parties", names[t], n_image);
        scenario_free(&s);
    }
    free(d);
}
END_TEST

START_TEST(test_hybrid_and_bomm_rows_keep_a_modality_within_the_party_set) {
    Data *d = make_data(2);
    ScenarioData sd = view(d, N, 1);
    const char *names[6] = {"fedmllm-hybrid0.8", "fedmllm-hybrid0.7", "fedmllm-hybrid0.6",
                            "bomm-random",       "bomm-crossmodal",   "bomm-hybrid"};
    for (int t = 0; t < 6; t++) {
        ScenarioConfig cfg = preset(names[t], 10);
        Scenario s;
        scenario_compute(&s, &cfg, &sd, 11);
        for (int k = 0; k < 10; k++) {
            const ScenarioParty *p = &s.party[k];
            for (int64_t j = 0; j < p->n; j++) {
                REQUIRE(p->mask[j] != 0, "%s: party %d row %lld has no modality", names[t], k,
                        (long long)j);
                if (p->modalities != 0)
                    REQUIRE((p->mask[j] & ~p->modalities) == 0,
                            "%s: party %d row mask %u outside %u", names[t], k, p->mask[j],
                            p->modalities);
                else // a party with no modality drawn: one random modality per sample
                    REQUIRE(p->mask[j] == 1 || p->mask[j] == 2, "%s: mask %u", names[t],
                            p->mask[j]);
            }
        }
        if (cfg.overlap >= 0) { // BoMM: 5 % of the entities split across parties by modality
            double got = (double)s.n_split_entities / (double)s.n_entities;
            REQUIRE(fabs(got - 0.05) < rate_tol(N / 2), "%s: achieved overlap %.4f", names[t], got);
        }
        scenario_free(&s);
    }
    free(d);
}
END_TEST

// Largest |share of label c at party k - 1/K| over parties and labels.
static double max_share_dev(const Scenario *s, const int32_t *label) {
    int64_t pc[16 * C];
    scenario_counts(s, label, pc, NULL, NULL);
    double dev = 0;
    for (int c = 0; c < C; c++) {
        int64_t tot = 0;
        for (int k = 0; k < s->n_parties; k++)
            tot += pc[k * C + c];
        for (int k = 0; k < s->n_parties; k++)
            dev = fmax(dev, fabs((double)pc[k * C + c] / (double)tot - 1.0 / s->n_parties));
    }
    return dev;
}

START_TEST(test_large_alpha_approaches_uniform_label_shares) {
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    ScenarioConfig cfg = preset("iid", 5);
    scenario_config_set(&cfg, "alpha", "1000");
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 5);
    // Dirichlet(1000) shares have std sqrt((1/5)(4/5)/5001) = 0.0057: 0.03 is over 5 std
    double dev = max_share_dev(&s, d->label);
    ck_assert_msg(dev < 0.03, "alpha=1000: max share deviation %.4f", dev);
    scenario_free(&s);
    // and a small alpha is far from uniform (the Dirichlet is really applied)
    scenario_config_set(&cfg, "alpha", "0.1");
    scenario_compute(&s, &cfg, &sd, 5);
    dev = max_share_dev(&s, d->label);
    ck_assert_msg(dev > 0.3, "alpha=0.1: max share deviation only %.4f", dev);
    scenario_free(&s);
    // iid: every label split evenly to within one sample
    cfg = preset("iid", 7);
    scenario_compute(&s, &cfg, &sd, 5);
    int64_t pc[7 * C];
    scenario_counts(&s, d->label, pc, NULL, NULL);
    for (int c = 0; c < C; c++)
        for (int k = 0; k < 7; k++)
            REQUIRE(llabs(pc[k * C + c] - pc[c]) <= 1, "iid label %d party %d", c, k);
    scenario_free(&s);
    free(d);
}
END_TEST

START_TEST(test_min_per_label_and_quantity_skew) {
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    ScenarioConfig cfg = preset("fedmllm-alpha0.5", 10);
    scenario_config_set(&cfg, "alpha", "0.05");
    scenario_config_set(&cfg, "min_per_label", "20");
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 9);
    int64_t pc[10 * C];
    scenario_counts(&s, d->label, pc, NULL, NULL);
    for (int i = 0; i < 10 * C; i++)
        REQUIRE(pc[i] >= 20, "party %d label %d: %lld", i / C, i % C, (long long)pc[i]);
    scenario_free(&s);
    // quantity skew: party sizes from Dirichlet(0.3) spread far more than the iid +-1
    cfg = preset("iid", 10);
    scenario_config_set(&cfg, "quantity", "0.3");
    scenario_compute(&s, &cfg, &sd, 9);
    int64_t lo = N, hi = 0;
    for (int k = 0; k < 10; k++)
        lo = s.party[k].n < lo ? s.party[k].n : lo, hi = s.party[k].n > hi ? s.party[k].n : hi;
    ck_assert_msg(hi > 3 * (lo + 1), "quantity=0.3: party sizes %lld..%lld", (long long)lo,
                  (long long)hi);
    scenario_free(&s);
    free(d);
}
END_TEST

static int same_party(const ScenarioParty *a, const ScenarioParty *b) {
    if (a->n != b->n || a->modalities != b->modalities) return 0;
    size_t n = (size_t)a->n;
    return !memcmp(a->index, b->index, n * sizeof *a->index) && !memcmp(a->mask, b->mask, n) &&
           !memcmp(a->stage, b->stage, n) && !memcmp(a->chunk, b->chunk, n * sizeof *a->chunk);
}

START_TEST(test_same_seed_same_split_for_any_rank_count) {
    // Simulated ranks: rank r of R computes the scenario itself (after unrelated work, in its own
    // order) and keeps parties k with k % R == r; the union must equal the one-process split.
    const char *name = SCENARIO_PRESETS[_i];
    Data *d = make_data(3);
    ScenarioData sd = view(d, 3000, 1); // 1,000 entities: enough for every preset, cheap under ASan
    ScenarioConfig cfg = preset(name, 10);
    Scenario ref;
    scenario_compute(&ref, &cfg, &sd, 2024);
    const int rank_counts[4] = {1, 2, 3, 7};
    for (int t = 0; t < 4; t++) {
        int R = rank_counts[t];
        for (int r = R - 1; r >= 0; r--) {
            Scenario other, mine;
            ScenarioConfig o = preset("bomm-hybrid", 3 + r);
            scenario_compute(&other, &o, &sd, (uint64_t)r); // unrelated work first
            scenario_compute(&mine, &cfg, &sd, 2024);
            for (int k = r; k < 10; k += R)
                REQUIRE(same_party(&mine.party[k], &ref.party[k]),
                        "%s: ranks=%d rank %d party %d differs", name, R, r, k);
            ck_assert_int_eq(mine.n_split_entities, ref.n_split_entities);
            scenario_free(&other);
            scenario_free(&mine);
        }
    }
    // another seed gives another split (unless the scenario has no randomness at the party level)
    Scenario s2;
    scenario_compute(&s2, &cfg, &sd, 2025);
    int differ = 0;
    for (int k = 0; k < 10; k++)
        differ |= !same_party(&s2.party[k], &ref.party[k]);
    ck_assert_msg(differ, "%s: seeds 2024 and 2025 give the same split", name);
    scenario_free(&s2);
    scenario_free(&ref);
    free(d);
}
END_TEST

START_TEST(test_presets_resolve_and_unknown_names_do_not) {
    int n = 0;
    for (; SCENARIO_PRESETS[n]; n++) {
        ScenarioConfig cfg;
        ck_assert_msg(scenario_preset(&cfg, SCENARIO_PRESETS[n], 10, 3) == 0, "%s",
                      SCENARIO_PRESETS[n]);
        ck_assert_str_eq(cfg.name, SCENARIO_PRESETS[n]);
        ck_assert_int_eq(cfg.n_parties, 10);
    }
    ck_assert_int_eq(n, 18); // iid + 12 FedMLLM + 3 BoMM + shift + stream
    ScenarioConfig cfg;
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-alpha2", 10, 2), -1);
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-cross4:6", 10, 2), -1);
    ck_assert_int_eq(scenario_preset(&cfg, "bomm-other", 10, 2), -1);
    ck_assert_int_eq(scenario_preset(&cfg, "nope", 10, 2), -1);
    // values land where the names say
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-alpha0.5", 10, 2), 0);
    ck_assert(cfg.skew == SCN_SKEW_DIRICHLET && cfg.alpha == 0.5f && cfg.min_per_label == 1);
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-missing0.4", 10, 3), 0);
    ck_assert(cfg.missing[0] == 0.4f && cfg.missing[2] == 0.4f && cfg.missing[3] == 0 &&
              !cfg.keep_one);
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-cross7:3", 10, 3), 0);
    ck_assert(cfg.cross[0] == 7 && cfg.cross[1] == 1.5f && cfg.cross[2] == 1.5f);
    ck_assert_int_eq(scenario_preset(&cfg, "fedmllm-hybrid0.6", 10, 2), 0);
    ck_assert(cfg.hybrid_p == 0.6f);
    ck_assert_int_eq(scenario_preset(&cfg, "bomm-crossmodal", 10, 2), 0);
    ck_assert(cfg.overlap == 0.05f && cfg.cross[0] == 5 && cfg.cross[1] == 5);
}
END_TEST

// ---- bad configs ----

typedef struct {
    const char *key, *value;
    int64_t n;
    const char *want; // NULL: "key=value"
} BadCase;

static void run_bad(void *arg) {
    const BadCase *b = arg;
    Data *d = make_data(1);
    ScenarioData sd = view(d, b->n, 0);
    ScenarioConfig cfg = preset("fedmllm-alpha1", 10);
    scenario_config_set(&cfg, b->key, b->value);
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 1);
}

START_TEST(test_bad_configs_die_naming_key_and_value) {
    const BadCase cases[] = {
        {"alpha", "0", N, NULL},
        {"alpha", "-1", N, NULL},
        {"missing", "1.5", N, "missing.0=1.5"},
        {"missing.1", "-0.1", N, NULL},
        {"hybrid_p", "1.2", N, NULL},
        {"overlap", "2", N, NULL},
        {"parties", "0", N, NULL},
        {"min_per_label", "-1", N, NULL},
        {"stream_rounds", "-2", N, NULL},
        {"quantity", "-1", N, NULL},
    };
    char want[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].want)
            snprintf(want, sizeof want, "%s", cases[i].want);
        else
            snprintf(want, sizeof want, "%s=%s", cases[i].key, cases[i].value);
        expect_die(run_bad, (void *)&cases[i], want);
    }
    // more parties than samples; a minimum per label no label can meet
    BadCase few = {"parties", "30", 20, NULL};
    expect_die(run_bad, &few, "parties=30", "20 samples");
    BadCase minimum = {"min_per_label", "300", N, NULL};
    expect_die(run_bad, &minimum, "min_per_label=300", "impossible");
    // unparsable or unknown keys
    BadCase word = {"alpha", "lots", N, NULL}, unknown = {"alhpa", "1", N, NULL},
            stage = {"stage.9.noise", "1", N, NULL};
    expect_die(run_bad, &word, "alpha=lots", "not a number");
    expect_die(run_bad, &unknown, "alhpa=1", "unknown key");
    expect_die(run_bad, &stage, "stage.9.noise", "index");
}
END_TEST

// No rows to partition (a file's split held out entirely): the message names the scenario and the
// file the rows came from.
static void run_no_rows(void *arg) {
    (void)arg;
    Data *d = make_data(1);
    ScenarioData sd = view(d, 0, 0);
    sd.source = "data/x.h5";
    ScenarioConfig cfg = preset("fedmllm-alpha1", 10);
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 1);
}

START_TEST(test_no_rows_die_naming_the_scenario_and_the_file) {
    expect_die(run_no_rows, NULL, "scenario fedmllm-alpha1: data/x.h5 gives it 0 rows",
               "no rows left to partition");
}
END_TEST

static void run_bad_stage_meta(void *arg) {
    (void)arg;
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    ScenarioConfig cfg = preset("iid", 4);
    scenario_config_set(&cfg, "stages", "1");
    scenario_config_set(&cfg, "stage.0.meta", "accent");
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 1);
}

START_TEST(test_stages_select_by_meta_or_at_random) {
    expect_die(run_bad_stage_meta, NULL, "stage.0.meta=accent", "no such meta column");
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    // by meta: snr 0 -> stage 0, snr 2 -> stage 1, snr 1 -> in no stage (unassigned)
    ScenarioConfig cfg = preset("iid", 4);
    scenario_config_set(&cfg, "stages", "2");
    scenario_config_set(&cfg, "stage.0.meta", "snr");
    scenario_config_set(&cfg, "stage.1.meta", "snr");
    scenario_config_set(&cfg, "stage.1.lo", "2");
    scenario_config_set(&cfg, "stage.1.hi", "5");
    scenario_config_set(&cfg, "stage.1.contrast", "0.5");
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 1);
    int64_t rows = 0;
    for (int k = 0; k < 4; k++)
        for (int64_t j = 0; j < s.party[k].n; j++, rows++) {
            int snr = d->meta[2 * s.party[k].index[j]];
            REQUIRE(snr != 1 && s.party[k].stage[j] == (snr == 0 ? 0 : 1), "snr %d in stage %d",
                    snr, s.party[k].stage[j]);
        }
    ck_assert_int_eq(s.n_unassigned, N / 3 + (N % 3 > 1));
    ck_assert_int_eq(rows + s.n_unassigned, N);
    scenario_free(&s);
    // at random: three stages of about a third each
    cfg = preset("cdcca-shift3", 4);
    ck_assert(cfg.stages[2].contrast == 1.4f && cfg.stages[1].intensity == -40.0f);
    scenario_compute(&s, &cfg, &sd, 1);
    int64_t per[3] = {0};
    for (int k = 0; k < 4; k++)
        for (int64_t j = 0; j < s.party[k].n; j++)
            per[s.party[k].stage[j]]++;
    for (int st = 0; st < 3; st++)
        ck_assert_msg(fabs((double)per[st] / N - 1.0 / 3) < rate_tol(N), "stage %d share %.4f", st,
                      (double)per[st] / N);
    scenario_free(&s);
    free(d);
}
END_TEST

START_TEST(test_stage_transforms) {
    // image: contrast 0.5 around mid-grey, +51 pixel units (0.2), clamped to [0,1]
    ScenarioStage st = {"", 0, 0, 0.0f, 51.0f, 0.5f};
    float x[4] = {0.0f, 0.5f, 1.0f, 0.9f}, want[4] = {0.45f, 0.7f, 0.95f, 0.9f};
    scenario_stage_apply(&st, 1, x, 4, 1.0f, 1, 0);
    ck_assert_floats_near(x, want, 4, 1e-6, 0);
    st = (ScenarioStage){"", 0, 0, 0.0f, 200.0f, 2.0f};
    // 0.1 -> 2(0.1 - 0.5) + 0.5 + 200/255 = 0.484; 0.6 -> 1.484, clamped to 1
    float y[2] = {0.1f, 0.6f}, wy[2] = {2.0f * (0.1f - 0.5f) + 0.5f + 200.0f / 255.0f, 1.0f};
    scenario_stage_apply(&st, 1, y, 2, 1.0f, 1, 0);
    ck_assert_floats_near(y, wy, 2, 1e-6, 0);
    // noise: zero-mean, std = noise * feature_std, same numbers for the same sample
    enum { K = 20000 };
    float *a = xcalloc(K, sizeof *a), *b = xcalloc(K, sizeof *b);
    st = (ScenarioStage){"", 0, 0, 0.5f, 0.0f, 1.0f};
    scenario_stage_apply(&st, 0, a, K, 2.0f, 9, 123);
    scenario_stage_apply(&st, 0, b, K, 2.0f, 9, 123);
    ck_assert_mem_eq(a, b, K * sizeof *a);
    double m = 0, v = 0;
    for (int i = 0; i < K; i++)
        m += a[i];
    m /= K;
    for (int i = 0; i < K; i++)
        v += (a[i] - m) * (a[i] - m);
    v /= K;
    // std 1: the mean is within 5/sqrt(K), the variance within 5 sqrt(2/K)
    ck_assert_msg(fabs(m) < 5.0 / sqrt(K) && fabs(v - 1.0) < 5.0 * sqrt(2.0 / K),
                  "noise mean %.4f var %.4f", m, v);
    scenario_stage_apply(&st, 0, b, K, 2.0f, 9, 124); // another sample: other noise
    ck_assert(memcmp(a, b, K * sizeof *a) != 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_stream_chunks_cover_each_sample_once) {
    Data *d = make_data(1);
    ScenarioData sd = view(d, N, 0);
    ScenarioConfig cfg = preset("fedcmp-stream10", 6);
    scenario_config_set(&cfg, "quantity",
                        "1"); // uneven parties: chunks must still be even per party
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 77);
    int *seen = xcalloc(N, sizeof *seen);
    for (int k = 0; k < 6; k++) {
        const ScenarioParty *p = &s.party[k];
        int64_t per[10] = {0};
        for (int64_t j = 0; j < p->n; j++) {
            REQUIRE(p->chunk[j] >= 0 && p->chunk[j] < 10, "party %d chunk %d", k, p->chunk[j]);
            per[p->chunk[j]]++;
            seen[p->index[j]]++;
        }
        for (int r = 0; r < 10; r++)
            REQUIRE(llabs(per[r] - p->n / 10) <= 1, "party %d round %d: %lld of %lld", k, r,
                    (long long)per[r], (long long)p->n);
    }
    for (int i = 0; i < N; i++)
        REQUIRE(seen[i] == 1, "sample %d used %d times", i, seen[i]);
    free(seen);
    scenario_free(&s);
    free(d);
}
END_TEST

START_TEST(test_overlap_control_splits_the_requested_entity_fraction) {
    Data *d = make_data(2); // 10,000 entities of 2 samples
    ScenarioData sd = view(d, N, 1);
    const float targets[3] = {0.0f, 0.05f, 0.3f};
    for (int t = 0; t < 3; t++) {
        ScenarioConfig cfg = preset("fedmllm-alpha1", 10);
        char v[16];
        snprintf(v, sizeof v, "%g", targets[t]);
        scenario_config_set(&cfg, "overlap", v);
        Scenario s;
        scenario_compute(&s, &cfg, &sd, 13);
        ck_assert_int_eq(s.n_entities, N / 2);
        // complete masks: every selected entity can be split, so achieved = target up to sampling
        double got = (double)s.n_split_entities / (double)s.n_entities;
        ck_assert_msg(fabs(got - targets[t]) < rate_tol(N / 2), "overlap=%g achieved %.4f",
                      targets[t], got);
        // entity units: both samples of an entity have the same primary party
        int *first = xmalloc(sizeof(int) * N);
        for (int i = 0; i < N; i++)
            first[i] = -1;
        for (int k = 0; k < 10; k++)
            for (int64_t j = 0; j < s.party[k].n; j++)
                if (first[s.party[k].index[j]] < 0) first[s.party[k].index[j]] = k;
        int same = 0;
        for (int i = 0; i < N; i += 2)
            same += first[i] == first[i + 1] || first[i] < 0;
        ck_assert(same >= N / 2 - s.n_split_entities);
        free(first);
        scenario_free(&s);
    }
    // uncontrolled, sample units: 2-sample entities spread over parties, so many are split
    ScenarioConfig cfg = preset("fedmllm-missing0.5", 10);
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 13);
    ck_assert_msg(s.n_split_entities > N / 20, "uncontrolled split %lld",
                  (long long)s.n_split_entities);
    scenario_free(&s);
    free(d);
}
END_TEST

START_TEST(test_summary_counts_and_csv) {
    Data *d = make_data(1);
    ScenarioData sd = view(d, 1000, 0);
    ScenarioConfig cfg = preset("fedmllm-missing0.3", 4);
    Scenario s;
    scenario_compute(&s, &cfg, &sd, 1);
    int64_t pc[4 * C], pm[4 * M], pe[4];
    scenario_counts(&s, d->label, pc, pm, pe);
    for (int k = 0; k < 4; k++) {
        int64_t sum = 0, both = 0;
        for (int c = 0; c < C; c++)
            sum += pc[k * C + c];
        ck_assert_int_eq(sum, s.party[k].n);
        for (int64_t j = 0; j < s.party[k].n; j++)
            both += s.party[k].mask[j] == 3;
        // inclusion-exclusion: rows = with m0 + with m1 - with both + empty
        ck_assert_int_eq(s.party[k].n, pm[k * M] + pm[k * M + 1] - both + pe[k]);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *const mods[M] = {"image", "audio"};
    scenario_summary(f, &s, d->label, NULL, mods, 1);
    fclose(f);
    ck_assert_msg(!strncmp(buf, "party,samples,class:c0,", 23), "header: %.60s", buf);
    ck_assert_ptr_nonnull(strstr(buf, ",mod:image,mod:audio,empty\n"));
    char row0[128];
    snprintf(row0, sizeof row0, "\n0,%lld,%lld,", (long long)s.party[0].n, (long long)pc[0]);
    ck_assert_msg(strstr(buf, row0) != NULL, "no row %s in %s", row0 + 1, buf);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 5);
    free(buf);
    scenario_free(&s);
    free(d);
}
END_TEST

Suite *scenario_suite(void) {
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    int n_presets = 0;
    while (SCENARIO_PRESETS[n_presets])
        n_presets++;
    tcase_add_loop_test(tc, test_every_preset_holds_each_sample_modality_at_most_once, 0,
                        n_presets);
    tcase_add_test(tc, test_missing_rates_match_beta);
    tcase_add_test(tc, test_cross_modal_parties_hold_only_their_modality);
    tcase_add_test(tc, test_hybrid_and_bomm_rows_keep_a_modality_within_the_party_set);
    tcase_add_test(tc, test_large_alpha_approaches_uniform_label_shares);
    tcase_add_test(tc, test_min_per_label_and_quantity_skew);
    tcase_add_loop_test(tc, test_same_seed_same_split_for_any_rank_count, 0, n_presets);
    tcase_add_test(tc, test_presets_resolve_and_unknown_names_do_not);
    tcase_add_test(tc, test_bad_configs_die_naming_key_and_value);
    tcase_add_test(tc, test_stages_select_by_meta_or_at_random);
    tcase_add_test(tc, test_stage_transforms);
    tcase_add_test(tc, test_stream_chunks_cover_each_sample_once);
    tcase_add_test(tc, test_overlap_control_splits_the_requested_entity_fraction);
    tcase_add_test(tc, test_summary_counts_and_csv);
    tcase_add_test(tc, test_no_rows_die_naming_the_scenario_and_the_file);
    suite_add_tcase(s, tc);
    return s;
}
