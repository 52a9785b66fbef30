/*
 * sync: the back-off schedule, throttling detection, running a tool with
 * its output captured, and configuration errors with file:line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/sync.h"

static void test_invalid_args(void **state)
{
	vd_sync_conf_t *c = NULL;
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_sync_conf_load(NULL, &c, &e), -EINVAL);
	assert_int_equal(vd_sync_conf_load("x", NULL, &e), -EINVAL);
	assert_int_equal(vd_sync_conf_load("x", &c, NULL), -EINVAL);
	vd_sync_conf_free(NULL);
	assert_false(vd_sync_throttled(NULL));
	vd_errlist_deinit(&e);
}

static void test_backoff(void **state)
{
	(void)state;
	/* base * 2^(attempt-1), capped, with jitter in [d/2, d]. */
	assert_int_equal(vd_sync_backoff_ms(1, 1000, 30000, UINT32_MAX), 1000);
	assert_int_equal(vd_sync_backoff_ms(1, 1000, 30000, 0), 500);
	assert_int_equal(vd_sync_backoff_ms(2, 1000, 30000, UINT32_MAX), 2000);
	assert_int_equal(vd_sync_backoff_ms(4, 1000, 30000, UINT32_MAX), 8000);
	assert_int_equal(vd_sync_backoff_ms(10, 1000, 30000, UINT32_MAX), 30000);
	assert_int_equal(vd_sync_backoff_ms(60, 1000, 30000, 0), 15000);
	for (uint32_t r = 0; r < 4000000000u; r += 400000000u) {
		unsigned ms = vd_sync_backoff_ms(3, 1000, 30000, r);

		assert_true(ms >= 2000 && ms <= 4000);
	}
}

static void test_throttled(void **state)
{
	(void)state;
	assert_true(vd_sync_throttled("An error occurred (RequestLimitExceeded) when "
				      "calling the DescribeVpcs operation"));
	assert_true(vd_sync_throttled("An error occurred (ThrottlingException)"));
	assert_false(vd_sync_throttled("An error occurred (UnauthorizedOperation)"));
	assert_false(vd_sync_throttled(""));
}

static void test_run(void **state)
{
	char out[] = "/tmp/vd-sync-unit-XXXXXX", *err = NULL;
	char *ok[] = { "sh", "-c", "echo data; echo oops >&2; exit 3", NULL };
	char *missing[] = { "/nonexistent/tool", NULL };
	char buf[16] = "";
	int fd = mkstemp(out), status;
	FILE *fp;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vd_sync_run(ok, out, &err, &status), 0);
	assert_int_equal(status, 3);
	assert_string_equal(err, "oops\n");
	free(err);
	fp = fopen(out, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "data\n");
	unlink(out);
	assert_int_equal(vd_sync_run(missing, NULL, &err, &status), -ENOENT);
	assert_string_equal(err,
			    "cannot run /nonexistent/tool: No such file or directory");
	free(err);
}

static void test_config(void **state)
{
	char path[] = "/tmp/vd-sync-unit-XXXXXX";
	int fd = mkstemp(path);
	vd_sync_conf_t *c = NULL;
	vd_errlist_t e;
	FILE *fp;

	(void)state;
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("accounts:\n  - regions: [us-east-1, eu-west-1]\n"
	      "  - profile: prod\n    regions: [us-east-1]\n"
	      "output: /srv/endpoints\nvpcdnsctl: \"\"\n",
	      fp);
	fclose(fp);
	vd_errlist_init(&e);
	assert_int_equal(vd_sync_conf_load(path, &c, &e), 0);
	assert_int_equal(c->naccounts, 2);
	assert_null(c->accounts[0].profile);
	assert_int_equal(c->accounts[0].nregions, 2);
	assert_string_equal(c->accounts[1].profile, "prod");
	assert_string_equal(c->output, "/srv/endpoints");
	assert_string_equal(c->vpcdnsctl, "");
	assert_int_equal(c->tries, VD_SYNC_TRIES);
	assert_int_equal(c->base_ms, VD_SYNC_BASE_MS);
	assert_int_equal(c->max_ms, VD_SYNC_MAX_MS);
	vd_sync_conf_free(c);

	fp = fopen(path, "w");
	fputs("accounts:\n  - profile: a/b\n    regions: [us-east-1]\n"
	      "  - profile: c\n    color: red\n",
	      fp);
	fclose(fp);
	assert_int_equal(vd_sync_conf_load(path, &c, &e), VD_ECONF);
	/* 'output' is reported missing only when nothing else is wrong. */
	assert_int_equal(e.count, 3);
	assert_non_null(strstr(e.msgs[0], ":2: 'a/b' is not a profile name"));
	assert_non_null(strstr(e.msgs[1], ":5: unknown key in an account: 'color'"));
	assert_non_null(strstr(e.msgs[2], ":4: an account needs 'regions'"));
	vd_errlist_deinit(&e);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args), cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_throttled),    cmocka_unit_test(test_run),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
