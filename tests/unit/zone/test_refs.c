/*
 * Unit tests of a zone's reference count: each ref needs its unref, the
 * last one frees the zone, and an unref with no reference left aborts
 * (VD_REQUIRE) instead of freeing twice.
 */
#include "zone_test.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "zone_int.h"

static vd_zone_t *load_example(void)
{
	vd_zone_t *z = NULL;
	vd_errlist_t e;

	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(VD_TEST_DATA "/zone/example.zone", NULL,
				      VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 0);
	vd_errlist_deinit(&e);
	return z;
}

static void test_ref_unref(void **state)
{
	(void)state;
	vd_zone_t *z = load_example();
	assert_int_equal(atomic_load(&z->refs), 1);
	vd_zone_ref(z);
	assert_int_equal(atomic_load(&z->refs), 2);
	vd_zone_unref(z);
	assert_int_equal(atomic_load(&z->refs), 1);
	vd_zone_unref(z); /* frees; ASan reports a leak otherwise */
	vd_zone_ref(NULL);
	vd_zone_unref(NULL);
}

static void test_unref_past_zero_aborts(void **state)
{
	int status = 0;

	(void)state;
	vd_zone_t *z = load_example();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* As if one holder had already dropped a reference it did
		 * not own. */
		atomic_store(&z->refs, 0);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		vd_zone_unref(z);
		_exit(0); /* reached only if the guard is missing */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	vd_zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_unref),
		cmocka_unit_test(test_unref_past_zero_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
