/*
 * Unit tests for the DNS firewall: list parsing (every kind of bad line
 * with its file:line), matching (exact, wildcard, case), rule order by
 * group and priority, the query type filter and trusted redirections.
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

#include "vpcdns/fw.h"
#include "vpcdns/wire.h"

static vd_fw_list_t *parse_ok(const char *text)
{
	vd_fw_list_t *l = NULL;
	vd_errlist_t e;

	vd_errlist_init(&e);
	assert_int_equal(vd_fw_list_parse(text, strlen(text), "t.list", &l, &e), 0);
	assert_int_equal(e.count, 0);
	assert_non_null(l);
	vd_errlist_deinit(&e);
	return l;
}

/* Whether text (presentation form, any case) matches l. */
static bool match(const vd_fw_list_t *l, const char *text)
{
	uint8_t wire[VD_NAME_MAX];

	assert_int_equal(vd_name_from_text(text, wire, NULL), 0);
	vd_name_lower(wire, wire);
	return vd_fw_list_match(l, wire);
}

static void test_invalid_args(void **state)
{
	vd_fw_list_t *l = (vd_fw_list_t *)1;
	vd_fw_match_t m;

	(void)state;
	vd_fw_list_free(NULL);
	assert_int_equal(vd_fw_list_parse("a", 1, "f", NULL, NULL), -EINVAL);
	assert_int_equal(vd_fw_list_parse(NULL, 3, "f", &l, NULL), -EINVAL);
	assert_int_equal(vd_fw_list_read(NULL, "f", &l, NULL), -EINVAL);
	assert_false(vd_fw_list_match(NULL, (const uint8_t *)"\0"));
	assert_int_equal(vd_fw_list_count(NULL), 0);
	assert_false(vd_fw_check(NULL, (const uint8_t *)"\0", 1, false, &m));
	assert_null(m.rule);
	assert_string_equal(vd_fw_action_name(VD_FW_BLOCK), "BLOCK");
	assert_string_equal(vd_fw_action_name((vd_fw_action_t)7), "?");
}

static void test_exact_and_wildcard(void **state)
{
	vd_fw_list_t *l = parse_ok("# malware\n"
				   "\n"
				   "Bad.Example.COM\n"
				   "*.evil.test.   # trailing comment\n"
				   "  spaced.test\t\r\n"
				   "bad.example.com\n" /* duplicate */
				   "evil.test\n"
				   "last.test");

	(void)state;
	assert_int_equal(vd_fw_list_count(l), 4);
	/* Exact: only the name itself, any case. */
	assert_true(match(l, "bad.example.com"));
	assert_true(match(l, "BAD.example.Com."));
	assert_false(match(l, "www.bad.example.com"));
	assert_false(match(l, "example.com"));
	assert_true(match(l, "spaced.test"));
	assert_true(match(l, "last.test"));
	/* Wildcard: every name below, not the name itself... */
	assert_true(match(l, "a.evil.test"));
	assert_true(match(l, "x.y.z.EVIL.test"));
	assert_false(match(l, "notevil.test"));
	/* ...unless it is listed too. */
	assert_true(match(l, "evil.test"));
	vd_fw_list_free(l);

	l = parse_ok("*.only.test\n");
	assert_false(match(l, "only.test"));
	assert_true(match(l, "w.only.test"));
	vd_fw_list_free(l);

	l = parse_ok("*\n");
	assert_true(match(l, "anything.at.all"));
	assert_true(match(l, "com"));
	vd_fw_list_free(l);

	l = parse_ok("# nothing but comments\n\n");
	assert_int_equal(vd_fw_list_count(l), 0);
	assert_false(match(l, "a.test"));
	vd_fw_list_free(l);
}

static void expect_error(const char *text, const char *msg)
{
	vd_fw_list_t *l = NULL;
	vd_errlist_t e;

	vd_errlist_init(&e);
	assert_int_equal(vd_fw_list_parse(text, strlen(text), "b.list", &l, &e),
			 VD_ECONF);
	assert_null(l);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0], msg);
	vd_errlist_deinit(&e);
}

static void test_errors(void **state)
{
	char longline[1200];

	(void)state;
	expect_error("ok.test\nbad..name\n", "b.list:2: bad domain name 'bad..name'");
	expect_error("a.test b.test\n",
		     "b.list:1: more than one name on the line ('a.test b.test')");
	expect_error("\n\nwww.*.test\n",
		     "b.list:3: '*' is allowed only as the whole first label "
		     "('*.example.com') in 'www.*.test'");
	expect_error("**.test\n", "b.list:1: '*' is allowed only as the whole first "
				  "label ('*.example.com') in '**.test'");
	expect_error(".\n", "b.list:1: bad domain name '.'");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	expect_error(longline, "b.list:1: line too long for a domain name");
	/* A label over 63 bytes. */
	expect_error("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     ".test\n",
		     "b.list:1: bad domain name "
		     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     ".test'");
}

static void test_nul_and_many_errors(void **state)
{
	static const char nul[] = "a.test\nb\0c.test\n";
	vd_fw_list_t *l = NULL;
	vd_errlist_t e;
	char buf[4096] = "";

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_fw_list_parse(nul, sizeof(nul) - 1, "n.list", &l, &e),
			 VD_ECONF);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0], "n.list:2: NUL byte in the line");
	vd_errlist_deinit(&e);

	for (int i = 0; i < 25; i++)
		strcat(buf, "x..y\n");
	vd_errlist_init(&e);
	assert_int_equal(vd_fw_list_parse(buf, strlen(buf), "m.list", &l, &e),
			 VD_ECONF);
	assert_int_equal(e.count, VD_FW_LIST_MAX_ERRORS + 1);
	assert_string_equal(e.msgs[9], "m.list:10: bad domain name 'x..y'");
	assert_string_equal(e.msgs[10], "m.list: 15 more bad lines");
	vd_errlist_deinit(&e);
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/vd-fw-XXXXXX";
	vd_fw_list_t *l = NULL;
	vd_errlist_t e;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "one.test\n*.two.test\n", 20), 20);
	close(fd);
	vd_errlist_init(&e);
	assert_int_equal(vd_fw_list_read(path, "lists/x", &l, &e), 0);
	assert_int_equal(vd_fw_list_count(l), 2);
	assert_true(vd_fw_list_bytes(l) > 0);
	vd_fw_list_free(l);
	unlink(path);
	assert_int_equal(vd_fw_list_read(path, "lists/x", &l, &e), -ENOENT);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0],
			    "lists/x: cannot open: No such file or directory");
	assert_int_equal(vd_fw_list_read("/tmp", "tmp", &l, &e), VD_ECONF);
	assert_string_equal(e.msgs[1], "tmp: not a regular file");
	vd_errlist_deinit(&e);
}

static void test_many_names(void **state)
{
	size_t n = 200000, cap = n * 24, len = 0;
	char *buf = malloc(cap);
	vd_fw_list_t *l = NULL;
	char name[64];

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "h%zu.example.net\n", i);
	assert_int_equal(vd_fw_list_parse(buf, len, "big", &l, NULL), 0);
	free(buf);
	assert_int_equal(vd_fw_list_count(l), n);
	for (size_t i = 0; i < n; i += 997) {
		snprintf(name, sizeof(name), "h%zu.example.net", i);
		assert_true(match(l, name));
		snprintf(name, sizeof(name), "x%zu.example.net", i);
		assert_false(match(l, name));
	}
	vd_fw_list_free(l);
}

/* ---- rules ------------------------------------------------------------- */

static const uint8_t qname_bad[] = "\3bad\4test";
static const uint8_t qname_ok[] = "\2ok\4test";

static void test_rule_order(void **state)
{
	vd_fw_list_t *bad = parse_ok("bad.test\n");
	vd_fw_list_t *both = parse_ok("bad.test\nok.test\n");
	static const uint16_t only_a[] = { 1 };
	vd_fw_rule_t r1[] = {
		{ .priority = 10,
		  .list_name = "both",
		  .list = both,
		  .action = VD_FW_ALERT,
		  .types = only_a,
		  .ntypes = 1 },
		{ .priority = 20,
		  .list_name = "bad",
		  .list = bad,
		  .action = VD_FW_BLOCK,
		  .block = VD_FW_NXDOMAIN },
	};
	vd_fw_rule_t r2[] = {
		{ .priority = 5,
		  .list_name = "both",
		  .list = both,
		  .action = VD_FW_ALLOW,
		  .trust_redirections = true },
	};
	vd_fw_group_t g1 = { "g1", r1, 2 }, g2 = { "g2", r2, 1 };
	const vd_fw_group_t *gs[] = { &g1, &g2 };
	vd_fw_set_t set = { gs, 2 };
	vd_fw_match_t m;

	(void)state;
	/* A: the alert at priority 10 decides before the block at 20. */
	assert_true(vd_fw_check(&set, qname_bad, 1, false, &m));
	assert_ptr_equal(m.group, &g1);
	assert_ptr_equal(m.rule, &r1[0]);
	/* AAAA: the alert rule is for A only: the block decides. */
	assert_true(vd_fw_check(&set, qname_bad, 28, false, &m));
	assert_ptr_equal(m.rule, &r1[1]);
	/* Groups in the view's order: g2's allow comes after g1's rules. */
	assert_true(vd_fw_check(&set, qname_ok, 28, false, &m));
	assert_ptr_equal(m.group, &g2);
	assert_int_equal(m.rule->action, VD_FW_ALLOW);
	/* As a CNAME target: the allow trusts redirections and is skipped. */
	assert_false(vd_fw_check(&set, qname_ok, 28, true, &m));
	assert_null(m.rule);
	assert_true(vd_fw_check(&set, qname_bad, 28, true, &m));
	assert_ptr_equal(m.rule, &r1[1]);
	/* The other order of groups: g2's allow wins. */
	const vd_fw_group_t *rev[] = { &g2, &g1 };
	vd_fw_set_t set2 = { rev, 2 };
	assert_true(vd_fw_check(&set2, qname_bad, 28, false, &m));
	assert_ptr_equal(m.group, &g2);
	vd_fw_list_free(bad);
	vd_fw_list_free(both);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_exact_and_wildcard),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_many_errors),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_rule_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
