/*
 * Unit tests for VD_REQUIRE: a false condition aborts with the condition,
 * file and line on stderr, in every build; a true one does nothing. Each
 * failing case runs in a child process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vpcdns/util.h"

/* Runs fn in a child with stderr on a pipe; returns the wait status and
 * what the child wrote. */
static int in_child(void (*fn)(void), char *err, size_t errlen)
{
	int fds[2], status = 0;
	ssize_t n, got = 0;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], err + got, errlen - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void require_true(void)
{
	int x = 1;
	VD_REQUIRE(x == 1);
}

static void require_false(void)
{
	unsigned refs = 0;
	VD_REQUIRE(refs > 0);
}

static void wbuf_past_end(void)
{
	/* A cursor past its buffer is a corrupted writer, not bad input. */
	char buf[8];
	size_t cap = sizeof(buf), len = cap + 1;
	VD_REQUIRE(len <= cap);
	(void)buf;
}

static void test_true_does_nothing(void **state)
{
	char err[512];
	(void)state;
	int st = in_child(require_true, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(err, "");
}

static void test_false_aborts_naming_it(void **state)
{
	char err[512];
	(void)state;
	int st = in_child(require_false, err, sizeof(err));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_non_null(strstr(err, "requirement failed: refs > 0"));
	assert_non_null(strstr(err, "test_require.c:"));
	st = in_child(wbuf_past_end, err, sizeof(err));
	assert_true(WIFSIGNALED(st));
	assert_non_null(strstr(err, "requirement failed: len <= cap"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_true_does_nothing),
		cmocka_unit_test(test_false_aborts_naming_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
