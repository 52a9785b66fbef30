/*
 * Unit tests of the control channel's pure parts: the request parser
 * (commands, --json anywhere, names, explain types and --client, every
 * rejection with its reason, size and byte checks) and the response
 * writers (status line, text and JSON bodies for reload results, flush,
 * stats totals and errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>

#include "vpcdns/ctl.h"

static vd_ctl_req_t req;
static char err[256];

static int parse(const char *line)
{
	return vd_ctl_parse(line, strlen(line), &req, err, sizeof(err));
}

static void rejected(const char *line, const char *why)
{
	assert_int_equal(parse(line), -EINVAL);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': got '%s', expected '%s'", line, err, why);
}

static void test_null_and_empty(void **state)
{
	(void)state;
	rejected("", "no command");
	rejected("\n", "no command");
	rejected("   \t \r\n", "no command");
	rejected("--json", "no command");
	assert_int_equal(vd_ctl_parse("reload", 6, &req, NULL, 0), 0);
	assert_int_equal(vd_ctl_parse("bogus", 5, &req, NULL, 0), -EINVAL);
	assert_null(vd_ctl_cmd_name(VD_CTL_NCMDS));
}

static void test_commands(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		vd_ctl_cmd_t cmd;
		bool json;
	} ok[] = {
		{ "reload\n", VD_CTL_RELOAD, false },
		{ "--json reload", VD_CTL_RELOAD, true },
		{ "status --json\r\n", VD_CTL_STATUS, true },
		{ "  stats  ", VD_CTL_STATS, false },
		{ "flush-all", VD_CTL_FLUSH_ALL, false },
		{ "views\t--json", VD_CTL_VIEWS, true },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(ok[i].line), 0);
		assert_int_equal(req.cmd, ok[i].cmd);
		assert_int_equal(req.json, ok[i].json);
		assert_non_null(vd_ctl_cmd_name(req.cmd));
	}
	rejected("bogus", "unknown command 'bogus'");
	rejected("Reload", "unknown command");
	rejected("status extra", "usage: status");
	rejected("reload --force", "unknown option '--force'");
	rejected("status --client 10.0.0.1", "status takes no --client");
	rejected("a b c d e f g h i", "too many words");
	assert_non_null(strstr(vd_ctl_usage(), "explain NAME [TYPE] --client ADDRESS"));
}

static void test_flush_name(void **state)
{
	(void)state;
	assert_int_equal(parse("flush WWW.Example.COM"), 0);
	assert_int_equal(req.cmd, VD_CTL_FLUSH);
	assert_memory_equal(req.name, "\3WWW\7Example\3COM", 17);
	assert_memory_equal(req.name_lc, "\3www\7example\3com", 17);
	assert_string_equal(req.name_text, "WWW.Example.COM");
	assert_int_equal(parse("flush ."), 0);
	assert_int_equal(req.name[0], 0);
	rejected("flush", "usage: flush NAME");
	rejected("flush a b", "usage: flush NAME");
	rejected("flush a..b", "bad name 'a..b'");
	char line[400];
	snprintf(line, sizeof(line), "flush %0300d", 0); /* a label over 63 */
	rejected(line, "bad name");
}

static void test_explain(void **state)
{
	(void)state;
	struct sockaddr_in *sin = (struct sockaddr_in *)&req.client;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&req.client;

	assert_int_equal(parse("explain s3.example --client 10.1.2.3"), 0);
	assert_int_equal(req.cmd, VD_CTL_EXPLAIN);
	assert_int_equal(req.qtype, 0);
	assert_memory_equal(req.qname, "\2s3\7example", 12);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0a010203);

	assert_int_equal(parse("--client ::1 explain x.test aaaa --json"), 0);
	assert_true(req.json);
	assert_int_equal(req.qtype, VD_T_AAAA);
	assert_memory_equal(req.qname, "\5_AAAA\1x\4test", 14);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_string_equal(vd_ctl_type_name(VD_T_AAAA), "AAAA");
	assert_null(vd_ctl_type_name(12345));

	rejected("explain x.test", "usage: explain NAME [TYPE] --client ADDRESS");
	rejected("explain --client 10.0.0.1", "usage: explain");
	rejected("explain x --client", "--client needs an address");
	rejected("explain x --client nowhere", "bad address 'nowhere'");
	rejected("explain x NAPTR --client 10.0.0.1", "unknown type 'NAPTR'");
	rejected("explain x A B --client 10.0.0.1", "usage: explain");
	/* The type label must still fit a name. */
	char line[600], name[300];
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 4; i++)
		memset(name + i * 62, i == 3 ? 'd' : 'a' + i, 61),
			name[i * 62 + 61] = '.';
	name[4 * 62 - 1] = '\0';
	snprintf(line, sizeof(line), "explain %s --client 10.0.0.1", name);
	assert_int_equal(parse(line), 0);
	snprintf(line, sizeof(line), "explain %s HTTPS --client 10.0.0.1", name);
	rejected(line, "name too long to ask about type HTTPS");
}

static void test_bytes_and_size(void **state)
{
	(void)state;
	static char big[VD_CTL_REQUEST_MAX + 2];

	rejected("status\x01", "not printable ASCII (0x01 at 6)");
	rejected("stat\xc3\xa9s", "not printable ASCII (0xc3 at 4)");
	rejected("status\nstatus", "not printable ASCII (0x0a at 6)");
	assert_int_equal(vd_ctl_parse("status\0", 7, &req, err, sizeof(err)), -EINVAL);
	/* 4095 characters and the newline fit; one more does not. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "status", 6);
	big[VD_CTL_REQUEST_MAX - 1] = '\n';
	assert_int_equal(vd_ctl_parse(big, VD_CTL_REQUEST_MAX, &req, err, sizeof(err)),
			 0);
	big[VD_CTL_REQUEST_MAX - 1] = ' ';
	big[VD_CTL_REQUEST_MAX] = '\n';
	assert_int_equal(vd_ctl_parse(big, VD_CTL_REQUEST_MAX + 1, &req, err,
				      sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "request longer than 4096 bytes"));
}

/* ---- responses ---------------------------------------------------------- */

static void test_write_reload(void **state)
{
	(void)state;
	vd_ctl_buf_t out = { 0 };
	vd_errlist_t errs;
	vd_daemon_reload_result_t r = { .rc = 0, .generation = 7, .ms = 12 };

	vd_ctl_write_reload(&out, false, &r);
	assert_string_equal(out.p, "ok\ngeneration 7 loaded in 12 ms\n");
	vd_ctl_buf_free(&out);
	vd_ctl_write_reload(&out, true, &r);
	assert_string_equal(out.p, "ok\n{\"ok\":true,\"generation\":7,\"ms\":12}\n");
	vd_ctl_buf_free(&out);

	vd_errlist_init(&errs);
	vd_errlist_add(&errs, "/z/a.zone", 6, "bad \"A\" record");
	vd_errlist_add(&errs, "/etc/vpcdns.yaml", 3, "unknown key");
	r = (vd_daemon_reload_result_t){
		.rc = VD_ECONF, .generation = 6, .ms = 3, .errs = &errs
	};
	vd_ctl_write_reload(&out, false, &r);
	assert_string_equal(out.p,
			    "error\n/z/a.zone:6: bad \"A\" record\n"
			    "/etc/vpcdns.yaml:3: unknown key\n"
			    "reload failed (2 errors); generation 6 keeps serving\n");
	vd_ctl_buf_free(&out);
	vd_ctl_write_reload(&out, true, &r);
	assert_string_equal(out.p,
			    "error\n{\"ok\":false,\"errors\":[\"/z/a.zone:6: bad "
			    "\\\"A\\\" record\",\"/etc/vpcdns.yaml:3: unknown "
			    "key\"],\"generation\":6,\"ms\":3}\n");
	vd_ctl_buf_free(&out);
	vd_errlist_deinit(&errs);
}

static void test_write_flush_and_error(void **state)
{
	(void)state;
	vd_ctl_buf_t out = { 0 };

	assert_int_equal(parse("flush Www.Example"), 0);
	vd_ctl_write_flush(&out, &req, 0, 3, 2, 2);
	assert_string_equal(out.p, "ok\nremoved 3 cache entries for Www.Example.\n");
	vd_ctl_buf_free(&out);
	vd_ctl_write_flush(&out, &req, 0, 1, 1, 2);
	assert_string_equal(out.p, "ok\nremoved 1 cache entries for Www.Example. "
				   "(1 of 2 workers answered)\n");
	vd_ctl_buf_free(&out);
	assert_int_equal(parse("--json flush-all"), 0);
	vd_ctl_write_flush(&out, &req, 0, 9, 2, 2);
	assert_string_equal(out.p, "ok\n{\"ok\":true,\"removed\":9,\"workers\":2,"
				   "\"answered\":2}\n");
	vd_ctl_buf_free(&out);
	vd_ctl_write_flush(&out, &req, -ESHUTDOWN, 0, 0, 2);
	assert_non_null(strstr(out.p, "error\n{\"ok\":false,\"errors\":[\""));
	vd_ctl_buf_free(&out);
	vd_ctl_write_error(&out, false, "unknown command 'x'");
	assert_string_equal(out.p, "error\nunknown command 'x'\n");
	vd_ctl_buf_free(&out);
}

static void test_write_stats(void **state)
{
	(void)state;
	vd_ctl_buf_t out = { 0 };
	vd_worker_stats_t w[3];

	memset(w, 0, sizeof(w));
	for (int i = 0; i < 3; i++) {
		w[i].worker = i;
		w[i].valid = i != 2; /* the last one did not answer */
		w[i].has_cache = true;
		w[i].query.queries = 10u + (unsigned)i;
		w[i].cache.entries = 5;
		w[i].net.udp_recv = 100;
		w[i].fwd.scrubbed = 1;
	}
	vd_ctl_write_stats(&out, false, w, 3);
	assert_non_null(strstr(out.p, "ok\ntotal query: queries=21 "));
	assert_non_null(strstr(out.p, "\ntotal cache: entries=10 "));
	assert_non_null(strstr(out.p, "\ntotal net: udp_recv=200 "));
	assert_non_null(strstr(out.p, "scrubbed=2\n"));
	assert_non_null(strstr(out.p, "\nworker 1 query: queries=11 "));
	assert_non_null(strstr(out.p, "\nworker 2: did not answer in time\n"));
	vd_ctl_buf_free(&out);
	vd_ctl_write_stats(&out, true, w, 3);
	assert_non_null(strstr(out.p, "ok\n{\"ok\":true,\"workers\":3,\"answered\":2,"
				      "\"total\":{\"pending\":0,"));
	assert_non_null(strstr(out.p, "{\"worker\":2,\"valid\":false}"));
	vd_ctl_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_flush_name),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_bytes_and_size),
		cmocka_unit_test(test_write_reload),
		cmocka_unit_test(test_write_flush_and_error),
		cmocka_unit_test(test_write_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
