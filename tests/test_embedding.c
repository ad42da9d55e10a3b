// test_embedding.c - embedding lookup and the mean embedding-bag: hand values (padding ids < 0
// skipped, an all-padding row gives zeros), scatter-add backward with repeated ids, backward
// against central finite differences, and out-of-range ids that die naming the position.
#include <check.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/embedding.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 60

// Table (V=4, D=2): row v = (v, 10v).
static const float table4[8] = {0, 0, 1, 10, 2, 20, 3, 30};

START_TEST(test_embedding_forward_and_backward_hand_values) {
    const int ids[3] = {2, 0, 2};
    float out[6];
    embedding_forward(out, ids, table4, 3, 4, 2);
    const float want[6] = {2, 20, 0, 0, 2, 20};
    ck_assert_floats_near(out, want, 6, 0, 0);
    float dtable[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const float dout[6] = {1, 2, 3, 4, 5, 6};
    embedding_backward(dtable, dout, ids, 3, 4, 2);
    // Row 2 gets both its tokens' gradients; row 0 one; rows 1 and 3 none; on top of the ones.
    const float want_d[8] = {4, 5, 1, 1, 7, 9, 1, 1};
    ck_assert_floats_near(dtable, want_d, 8, 0, 0);
}
END_TEST

START_TEST(test_embedding_bag_mean_skips_negative_ids) {
    // B=3 rows of T=3: {1, -1, 3} -> mean of rows 1, 3; {-1, -1, -1} -> zeros; {2, 2, 0}.
    const int ids[9] = {1, -1, 3, -1, -1, -1, 2, 2, 0};
    float out[6];
    embedding_bag_mean_forward(out, ids, table4, 3, 3, 4, 2);
    const float want[6] = {2, 20, 0, 0, 4.0f / 3, 40.0f / 3};
    ck_assert_floats_near(out, want, 6, 1e-6, 1e-6);
    float dtable[8] = {0};
    const float dout[6] = {2, 4, 100, 100, 3, 6};
    embedding_bag_mean_backward(dtable, dout, ids, 3, 3, 4, 2);
    // Row 0 of the bag spreads dout/2 to rows 1, 3; the empty row adds nothing; row 2 of the bag
    // adds dout/3 twice to table row 2 and once to row 0.
    const float want_d[8] = {1, 2, 1, 2, 2, 4, 1, 2};
    ck_assert_floats_near(dtable, want_d, 8, 1e-6, 1e-6);
}
END_TEST

typedef struct EmbCtx {
    float *table, *out, *g;
    const int *ids;
    int B, T, V, D, bag;
} EmbCtx;

static double emb_loss(void *ctx) {
    EmbCtx *c = ctx;
    if (c->bag) {
        embedding_bag_mean_forward(c->out, c->ids, c->table, c->B, c->T, c->V, c->D);
        return dot_double(c->out, c->g, (size_t)c->B * c->D);
    }
    embedding_forward(c->out, c->ids, c->table, c->B * c->T, c->V, c->D);
    return dot_double(c->out, c->g, (size_t)c->B * c->T * c->D);
}

START_TEST(test_embedding_backward_matches_finite_differences) {
    // B=1 and odd sizes; ids with repeats and (for the bag) padding.
    const int B = _i == 0 ? 1 : 3, T = 5, V = 7, D = _i == 0 ? 1 : 3;
    int ids[15];
    Rng r;
    rng_init(&r, 12, 0, (uint32_t)_i, RNG_TEST);
    for (int bag = 0; bag < 2; bag++) {
        for (int i = 0; i < B * T; i++)
            ids[i] = (int)rng_below(&r, V + 2) - (bag ? 2 : 0);
        if (!bag)
            for (int i = 0; i < B * T; i++)
                ids[i] %= V;
        EmbCtx c = {xmalloc((size_t)V * D * sizeof(float)),
                    xmalloc((size_t)B * T * D * sizeof(float)),
                    xmalloc((size_t)B * T * D * sizeof(float)),
                    ids,
                    B,
                    T,
                    V,
                    D,
                    bag};
        fill_uniform(c.table, (size_t)V * D, -1, 1, 80);
        fill_uniform(c.g, (size_t)B * T * D, -1, 1, 81);
        float *dtable = xcalloc((size_t)V * D, sizeof(float));
        if (bag)
            embedding_bag_mean_backward(dtable, c.g, ids, B, T, V, D);
        else
            embedding_backward(dtable, c.g, ids, B * T, V, D);
        fd_check(emb_loss, &c, c.table, dtable, (size_t)V * D, FD_H, FD_PROBES, &r);
        xfree(c.table), xfree(c.out), xfree(c.g), xfree(dtable);
    }
}
END_TEST

static void emb_id_too_big(void *arg) {
    const int ids[3] = {0, 1, 7};
    float out[6];
    (void)arg;
    embedding_forward(out, ids, table4, 3, 4, 2);
}
static void emb_id_negative(void *arg) {
    const int ids[2] = {-1, 1};
    float dtable[8] = {0}, dout[4] = {0};
    (void)arg;
    embedding_backward(dtable, dout, ids, 2, 4, 2);
}
static void bag_id_too_big(void *arg) {
    const int ids[4] = {0, -1, 1, 4};
    float out[4];
    (void)arg;
    embedding_bag_mean_forward(out, ids, table4, 2, 2, 4, 2);
}
static void bag_null_table(void *arg) {
    const int ids[4] = {0, -1, 1, 3};
    float out[4];
    (void)arg;
    embedding_bag_mean_forward(out, ids, NULL, 2, 2, 4, 2);
}

START_TEST(test_embedding_bad_ids_die_naming_the_position) {
    expect_die(emb_id_too_big, NULL, "embedding_forward", "ids[2] = 7 outside [0, V=4)");
    expect_die(emb_id_negative, NULL, "embedding_backward", "ids[0] = -1");
    expect_die(bag_id_too_big, NULL, "embedding_bag_mean_forward", "ids[1, 1] = 4 >= V=4");
    expect_die(bag_null_table, NULL, "embedding_bag_mean_forward", "NULL buffer");
}
END_TEST

Suite *embedding_suite(void) {
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("embedding");
    tcase_add_test(tc, test_embedding_forward_and_backward_hand_values);
    tcase_add_test(tc, test_embedding_bag_mean_skips_negative_ids);
    tcase_add_loop_test(tc, test_embedding_backward_matches_finite_differences, 0, 2);
    tcase_add_test(tc, test_embedding_bad_ids_die_naming_the_position);
    suite_add_tcase(s, tc);
    return s;
}
