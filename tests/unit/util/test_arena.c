/*
 * Unit tests for the bump arena: alignment, chunk growth, dedicated chunks
 * for large requests, reset keeping one chunk, copies, and (under ASan)
 * poisoning of memory released by reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vpcdns/util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static void test_invalid_args(void **state)
{
	vd_arena_t a;

	(void)state;
	vd_arena_init(NULL, 0);
	vd_arena_deinit(NULL);
	vd_arena_reset(NULL);
	assert_null(vd_arena_alloc(NULL, 8));
	vd_arena_init(&a, 0);
	assert_null(vd_arena_alloc(&a, SIZE_MAX));
	assert_null(vd_arena_alloc(&a, SIZE_MAX - 8));
	assert_null(vd_arena_strdup(&a, NULL));
	assert_null(vd_arena_memdup(&a, NULL, 4));
	assert_null(vd_arena_strdup(NULL, "x"));
	vd_arena_deinit(&a);
}

static void test_alignment_and_distinct(void **state)
{
	vd_arena_t a;
	uint8_t *prev = NULL;

	(void)state;
	vd_arena_init(&a, 256);
	for (size_t i = 0; i < 200; i++) {
		size_t sz = i % 37;
		uint8_t *p = vd_arena_alloc(&a, sz);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_ptr_not_equal(p, prev);
		memset(p, (int)i, sz);
		prev = p;
	}
	assert_true(a.used >= 200 * 16);
	vd_arena_deinit(&a);
	assert_null(a.head);
}

static void test_contents_survive_growth(void **state)
{
	vd_arena_t a;
	uint32_t *ptrs[500];

	(void)state;
	vd_arena_init(&a, 128);
	for (uint32_t i = 0; i < 500; i++) {
		ptrs[i] = vd_arena_alloc(&a, sizeof(uint32_t) * 4);
		assert_non_null(ptrs[i]);
		for (int j = 0; j < 4; j++)
			ptrs[i][j] = i * 4 + (uint32_t)j;
	}
	for (uint32_t i = 0; i < 500; i++)
		for (int j = 0; j < 4; j++)
			assert_int_equal(ptrs[i][j], i * 4 + (uint32_t)j);
	vd_arena_deinit(&a);
}

static void test_large(void **state)
{
	vd_arena_t a;
	uint8_t *small1, *big, *small2;

	(void)state;
	vd_arena_init(&a, 1024);
	small1 = vd_arena_alloc(&a, 16);
	big = vd_arena_alloc(&a, 100000);
	small2 = vd_arena_alloc(&a, 16);
	assert_non_null(small1);
	assert_non_null(big);
	assert_non_null(small2);
	memset(big, 0xab, 100000);
	assert_int_equal((uintptr_t)big % 16, 0);
	/* The large block did not use up the current chunk. */
	assert_ptr_equal(small2, small1 + 16);
	assert_int_equal(big[99999], 0xab);
	vd_arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(a.head);
	vd_arena_deinit(&a);
}

static void test_reset_reuses(void **state)
{
	vd_arena_t a;
	void *before[101], *again;
	bool reused = false;

	(void)state;
	vd_arena_init(&a, 512);
	for (int i = 0; i < 101; i++) {
		before[i] = vd_arena_alloc(&a, 64);
		assert_non_null(before[i]);
	}
	vd_arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(a.head);
	again = vd_arena_alloc(&a, 64);
	assert_non_null(again);
	assert_int_equal(a.used, 64);
	/* The kept chunk serves again (no fresh malloc in steady state). */
	for (int i = 0; i < 101; i++)
		reused |= before[i] == again;
	assert_true(reused);
	vd_arena_deinit(&a);
}

static void test_dup(void **state)
{
	vd_arena_t a;
	char *s;
	uint8_t *m;
	static const uint8_t bytes[5] = { 1, 2, 3, 0, 5 };

	(void)state;
	vd_arena_init(&a, 0);
	s = vd_arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	m = vd_arena_memdup(&a, bytes, sizeof(bytes));
	assert_memory_equal(m, bytes, sizeof(bytes));
	assert_ptr_not_equal(m, bytes);
	assert_non_null(vd_arena_memdup(&a, NULL, 0));
	assert_non_null(vd_arena_alloc(&a, 0));
	vd_arena_deinit(&a);
}

static void test_push(void **state)
{
	vd_arena_t a;
	int *arr = NULL;
	size_t n = 0, cap = 0;

	(void)state;
	vd_arena_init(&a, 256);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(
			vd_arena_push(&a, (void **)&arr, &n, &cap, &i, sizeof(i)), 0);
	assert_int_equal(n, 1000);
	assert_true(cap >= n);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(arr[i], i); /* kept across every doubling */
	vd_arena_deinit(&a);
}

static void test_poison(void **state)
{
	(void)state;
#ifdef TEST_ASAN
	vd_arena_t a;
	uint8_t *p;

	vd_arena_init(&a, 1024);
	p = vd_arena_alloc(&a, 20);
	assert_int_equal(__asan_address_is_poisoned(p), 0);
	assert_int_equal(__asan_address_is_poisoned(p + 19), 0);
	/* Padding after a request stays poisoned: overruns are caught. */
	assert_int_equal(__asan_address_is_poisoned(p + 20), 1);
	vd_arena_reset(&a);
	assert_int_equal(__asan_address_is_poisoned(p), 1);
	vd_arena_deinit(&a);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_alignment_and_distinct),
		cmocka_unit_test(test_contents_survive_growth),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_reset_reuses),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_push),
		cmocka_unit_test(test_poison),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
