/*
 * Unit tests of zone loading: a valid file using the presentation format's
 * features ($ORIGIN, $TTL, relative names, @, carried-over owners,
 * parentheses, comments) and what it turns into (apex, RRsets merged with
 * the smallest TTL, duplicates dropped, rdata in wire form, SOA and
 * negative TTL); how the origin is settled with and without the
 * operator's; and every rejected file, each with the exact "path:line:"
 * message an operator would see.
 */
#include "zone_test.h"

#include <errno.h>
#include <sys/stat.h>

static void test_bad_args(void **state)
{
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;
	const vd_rrset_t *set = (const vd_rrset_t *)1;
	bool wild = true;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(NULL, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 -EINVAL);
	assert_null(z);
	assert_int_equal(vd_zone_load("x.zone", NULL, VD_ZONE_FALLBACK_FORWARD, NULL,
				      &e),
			 -EINVAL);
	assert_int_equal(vd_zone_load("x.zone", NULL, (vd_zone_fallback_t)7, &z, &e),
			 -EINVAL);
	assert_int_equal(e.count, 0);
	/* An origin that is not a name is reported, not crashed on. */
	assert_int_equal(vd_zone_load("x.zone", "a..b", VD_ZONE_FALLBACK_FORWARD, &z,
				      &e),
			 VD_ECONF);
	zt_expect_error(&e, "x.zone", ": invalid zone origin \"a..b\"");
	vd_errlist_deinit(&e);

	vd_zone_ref(NULL);
	vd_zone_unref(NULL);
	assert_null(vd_zone_apex(NULL));
	assert_null(vd_zone_path(NULL));
	assert_null(vd_zone_soa(NULL));
	assert_int_equal(vd_zone_neg_ttl(NULL), 0);
	assert_int_equal(vd_zone_rr_count(NULL), 0);
	assert_int_equal(vd_zone_lookup(NULL, zt_name("a."), VD_T_A, &set, &wild),
			 VD_ZL_FALLBACK);
	assert_null(set);
	assert_false(wild);
}

/* rrset at name/type of z, asserting the lookup answers it exactly. */
static const vd_rrset_t *get(const vd_zone_t *z, const char *name, uint16_t type)
{
	const vd_rrset_t *set = NULL;
	bool wild = true;

	assert_int_equal(vd_zone_lookup(z, zt_name(name), type, &set, &wild),
			 VD_ZL_ANSWER);
	assert_false(wild);
	assert_non_null(set);
	assert_int_equal(set->type, type);
	assert_int_equal(set->rclass, VD_C_IN);
	return set;
}

static void assert_rdata(const vd_rrset_t *s, unsigned i, const void *want, size_t len)
{
	assert_true(i < s->count);
	assert_int_equal(s->rdlen[i], len);
	assert_memory_equal(s->rdata[i], want, len);
}

static void test_valid(void **state)
{
	const char *path = VD_TEST_DATA "/zone/example.zone";
	const vd_rrset_t *s;
	vd_errlist_t e;
	vd_zone_t *z = NULL;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e), 0);
	assert_int_equal(e.count, 0);
	assert_non_null(z);
	assert_string_equal(vd_zone_path(z), path);
	assert_int_equal(vd_zone_fallback(z), VD_ZONE_FALLBACK_FORWARD);
	/* The file writes Example.COM.; the apex is kept lower-cased. */
	assert_memory_equal(vd_zone_apex(z), "\7example\3com", 13);
	/* SOA, 2 NS, ns1 A, 2 www A (a third is a duplicate), MX, TXT,
	 * host.sub A, sub AAAA. */
	assert_int_equal(vd_zone_rr_count(z), 10);

	s = vd_zone_soa(z);
	assert_non_null(s);
	assert_int_equal(s->type, VD_T_SOA);
	assert_int_equal(s->count, 1);
	assert_int_equal(s->ttl, 3600); /* $TTL 1h */
	assert_int_equal(vd_get32(s->rdata[0] + s->rdlen[0] - 20), 2026010101);
	assert_int_equal(vd_get32(s->rdata[0] + s->rdlen[0] - 4), 600);
	assert_int_equal(vd_zone_neg_ttl(z), 600);
	assert_ptr_equal(get(z, "example.com.", VD_T_SOA), s);

	s = get(z, "example.com.", VD_T_NS); /* owners carried over */
	assert_int_equal(s->count, 2);
	/* Canonical rdata order; relative names completed, case kept. */
	assert_rdata(s, 0, "\3ns1\7Example\3COM", 17);
	assert_rdata(s, 1, "\3ns2\7example\3net", 17);

	s = get(z, "www.example.com.", VD_T_A);
	assert_int_equal(s->count, 2);
	assert_int_equal(s->ttl, 300); /* the smallest of 300 and 600 */
	assert_rdata(s, 0, "\xc0\x00\x02\x0a", 4);
	assert_rdata(s, 1, "\xc0\x00\x02\x0b", 4);

	s = get(z, "mail.example.com.", VD_T_MX);
	assert_rdata(s, 0, "\0\12\2mx\7example\3net", 18);
	s = get(z, "txt.example.com.", VD_T_TXT);
	assert_rdata(s, 0, "\13hello world\15second string", 26);

	/* After $ORIGIN sub.example.com.: relative names and @ follow it,
	 * and a later $TTL applies from there on. */
	s = get(z, "host.sub.example.com.", VD_T_A);
	assert_int_equal(s->ttl, 3600);
	assert_rdata(s, 0, "\xc0\x00\x02\x14", 4);
	s = get(z, "sub.example.com.", VD_T_AAAA);
	assert_int_equal(s->ttl, 30);
	assert_rdata(s, 0, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x20", 16);
	vd_zone_unref(z);
	vd_errlist_deinit(&e);
}

/* Without the operator's origin and without $ORIGIN, the first SOA's
 * fully qualified owner is the origin of the names before and after it. */
static void test_origin_from_soa(void **state)
{
	const char *path = zt_write(
		"soa.zone", "www A 192.0.2.1\n"
			    "corp.internal. 60 IN SOA ns hostmaster 1 2 3 4 300\n"
			    "ns A 192.0.2.53\n");
	const vd_rrset_t *soa;
	vd_zone_t *z = NULL;

	(void)state;
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, NULL),
			 0);
	assert_memory_equal(vd_zone_apex(z), "\4corp\10internal", 15);
	soa = get(z, "corp.internal.", VD_T_SOA);
	/* MNAME, RNAME, then 5 x 32 bits. */
	assert_int_equal(soa->rdlen[0], 18 + 26 + 20);
	assert_memory_equal(soa->rdata[0], "\2ns\4corp\10internal\0", 18);
	get(z, "www.corp.internal.", VD_T_A);
	get(z, "ns.corp.internal.", VD_T_A);
	/* SOA TTL below MINIMUM: the TTL bounds negative answers. */
	assert_int_equal(vd_zone_neg_ttl(z), 60);
	vd_zone_unref(z);
}

/* The operator's origin (any case, with or without the final dot) makes
 * relative names work without $ORIGIN; records without a TTL and without
 * $TTL get 3600. */
static void test_origin_given(void **state)
{
	const char *path = zt_write("given.zone", "@ IN SOA ns hostmaster 1 2 3 4 5\n"
						  "www A 192.0.2.1\n");
	vd_zone_t *z = NULL;

	(void)state;
	assert_int_equal(vd_zone_load(path, "Corp.Internal", VD_ZONE_FALLBACK_NXDOMAIN,
				      &z, NULL),
			 0);
	assert_int_equal(vd_zone_fallback(z), VD_ZONE_FALLBACK_NXDOMAIN);
	assert_memory_equal(vd_zone_apex(z), "\4corp\10internal", 15);
	assert_int_equal(get(z, "www.corp.internal.", VD_T_A)->ttl, 3600);
	assert_int_equal(vd_zone_neg_ttl(z), 5);
	assert_int_equal(vd_zone_rr_count(z), 2);
	vd_zone_unref(z);
}

static void test_repo_zones(void **state)
{
	static const char *files[] = {
		"corp.internal.zone",
		"vpc-0a1b2c3d4e5f60718/ec2.us-east-1.amazonaws.com.zone",
		"vpc-0a1b2c3d4e5f60718/s3.us-east-1.amazonaws.com.zone",
		"vpc-0a1b2c3d4e5f60718/vpce.amazonaws.com.zone",
	};
	char path[512];
	vd_errlist_t e;
	vd_zone_t *z;

	(void)state;
	vd_errlist_init(&e);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/zones/%s", VD_SOURCE_DIR, files[i]);
		z = NULL;
		assert_int_equal(
			vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e), 0);
		assert_int_equal(e.count, 0);
		assert_true(vd_zone_rr_count(z) >= 3);
		vd_zone_unref(z);
	}
	vd_errlist_deinit(&e);
}

/* ---- rejected files ------------------------------------------------------ */

static void test_syntax_error(void **state)
{
	(void)state;
	/* The multi-line SOA and the comments must not shift the count. */
	zt_load_fails("; header\n"
		      "$ORIGIN example.\n"
		      "@ IN SOA ns hostmaster (\n"
		      "   1 2 ; inside\n"
		      "   3 4 5 )\n"
		      "\n"
		      "; comment\n"
		      "ok A 192.0.2.1\n"
		      "  ; indented comment\n"
		      "bad A 192.0.2\n",
		      NULL, ":10: Syntax error, could not parse the RR's rdata");
	zt_load_fails("example. IN SOA ns. h. 1 2 3 4 5\n"
		      "x 300 IN BOGUSTYPE 1\n",
		      NULL, ":2: Syntax error, could not parse the RR's rdata");
}

static void test_every_syntax_error_reported(void **state)
{
	const char *path = zt_write("many.zone", "example. IN SOA ns. h. 1 2 3 4 5\n"
						 "a A 1.2.3\n"
						 "b A 192.0.2.1\n"
						 "c AAAA zz\n");
	char want[256];
	vd_errlist_t e;
	vd_zone_t *z = NULL;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	assert_int_equal(e.count, 2);
	snprintf(want, sizeof(want),
		 "%s:2: Syntax error, could not parse the RR's rdata", path);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s:4: ", path);
	assert_memory_equal(e.msgs[1], want, strlen(want));
	vd_errlist_deinit(&e);
}

static void test_too_many_errors(void **state)
{
	char text[4096] = "example. IN SOA ns. h. 1 2 3 4 5\n";
	vd_errlist_t e;
	vd_zone_t *z = NULL;
	const char *path;

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(text, "x A 1\n");
	path = zt_write("many.zone", text);
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	/* 20 messages, then one saying the rest were not listed. */
	assert_int_equal(e.count, 21);
	assert_non_null(strstr(e.msgs[19], ":21: "));
	assert_non_null(strstr(e.msgs[20], ": too many errors, giving up"));
	vd_errlist_deinit(&e);
}

static void test_no_soa(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\nwww A 192.0.2.1\n", NULL, ": no SOA record");
	zt_load_fails("$ORIGIN example.\nwww A 192.0.2.1\n", "example.",
		      ": no SOA record");
	zt_load_fails("; nothing but a comment\n", NULL, ": no SOA record");
	zt_load_fails("", "example.", ": no SOA record");
}

static void test_two_soas(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "www A 192.0.2.1\n"
		      "@ SOA ns h 2 2 3 4 5\n",
		      NULL, ":4: more than one SOA record (the first is at line 2)");
}

static void test_soa_not_at_apex(void **state)
{
	(void)state;
	zt_load_fails("\nwww SOA ns h 1 2 3 4 5\n", "example.",
		      ":2: SOA owner www.example. is not the zone apex example.");
}

static void test_relative_soa_without_origin(void **state)
{
	(void)state;
	zt_load_fails("; no $ORIGIN and no origin given\n"
		      "@ SOA ns h 1 2 3 4 5\n",
		      NULL,
		      ":2: SOA owner is a relative name but the zone has no origin: "
		      "add $ORIGIN or set the zone's origin");
	zt_load_fails("example SOA ns h 1 2 3 4 5\n", NULL,
		      ":1: SOA owner is a relative name but the zone has no origin: "
		      "add $ORIGIN or set the zone's origin");
}

static void test_outside_apex(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "www A 192.0.2.1\n"
		      "www.example.org. A 192.0.2.2\n",
		      NULL, ":4: www.example.org. is outside the zone example.");
	/* A parent of the apex is outside too. */
	zt_load_fails("$ORIGIN sub.example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "example. A 192.0.2.2\n",
		      NULL, ":3: example. is outside the zone sub.example.");
}

static void test_cname_and_other_data(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "www CNAME web\n"
		      "web A 192.0.2.1\n"
		      "WWW A 192.0.2.2\n",
		      NULL, ":5: www.example.: other data beside the CNAME at line 3");
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "www TXT \"x\"\n"
		      "www CNAME web\n",
		      NULL, ":4: www.example.: CNAME beside other data (line 3)");
	/* At the apex, the SOA is the other data. */
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "@ CNAME web\n",
		      NULL, ":3: example.: CNAME beside other data (line 2)");
}

static void test_two_cnames(void **state)
{
	vd_zone_t *z = NULL;
	const char *path;

	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "www CNAME b\n"
		      "www CNAME a\n",
		      NULL,
		      ":4: www.example.: more than one CNAME (the first is at line 3)");
	/* The same CNAME twice is a duplicate record, not a second CNAME. */
	path = zt_write("dup.zone", "$ORIGIN example.\n"
				    "@ SOA ns h 1 2 3 4 5\n"
				    "www CNAME a\n"
				    "www CNAME a\n");
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, NULL),
			 0);
	assert_int_equal(get(z, "www.example.", VD_T_CNAME)->count, 1);
	vd_zone_unref(z);
}

static void test_class_not_in(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "txt CH TXT \"x\"\n",
		      NULL, ":3: class CH is not supported (only IN)");
}

static void test_classes_all_reported(void **state)
{
	const char *path = zt_write("classes.zone", "$ORIGIN example.\n"
						    "@ SOA ns h 1 2 3 4 5\n"
						    "a HS A 192.0.2.1\n"
						    "b IN A 192.0.2.2\n"
						    "c CLASS7 A 192.0.2.3\n");
	char want[256];
	vd_errlist_t e;
	vd_zone_t *z = NULL;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	assert_int_equal(e.count, 2);
	snprintf(want, sizeof(want), "%s:3: class HS is not supported (only IN)", path);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s:5: class CLASS7 is not supported (only IN)",
		 path);
	assert_string_equal(e.msgs[1], want);
	vd_errlist_deinit(&e);
}

static void test_unsupported(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "$INCLUDE other.zone\n",
		      NULL, ":3: $INCLUDE is not supported");
	zt_load_fails("$ORIGIN example.\n"
		      "@ SOA ns h 1 2 3 4 5\n"
		      "d DNAME other.example.\n",
		      NULL, ":3: DNAME records are not supported");
}

static void test_unreadable(void **state)
{
	char path[256];
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;

	(void)state;
	vd_errlist_init(&e);
	snprintf(path, sizeof(path), "%s/missing.zone", zt_dir);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	assert_null(z);
	zt_expect_error(&e, path, ": cannot open: No such file or directory");
	vd_errlist_deinit(&e);

	/* A directory is not read at all. */
	assert_int_equal(vd_zone_load(zt_dir, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	zt_expect_error(&e, zt_dir, ": not a regular file");
	vd_errlist_deinit(&e);
}

/* A file larger when read than its size said: /proc files are regular
 * and report size 0, so the check at open passes and only reading finds
 * the bytes past the limit. */
static void test_grew_while_read(void **state)
{
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load_max("/proc/self/status", "example.",
					  VD_ZONE_FALLBACK_FORWARD, 10, &z, &e),
			 VD_ECONF);
	assert_null(z);
	zt_expect_error(&e, "/proc/self/status",
			": file grew beyond 10 bytes while being read");
	vd_errlist_deinit(&e);
}

/* The size is checked before anything is parsed: a file over the limit is
 * one clear error; a file of exactly the limit loads. */
static void test_too_large(void **state)
{
	static const char text[] =
		"$ORIGIN big.test.\n@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.1\n";
	char want[128];
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;
	const char *path = zt_write("size.zone", text);
	uint64_t size = sizeof(text) - 1;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load_max(path, NULL, VD_ZONE_FALLBACK_FORWARD,
					  size - 1, &z, &e),
			 VD_ECONF);
	assert_null(z);
	snprintf(want, sizeof(want),
		 ": file is %llu bytes, more than the limit of %llu "
		 "(server.zone_file_max_size)",
		 (unsigned long long)size, (unsigned long long)size - 1);
	zt_expect_error(&e, path, want);
	vd_errlist_deinit(&e);

	assert_int_equal(vd_zone_load_max(path, NULL, VD_ZONE_FALLBACK_FORWARD, size,
					  &z, &e),
			 0);
	assert_int_equal(vd_zone_rr_count(z), 2);
	vd_zone_unref(z);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e), 0);
	vd_zone_unref(z);
	assert_int_equal(e.count, 0);
	vd_errlist_deinit(&e);
}

/* A FIFO in a zone file's place is refused at once: opening it must not
 * wait for a writer, and it is not read. (Before the fix the load blocked
 * for ever; the alarm turns that into a failure instead of a hang.) */
static void test_fifo(void **state)
{
	char path[256];
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;

	(void)state;
	snprintf(path, sizeof(path), "%s", zt_write("fifo.zone", ""));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	vd_errlist_init(&e);
	alarm(20);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, &e),
			 VD_ECONF);
	alarm(0);
	assert_null(z);
	zt_expect_error(&e, path, ": not a regular file");
	vd_errlist_deinit(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_origin_from_soa),
		cmocka_unit_test(test_origin_given),
		cmocka_unit_test(test_repo_zones),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_every_syntax_error_reported),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_no_soa),
		cmocka_unit_test(test_two_soas),
		cmocka_unit_test(test_soa_not_at_apex),
		cmocka_unit_test(test_relative_soa_without_origin),
		cmocka_unit_test(test_outside_apex),
		cmocka_unit_test(test_cname_and_other_data),
		cmocka_unit_test(test_two_cnames),
		cmocka_unit_test(test_class_not_in),
		cmocka_unit_test(test_classes_all_reported),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_grew_while_read),
		cmocka_unit_test(test_fifo),
	};

	return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
