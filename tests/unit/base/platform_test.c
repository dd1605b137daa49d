/* base/: clock, parker, threads, random, logger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/gv_alloc.h"
#include "base/gv_buf.h"
#include "base/gv_clock.h"
#include "base/gv_image.h"
#include "base/gv_log.h"
#include "base/gv_parker.h"
#include "base/gv_rand.h"
#include "base/gv_thread.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_monotonic_clock_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = gv_now_ns();
    for (int i = 0; i < 10000; i++) {
        uint64_t now = gv_now_ns();
        assert_true(now >= prev);
        prev = now;
    }
    uint64_t t0 = gv_now_ms();
    gv_sleep_ms(20);
    assert_true(gv_now_ms() - t0 >= 20);
}

static void test_unpark_before_park_leaves_a_token(void **state)
{
    (void)state;
    gv_parker p;
    gv_parker_init(&p);
    gv_parker_unpark(&p);
    gv_parker_park(&p); /* returns at once */
    uint64_t t0 = gv_now_ns();
    assert_false(gv_parker_park_for(&p, 20 * 1000000u)); /* token consumed */
    assert_true(gv_now_ns() - t0 >= 10 * 1000000u);
}

typedef struct {
    gv_parker *p;
    _Atomic int flag;
} unpark_arg;

static void *s_unparker(void *arg)
{
    unpark_arg *a = arg;
    gv_sleep_ms(10);
    atomic_store_explicit(&a->flag, 1, memory_order_relaxed);
    gv_parker_unpark(a->p);
    return NULL;
}

static void test_unpark_from_another_thread_wakes_the_parked_one(void **state)
{
    (void)state;
    gv_parker p;
    gv_parker_init(&p);
    unpark_arg a = {.p = &p};
    gv_thread th;
    assert_true(gv_thread_start(&th, "unparker", s_unparker, &a));
    while (!atomic_load_explicit(&a.flag, memory_order_relaxed))
        gv_parker_park(&p);
    gv_thread_join(&th);
    assert_int_equal(atomic_load_explicit(&a.flag, memory_order_relaxed), 1);
}

static void test_same_seed_same_sequence_different_seed_different(void **state)
{
    (void)state;
    gv_rng a, b, c;
    gv_rng_seed(&a, 42);
    gv_rng_seed(&b, 42);
    gv_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = gv_rng_next(&a);
        assert_true(x == gv_rng_next(&b));
        differ += x != gv_rng_next(&c);
        assert_true(gv_rng_below(&a, 7) < 7);
        gv_rng_below(&b, 7);
        gv_rng_below(&c, 7);
    }
    assert_true(differ > 90);
    assert_true(gv_random_seed() != gv_random_seed());
}

static void test_log_writes_one_line_per_event_at_or_above_level(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    gv_log_set_fd(fds[1]);
    gv_log_set_level(GV_LOG_WARN);
    assert_false(gv_log_enabled(GV_LOG_INFO));
    gv_log(GV_LOG_INFO, "test", "hidden", "k=%d", 1);
    gv_log(GV_LOG_WARN, "test", "shown", "k=%d note=%s", 2, "a\nb");
    gv_log_set_fd(-1);
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    assert_null(strstr(buf, "hidden"));
    assert_non_null(strstr(buf, " warn test shown k=2 note=a b\n"));
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* exactly one line */
    gv_log_level lv;
    assert_true(gv_log_parse_level("DEBUG", &lv));
    assert_int_equal(lv, GV_LOG_DEBUG);
    assert_false(gv_log_parse_level("loud", &lv));
}

/* gv_free and gv_realloc take blocks from either allocator (the one behind
 * gv_malloc may be mimalloc), and text handed out for free() comes from
 * malloc: under ASan a mix-up the other way stops the test. */
static void test_gv_free_takes_blocks_from_gv_malloc_and_from_malloc(void **state)
{
    (void)state;
    char *a = gv_malloc(24);
    memset(a, 'a', 24);
    a = gv_realloc(a, 4096);
    assert_int_equal(a[23], 'a');
    gv_free(a);
    char *b = malloc(24);
    assert_non_null(b);
    memcpy(b, "from malloc", 12);
    b = gv_realloc(b, 100000);
    assert_string_equal(b, "from malloc");
    gv_free(b);
    gv_free(NULL);
    char *big = gv_calloc(1, (size_t)3 << 20); /* a block of its own */
    assert_int_equal(big[(3 << 20) - 1], 0);
    gv_free(big);
}

static void test_text_from_gv_buf_take_is_freed_with_free(void **state)
{
    (void)state;
    gv_buf b;
    gv_buf_init(&b);
    for (int i = 0; i < 100; i++)
        gv_buf_printf(&b, "%d,", i);
    char *text = gv_buf_take(&b);
    assert_true(strncmp(text, "0,1,2,", 6) == 0);
    free(text);
    char storage[8];
    gv_buf_init_in(&b, storage, sizeof storage);
    gv_buf_puts(&b, "short");
    text = gv_buf_take(&b);
    assert_string_equal(text, "short");
    free(text);
    gv_buf_fini(&b);
}

/* Owned blocks (terms, signals) are made by a sender's thread and freed
 * by a receiver's. */
#define OWNED 1000

typedef struct owned_run {
    unsigned char *blocks[OWNED];
    int damaged; /* blocks whose contents changed on the way */
} owned_run;

static void *s_free_owned_all(void *arg)
{
    owned_run *r = arg;
    for (int i = 0; i < OWNED; i++) {
        size_t size = i == OWNED - 1 ? (size_t)3 << 20 : (size_t)(16 + i % 200);
        if (r->blocks[i][0] != (unsigned char)i || r->blocks[i][size - 1] != (unsigned char)i)
            r->damaged++;
        gv_free_owned(r->blocks[i]);
    }
    return NULL;
}

static void test_owned_blocks_made_on_one_thread_are_freed_on_another(void **state)
{
    (void)state;
    owned_run *r = gv_calloc(1, sizeof *r);
    for (int i = 0; i < OWNED; i++) {
        size_t size = i == OWNED - 1 ? (size_t)3 << 20 : (size_t)(16 + i % 200);
        r->blocks[i] = gv_malloc_owned(size);
        memset(r->blocks[i], i, size);
    }
    gv_thread t;
    assert_true(gv_thread_start(&t, "freer", s_free_owned_all, r));
    gv_thread_join(&t);
    assert_int_equal(r->damaged, 0);
    gv_free_owned(NULL);
    gv_free(r);
}

static char s_writable[] = "{writable, ~i}";

/* Only the program's read-only image is fixed (format strings there are
 * cached by address alone). */
static void test_only_the_programs_read_only_image_is_fixed(void **state)
{
    (void)state;
    const char *literal = "{a literal, ~i}";
    assert_true(gv_image_is_fixed(literal, strlen(literal)));
    char stack[16] = "{stack, ~i}";
    assert_false(gv_image_is_fixed(stack, strlen(stack)));
    char *heap = gv_strndup(literal, strlen(literal));
    assert_false(gv_image_is_fixed(heap, strlen(heap)));
    gv_free(heap);
    assert_false(gv_image_is_fixed(s_writable, strlen(s_writable)));
    assert_false(gv_image_is_fixed(NULL, 0));
}

static void test_aligned_blocks_are_zeroed_and_on_a_cache_line(void **state)
{
    (void)state;
    unsigned char *p = gv_calloc_aligned(100);
    assert_int_equal((uintptr_t)p % GV_CACHE_LINE, 0);
    for (int i = 0; i < 128; i++) /* rounded up to whole lines */
        assert_int_equal(p[i], 0);
    gv_free_aligned(p);
}

static void test_mutex_and_cond_timeout(void **state)
{
    (void)state;
    gv_mutex m;
    gv_cond c;
    gv_mutex_init(&m);
    gv_cond_init(&c);
    gv_mutex_lock(&m);
    gv_mutex_assert_held(&m);
    uint64_t t0 = gv_now_ns();
    bool signalled = gv_cond_wait_until(&c, &m, t0 + 15 * 1000000u);
    (void)signalled;
    gv_mutex_assert_held(&m);
    gv_mutex_unlock(&m);
    assert_true(gv_now_ns() - t0 >= 10 * 1000000u || signalled);
    gv_cond_fini(&c);
    gv_mutex_fini(&m);
    assert_true(gv_cpu_count() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_clock_never_goes_back),
        cmocka_unit_test(test_unpark_before_park_leaves_a_token),
        cmocka_unit_test(test_unpark_from_another_thread_wakes_the_parked_one),
        cmocka_unit_test(test_same_seed_same_sequence_different_seed_different),
        cmocka_unit_test(test_log_writes_one_line_per_event_at_or_above_level),
        cmocka_unit_test(test_mutex_and_cond_timeout),
        cmocka_unit_test(test_gv_free_takes_blocks_from_gv_malloc_and_from_malloc),
        cmocka_unit_test(test_text_from_gv_buf_take_is_freed_with_free),
        cmocka_unit_test(test_aligned_blocks_are_zeroed_and_on_a_cache_line),
        cmocka_unit_test(test_owned_blocks_made_on_one_thread_are_freed_on_another),
        cmocka_unit_test(test_only_the_programs_read_only_image_is_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
