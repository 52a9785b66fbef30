/*
 * Unit tests of vd_zone_lookup on tests/unit/data/zone/lookup.zone: exact
 * answers, NODATA, empty non-terminals, NXDOMAIN versus fallback to
 * forwarding, RFC 4592 wildcards (match, no match below an existing name,
 * NODATA through a wildcard, a wildcard CNAME, a wildcard that is an empty
 * non-terminal), CNAME and qtype CNAME, ANY, names outside the apex, the
 * SOA and negative TTL, and the reference count.
 */
#include "zone_test.h"

#include <errno.h>
#include <stdlib.h>

#define ZONE VD_TEST_DATA "/zone/lookup.zone"

static vd_zone_t *zone_nx, *zone_fwd;

static int setup(void **state)
{
	if (zt_setup(state) != 0)
		return -1;
	if (vd_zone_load(ZONE, NULL, VD_ZONE_FALLBACK_NXDOMAIN, &zone_nx, NULL) != 0)
		return -1;
	return vd_zone_load(ZONE, "example.test.", VD_ZONE_FALLBACK_FORWARD, &zone_fwd,
			    NULL);
}

static int teardown(void **state)
{
	(void)state;
	vd_zone_unref(zone_nx);
	vd_zone_unref(zone_fwd);
	return zt_teardown(state);
}

/* Looks name up in z; checks the result and the wildcard flag and returns
 * the rrset (NULL is checked for the results that carry none). */
static const vd_rrset_t *look(const vd_zone_t *z, const char *name, uint16_t qtype,
			      vd_zl_result_t want, bool want_wild)
{
	const vd_rrset_t *set = (const vd_rrset_t *)1;
	bool wild = !want_wild;

	assert_int_equal(vd_zone_lookup(z, zt_name(name), qtype, &set, &wild), want);
	assert_int_equal(wild, want_wild);
	if (want == VD_ZL_ANSWER || want == VD_ZL_CNAME)
		assert_non_null(set);
	else
		assert_null(set);
	return set;
}

static void test_bad_args(void **state)
{
	const vd_rrset_t *set = (const vd_rrset_t *)1;
	bool wild = true;

	(void)state;
	assert_int_equal(vd_zone_lookup(NULL, zt_name("www.example.test."), VD_T_A,
					&set, &wild),
			 VD_ZL_FALLBACK);
	assert_null(set);
	assert_false(wild);
	assert_int_equal(vd_zone_lookup(zone_nx, NULL, VD_T_A, &set, &wild),
			 VD_ZL_FALLBACK);
	/* The out-parameters may be left out. */
	assert_int_equal(vd_zone_lookup(zone_nx, zt_name("www.example.test."), VD_T_A,
					NULL, NULL),
			 VD_ZL_ANSWER);
	/* A malformed name (label length 64) is not read past. */
	assert_int_equal(vd_zone_lookup(zone_nx, (const uint8_t *)"\100abc", VD_T_A,
					&set, &wild),
			 VD_ZL_FALLBACK);
}

static void test_exact(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "www.example.test.", VD_T_A, VD_ZL_ANSWER, false);
	assert_int_equal(s->type, VD_T_A);
	assert_int_equal(s->ttl, 300);
	assert_int_equal(s->count, 2);
	assert_memory_equal(s->rdata[0], "\xc0\x00\x02\x01", 4);
	assert_memory_equal(s->rdata[1], "\xc0\x00\x02\x02", 4);
	s = look(zone_nx, "www.example.test.", VD_T_AAAA, VD_ZL_ANSWER, false);
	assert_int_equal(s->ttl, 60);
	assert_int_equal(s->count, 1);
	s = look(zone_nx, "a.b.c.example.test.", VD_T_A, VD_ZL_ANSWER, false);
	assert_memory_equal(s->rdata[0], "\xc0\x00\x02\x0a", 4);
	/* The apex. */
	s = look(zone_nx, "example.test.", VD_T_NS, VD_ZL_ANSWER, false);
	assert_int_equal(s->rdlen[0], 17);
	assert_memory_equal(s->rdata[0], "\2ns\7example\4test", 17);
}

static void test_nodata(void **state)
{
	(void)state;
	look(zone_nx, "www.example.test.", VD_T_MX, VD_ZL_NODATA, false);
	look(zone_fwd, "www.example.test.", VD_T_MX, VD_ZL_NODATA, false);
	look(zone_nx, "example.test.", VD_T_A, VD_ZL_NODATA, false);
}

static void test_empty_non_terminal(void **state)
{
	(void)state;
	look(zone_nx, "c.example.test.", VD_T_A, VD_ZL_NODATA, false);
	look(zone_nx, "b.c.example.test.", VD_T_A, VD_ZL_NODATA, false);
	look(zone_fwd, "b.c.example.test.", VD_T_A, VD_ZL_NODATA, false);
	/* The parent of wildcards only is an ENT as well, not synthesised. */
	look(zone_nx, "w.example.test.", VD_T_A, VD_ZL_NODATA, false);
}

static void test_nxdomain_or_fallback(void **state)
{
	(void)state;
	look(zone_nx, "nope.example.test.", VD_T_A, VD_ZL_NXDOMAIN, false);
	look(zone_fwd, "nope.example.test.", VD_T_A, VD_ZL_FALLBACK, false);
	/* Below an existing name, and below an ENT. */
	look(zone_nx, "x.www.example.test.", VD_T_A, VD_ZL_NXDOMAIN, false);
	look(zone_nx, "z.a.b.c.example.test.", VD_T_A, VD_ZL_NXDOMAIN, false);
	look(zone_fwd, "x.c.example.test.", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, "x.c.example.test.", VD_T_ANY, VD_ZL_NXDOMAIN, false);
}

static void test_outside_apex(void **state)
{
	(void)state;
	/* Not a zone's business: the caller picked the wrong zone. */
	look(zone_nx, "test.", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, ".", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, "example.org.", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, "www.example.org.", VD_T_A, VD_ZL_FALLBACK, false);
	/* Same trailing bytes, not the same labels. */
	look(zone_nx, "xexample.test.", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, "www.xexample.test.", VD_T_A, VD_ZL_FALLBACK, false);
}

static void test_wildcard(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "anything.w.example.test.", VD_T_A, VD_ZL_ANSWER, true);
	assert_int_equal(s->count, 1);
	assert_memory_equal(s->rdata[0], "\xc0\x00\x02\x63", 4);
	s = look(zone_fwd, "other.w.example.test.", VD_T_TXT, VD_ZL_ANSWER, true);
	assert_memory_equal(s->rdata[0], "\4wild", 5);
	/* Several labels below the closest encloser still match. */
	look(zone_nx, "a.b.w.example.test.", VD_T_A, VD_ZL_ANSWER, true);
	/* The wildcard's own name is an exact match. */
	look(zone_nx, "*.w.example.test.", VD_T_A, VD_ZL_ANSWER, false);
}

/* RFC 4592 3.3.1: below sub.w, the closest encloser is sub.w, which has no
 * "*" child, so *.w does not apply. */
static void test_wildcard_not_below_existing(void **state)
{
	(void)state;
	look(zone_nx, "sub.w.example.test.", VD_T_A, VD_ZL_ANSWER, false);
	look(zone_nx, "x.sub.w.example.test.", VD_T_A, VD_ZL_NXDOMAIN, false);
	look(zone_fwd, "x.sub.w.example.test.", VD_T_A, VD_ZL_FALLBACK, false);
	look(zone_nx, "y.x.sub.w.example.test.", VD_T_TXT, VD_ZL_NXDOMAIN, false);
}

static void test_wildcard_nodata(void **state)
{
	(void)state;
	look(zone_nx, "foo.w.example.test.", VD_T_AAAA, VD_ZL_NODATA, true);
	look(zone_fwd, "foo.w.example.test.", VD_T_MX, VD_ZL_NODATA, true);
	/* *.ent is an empty non-terminal (x.*.ent exists): it still matches,
	 * and has no data. */
	look(zone_nx, "q.ent.example.test.", VD_T_A, VD_ZL_NODATA, true);
	look(zone_nx, "*.ent.example.test.", VD_T_A, VD_ZL_NODATA, false);
	look(zone_nx, "x.*.ent.example.test.", VD_T_A, VD_ZL_ANSWER, false);
}

static void test_cname(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "alias.example.test.", VD_T_A, VD_ZL_CNAME, false);
	assert_int_equal(s->type, VD_T_CNAME);
	assert_int_equal(s->count, 1);
	assert_int_equal(s->rdlen[0], 18);
	assert_memory_equal(s->rdata[0], "\3www\7example\4test", 18);
	look(zone_nx, "alias.example.test.", VD_T_MX, VD_ZL_CNAME, false);
	s = look(zone_nx, "ext.example.test.", VD_T_AAAA, VD_ZL_CNAME, false);
	assert_memory_equal(s->rdata[0], "\6target\11elsewhere", 18);
	/* Through a wildcard. */
	s = look(zone_nx, "x.cn.example.test.", VD_T_A, VD_ZL_CNAME, true);
	assert_memory_equal(s->rdata[0], "\3www\7example\4test", 18);
}

static void test_qtype_cname(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "alias.example.test.", VD_T_CNAME, VD_ZL_ANSWER, false);
	assert_int_equal(s->type, VD_T_CNAME);
	look(zone_nx, "www.example.test.", VD_T_CNAME, VD_ZL_NODATA, false);
	look(zone_nx, "y.cn.example.test.", VD_T_CNAME, VD_ZL_ANSWER, true);
}

/* RFC 8482: one RRset, the node's first (the lowest type). */
static void test_any(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "www.example.test.", VD_T_ANY, VD_ZL_ANSWER, false);
	assert_int_equal(s->type, VD_T_A);
	s = look(zone_nx, "example.test.", VD_T_ANY, VD_ZL_ANSWER, false);
	assert_int_equal(s->type, VD_T_NS);
	look(zone_nx, "c.example.test.", VD_T_ANY, VD_ZL_NODATA, false);
	s = look(zone_nx, "v.w.example.test.", VD_T_ANY, VD_ZL_ANSWER, true);
	assert_int_equal(s->type, VD_T_A);
	look(zone_nx, "alias.example.test.", VD_T_ANY, VD_ZL_CNAME, false);
}

/* The file writes "MiXeD"; queries come lower-cased (qname_lc). */
static void test_case(void **state)
{
	const vd_rrset_t *s;

	(void)state;
	s = look(zone_nx, "MIXED.Example.TEST.", VD_T_A, VD_ZL_ANSWER, false);
	assert_memory_equal(s->rdata[0], "\xc0\x00\x02\x28", 4);
	assert_memory_equal(vd_zone_apex(zone_nx), "\7example\4test", 14);
}

static void test_soa_and_neg_ttl(void **state)
{
	const vd_rrset_t *soa = vd_zone_soa(zone_nx);

	(void)state;
	assert_non_null(soa);
	assert_int_equal(soa->type, VD_T_SOA);
	assert_int_equal(soa->count, 1);
	assert_int_equal(soa->ttl, 300);
	/* min(SOA TTL 300, MINIMUM 120) */
	assert_int_equal(vd_zone_neg_ttl(zone_nx), 120);
	assert_ptr_equal(look(zone_nx, "example.test.", VD_T_SOA, VD_ZL_ANSWER, false),
			 soa);
	/* 15 records, and both loads agree. */
	assert_int_equal(vd_zone_rr_count(zone_nx), 15);
	assert_int_equal(vd_zone_rr_count(zone_fwd), 15);
}

/* Extra references keep the zone alive until the last one goes; ASan
 * reports a use after free or a leak if the count is wrong. */
static void test_refcount(void **state)
{
	vd_zone_t *z = NULL;

	(void)state;
	assert_int_equal(vd_zone_load(ZONE, NULL, VD_ZONE_FALLBACK_FORWARD, &z, NULL),
			 0);
	vd_zone_ref(z);
	vd_zone_ref(z);
	vd_zone_unref(z);
	vd_zone_unref(z);
	look(z, "www.example.test.", VD_T_A, VD_ZL_ANSWER, false);
	assert_string_equal(vd_zone_path(z), ZONE);
	vd_zone_unref(z);
}

/* Enough names to make the index grow several times; every one is found
 * again and near misses are not. */
static void test_many_names(void **state)
{
	enum { N = 5000 };
	size_t cap = 64 + N * 32, len;
	char *text = malloc(cap), name[64];
	vd_zone_t *z = NULL;
	const vd_rrset_t *s;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, cap, "$ORIGIN big.test.\n@ SOA ns h 1 2 3 4 5\n");
	for (unsigned i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "h%u.g%u A 10.0.%u.%u\n",
					i, i % 7, i / 256, i % 256);
	assert_int_equal(vd_zone_load(zt_write("big.zone", text), NULL,
				      VD_ZONE_FALLBACK_NXDOMAIN, &z, NULL),
			 0);
	free(text);
	assert_int_equal(vd_zone_rr_count(z), N + 1);
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "h%u.g%u.big.test.", i, i % 7);
		s = look(z, name, VD_T_A, VD_ZL_ANSWER, false);
		assert_int_equal(s->rdata[0][2], i / 256);
		assert_int_equal(s->rdata[0][3], i % 256);
		snprintf(name, sizeof(name), "h%u.g%u.big.test.", i, (i + 1) % 7);
		look(z, name, VD_T_A, VD_ZL_NXDOMAIN, false);
	}
	look(z, "g3.big.test.", VD_T_A, VD_ZL_NODATA, false);
	look(z, "g7.big.test.", VD_T_A, VD_ZL_NXDOMAIN, false);
	vd_zone_unref(z);
}

/* A name of 127 labels (the most a name can have): all its ancestors are
 * empty non-terminals, and a lookup walks every label. */
static void test_deep_name(void **state)
{
	char text[1024] = "$ORIGIN d.\n@ SOA ns h 1 2 3 4 5\n", name[300] = "";
	vd_zone_t *z = NULL;

	(void)state;
	for (int i = 0; i < 126; i++)
		strcat(name, "a.");
	strcat(text, name);
	strcpy(text + strlen(text) - 1, " A 192.0.2.1\n"); /* relative: a.a...a */
	assert_int_equal(vd_zone_load(zt_write("deep.zone", text), NULL,
				      VD_ZONE_FALLBACK_NXDOMAIN, &z, NULL),
			 0);
	strcat(name, "d.");
	look(z, name, VD_T_A, VD_ZL_ANSWER, false);
	look(z, name + 2, VD_T_A, VD_ZL_NODATA, false);
	look(z, name + 200, VD_T_A, VD_ZL_NODATA, false);
	name[200] = 'b';
	look(z, name, VD_T_A, VD_ZL_NXDOMAIN, false);
	vd_zone_unref(z);
}

/* The root as apex: no label to compare, every name is below it. */
static void test_root_zone(void **state)
{
	vd_zone_t *z = NULL;

	(void)state;
	assert_int_equal(vd_zone_load(zt_write("root.zone", ". SOA ns. h. 1 2 3 4 5\n"
							    "tld. A 192.0.2.1\n"),
				      NULL, VD_ZONE_FALLBACK_FORWARD, &z, NULL),
			 0);
	assert_memory_equal(vd_zone_apex(z), "", 1);
	look(z, ".", VD_T_SOA, VD_ZL_ANSWER, false);
	look(z, "tld.", VD_T_A, VD_ZL_ANSWER, false);
	look(z, "x.tld.", VD_T_A, VD_ZL_FALLBACK, false);
	look(z, "other.", VD_T_A, VD_ZL_FALLBACK, false);
	vd_zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_empty_non_terminal),
		cmocka_unit_test(test_nxdomain_or_fallback),
		cmocka_unit_test(test_outside_apex),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_wildcard_not_below_existing),
		cmocka_unit_test(test_wildcard_nodata),
		cmocka_unit_test(test_cname),
		cmocka_unit_test(test_qtype_cname),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_soa_and_neg_ttl),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_deep_name),
		cmocka_unit_test(test_root_zone),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
