/*
 * Unit tests of a snapshot's reference count: holders balance, and an
 * unref with no reference left aborts (VD_REQUIRE) instead of freeing the
 * snapshot a second time under the workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf_int.h" /* vd_conf_snap_refcount: to break it on purpose */

static vd_snap_t *load_minimal(void)
{
	char path[] = "/tmp/vd-snap-refs.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char text[] =
		"server:\n  listen: [\"127.0.0.1:5399\"]\n"
		"views:\n  - name: a\n    clients: [\"10.0.0.0/8\"]\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)(sizeof(text) - 1));
	close(fd);
	vd_snap_t *s = NULL;
	assert_int_equal(vd_conf_load(path, &s, NULL), 0);
	unlink(path);
	return s;
}

static void test_balanced(void **state)
{
	(void)state;
	vd_snap_t *s = load_minimal();
	vd_snap_ref(s);
	assert_int_equal(vd_snap_refs(s), 2);
	vd_snap_unref(s);
	vd_snap_unref(s); /* frees; ASan reports a leak otherwise */
}

static void test_unref_past_zero_aborts(void **state)
{
	int status = 0;

	(void)state;
	vd_snap_t *s = load_minimal();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		atomic_store(vd_conf_snap_refcount(s),
			     0); /* a reference dropped twice */
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		vd_snap_unref(s);
		_exit(0); /* reached only if the guard is missing */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	vd_snap_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_balanced),
		cmocka_unit_test(test_unref_past_zero_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
