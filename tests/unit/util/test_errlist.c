/*
 * Unit tests for the error list ("file:line: reason" collection), plus the
 * error-code strings it is usually paired with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/util.h"

static void test_invalid_args(void **state)
{
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(NULL);
	vd_errlist_deinit(NULL);
	vd_errlist_add(NULL, "f", 1, "x");
	vd_errlist_init(&e);
	vd_errlist_add(&e, "f", 1, NULL);
	assert_int_equal(e.count, 0);
	vd_errlist_deinit(&e);
	assert_non_null(vd_strerror(12345));
	assert_string_equal(vd_strerror(12345), "unknown error");
	assert_string_equal(vd_strerror(-999999), "unknown error");
}

static void test_format(void **state)
{
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	vd_errlist_add(&e, "vpcdns.yaml", 12, "unknown key '%s'", "foo");
	vd_errlist_add(&e, "zones/a.zone", 0, "cannot open: %s", "No such file");
	vd_errlist_add(&e, NULL, 3, "%d problems", 3);
	assert_int_equal(e.count, 3);
	assert_string_equal(e.msgs[0], "vpcdns.yaml:12: unknown key 'foo'");
	assert_string_equal(e.msgs[1], "zones/a.zone: cannot open: No such file");
	assert_string_equal(e.msgs[2], "3 problems");
	vd_errlist_deinit(&e);
	assert_int_equal(e.count, 0);
	assert_null(e.msgs);
}

static void test_growth(void **state)
{
	vd_errlist_t e;
	char want[64];

	(void)state;
	vd_errlist_init(&e);
	for (unsigned long i = 1; i <= 100; i++)
		vd_errlist_add(&e, "c.yaml", i, "error %lu", i * 7);
	assert_int_equal(e.count, 100);
	assert_true(e.cap >= 100);
	for (unsigned long i = 1; i <= 100; i++) {
		snprintf(want, sizeof(want), "c.yaml:%lu: error %lu", i, i * 7);
		assert_string_equal(e.msgs[i - 1], want);
	}
	vd_errlist_deinit(&e);
	/* Reusable after deinit. */
	vd_errlist_add(&e, "x", 1, "again");
	assert_int_equal(e.count, 1);
	vd_errlist_deinit(&e);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(vd_strerror(0), "success");
	assert_string_equal(vd_strerror(VD_EMALF), "malformed input");
	assert_string_equal(vd_strerror(VD_ESPACE), "output buffer too small");
	assert_string_equal(vd_strerror(VD_ECONF), "invalid configuration");
	assert_string_equal(vd_strerror(VD_ENOTFOUND), "not found");
	assert_string_equal(vd_strerror(VD_ETIMEOUT), "timed out");
	assert_string_equal(vd_strerror(VD_ELIMIT), "limit reached");
	assert_string_equal(vd_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(vd_strerror(-EINVAL), strerror(EINVAL));
}

static void test_log_level(void **state)
{
	(void)state;
	vd_log_set_level(VD_LOG_DEBUG);
	assert_int_equal(vd_log_get_level(), VD_LOG_DEBUG);
	vd_log_set_level(VD_LOG_ERR);
	assert_int_equal(vd_log_get_level(), VD_LOG_ERR);
	vd_log_set_level((vd_log_level_t)42);
	assert_int_equal(vd_log_get_level(), VD_LOG_DEBUG);
	vd_log(VD_LOG_DEBUG, "log line from %s", "test_errlist");
	vd_log_set_level(VD_LOG_INFO);
}

static void test_now_ms(void **state)
{
	uint64_t a, b;

	(void)state;
	a = vd_now_ms();
	b = vd_now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
	assert_true(b - a < 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args), cmocka_unit_test(test_format),
		cmocka_unit_test(test_growth),	     cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_log_level),    cmocka_unit_test(test_now_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
