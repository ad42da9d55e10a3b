// test_sha256.c - core/sha256.h against the FIPS 180-2 appendix B vectors (one block, two blocks,
// a million 'a'), messages around the padding boundaries (55/56/63/64/65/119/120/128 bytes, where
// the length field moves to a second block), any split of the updates, and the file digest against
// coreutils' sha256sum.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "helpers.h"

static void hex_of(const void *msg, size_t n, char *hex) {
    Sha256 s;
    uint8_t d[32];
    sha256_init(&s);
    sha256_update(&s, msg, n);
    sha256_final(&s, d);
    sha256_hex(d, hex);
}

START_TEST(test_fips_180_2_vectors) {
    char hex[SHA256_HEX_LEN + 1];
    hex_of("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(two, strlen(two), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *long896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                          "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    hex_of(long896, strlen(long896), hex);
    ck_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    // One million 'a', fed in uneven pieces (1000 updates of 1000 bytes would align; 999 do not).
    char a[999];
    memset(a, 'a', sizeof a);
    Sha256 s;
    sha256_init(&s);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        sha256_update(&s, a, n);
        left -= n;
    }
    uint8_t d[32];
    sha256_final(&s, d);
    sha256_hex(d, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_padding_boundaries_and_any_split) {
    // 'a' * n, from Python's hashlib: 56 bytes and more no longer leave room for the length.
    static const struct {
        int n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    char a[128], hex[SHA256_HEX_LEN + 1];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hex_of(a, (size_t)v[i].n, hex);
        ck_assert_msg(!strcmp(hex, v[i].hex), "%d bytes: %s, expected %s", v[i].n, hex, v[i].hex);
        for (int cut = 0; cut <= v[i].n; cut++) { // two updates, split anywhere
            Sha256 s;
            uint8_t d[32];
            sha256_init(&s);
            sha256_update(&s, a, (size_t)cut);
            sha256_update(&s, a + cut, (size_t)(v[i].n - cut));
            sha256_final(&s, d);
            sha256_hex(d, hex);
            ck_assert_msg(!strcmp(hex, v[i].hex), "%d bytes split at %d: %s", v[i].n, cut, hex);
        }
    }
}
END_TEST

START_TEST(test_file_digest_matches_sha256sum) {
    char path[] = "/tmp/mmc_sha256.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    uint32_t x = 12345; // 3 MiB + 17 bytes: several read pieces and a partial block at the end
    for (long i = 0; i < 3L * 1048576 + 17; i++) {
        x = x * 1664525u + 1013904223u;
        fputc((int)(x >> 24), f);
    }
    fclose(f);
    char hex[SHA256_HEX_LEN + 1], out[256];
    ck_assert_int_eq(sha256_file_hex(path, hex), 0);
    ck_assert_int_eq(run_command(out, sizeof out, "sha256sum %s | cut -c1-64", path), 0);
    out[SHA256_HEX_LEN] = 0;
    ck_assert_str_eq(hex, out);
    unlink(path);
    ck_assert_int_eq(sha256_file_hex(path, hex), -1);
    ck_assert_str_eq(hex, "");
}
END_TEST

Suite *sha256_suite(void) {
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, test_fips_180_2_vectors);
    tcase_add_test(tc, test_padding_boundaries_and_any_split);
    tcase_add_test(tc, test_file_digest_matches_sha256sum);
    suite_add_tcase(s, tc);
    return s;
}
