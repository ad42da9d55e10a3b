// test_placement.c - every party has exactly one host, blocks are contiguous in party-id order and
// balanced within one, the cloud hosts nothing unless it is alone, and too many hosts is refused.
#include <check.h>

#include "comm/placement.h"
#include "helpers.h"

START_TEST(test_blocks_cover_parties_once_and_agree_with_host_lookup) {
    for (int size = 1; size <= 9; size++) {
        for (int parties = (size == 1 ? 1 : size - 1); parties <= 40; parties += 3) {
            Placement pl;
            placement_init(&pl, parties, size);
            int next = 0, min = parties, max = 0;
            for (int rank = 0; rank < size; rank++) {
                int first, n = placement_block(&pl, rank, &first);
                if (rank == 0 && size > 1) {
                    ck_assert_int_eq(n, 0);
                    continue;
                }
                ck_assert_int_eq(first, next); // contiguous, in order
                for (int p = first; p < first + n; p++)
                    ck_assert_int_eq(placement_host(&pl, p), rank);
                next += n;
                min = n < min ? n : min;
                max = n > max ? n : max;
            }
            ck_assert_int_eq(next, parties);
            ck_assert_int_le(max - min, 1);
            ck_assert_int_ge(min, 1);
        }
    }
}
END_TEST

static void too_many_hosts(void *arg) {
    (void)arg;
    Placement pl;
    placement_init(&pl, 3, 5);
}

START_TEST(test_more_hosts_than_parties_is_refused) {
    expect_die(too_many_hosts, NULL, "3 parties cannot fill 4 host ranks");
}
END_TEST

Suite *placement_suite(void) {
    Suite *s = suite_create("placement");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, test_blocks_cover_parties_once_and_agree_with_host_lookup);
    tcase_add_test(tc, test_more_hosts_than_parties_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
