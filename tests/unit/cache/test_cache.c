/*
 * Unit tests of the answer cache with an injected clock: TTL arithmetic
 * (ageing, clamps, RFC 2308 negative TTLs), what is never stored, key
 * separation, LRU eviction within the byte budget under a flood of unique
 * names, serve-stale windows, prefetch, and the patched copy of a hit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vpcdns/cache.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

static uint64_t clock_ms;
static uint64_t test_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static const vd_cache_policy_t policy = {
	.min_ttl = 0,
	.max_ttl = 86400,
	.max_negative_ttl = 3600,
	.stale_max = 86400,
	.prefetch = true,
};

typedef struct resp_spec {
	const char *qname;
	uint16_t qtype;
	int rcode;
	uint16_t extra_flags;
	int nanswers; /* A records, TTL ttl */
	uint32_t ttl;
	bool cname; /* a CNAME first (TTL ttl) */
	bool soa;   /* SOA in authority */
	uint32_t soa_ttl, soa_min;
	bool opt;
} resp_spec_t;

static size_t build_resp(const resp_spec_t *s, uint8_t *out, size_t cap)
{
	vd_query_msg_t q = { .id = 0x5555, .qtype = s->qtype, .qclass = VD_C_IN };
	assert_int_equal(vd_name_from_text(s->qname, q.qname, &q.qname_len), 0);
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, &q,
			    (uint16_t)(VD_F_QR | VD_F_RD | VD_F_RA | s->extra_flags |
				       s->rcode));
	const uint8_t *owner = q.qname;
	uint8_t target[VD_NAME_MAX];
	size_t tlen;
	if (s->cname) {
		assert_int_equal(vd_name_from_text("target.example.net", target, &tlen),
				 0);
		vd_wbuf_rr(&w, 1, owner, VD_T_CNAME, VD_C_IN, s->ttl, target,
			   (uint16_t)tlen);
		owner = target;
	}
	for (int i = 0; i < s->nanswers; i++) {
		uint8_t a[4] = { 192, 0, 2, (uint8_t)(i + 1) };
		vd_wbuf_rr(&w, 1, owner, VD_T_A, VD_C_IN, s->ttl, a, 4);
	}
	if (s->soa) {
		uint8_t rd[2 * VD_NAME_MAX + 20], mname[VD_NAME_MAX],
			rname[VD_NAME_MAX];
		size_t n1, n2;
		vd_name_from_text("ns.example.", mname, &n1);
		vd_name_from_text("hm.example.", rname, &n2);
		memcpy(rd, mname, n1);
		memcpy(rd + n1, rname, n2);
		uint8_t *p = rd + n1 + n2;
		vd_set32(p, 1);
		vd_set32(p + 4, 3600);
		vd_set32(p + 8, 600);
		vd_set32(p + 12, 86400);
		vd_set32(p + 16, s->soa_min);
		uint8_t apex[VD_NAME_MAX];
		size_t alen;
		vd_name_from_text("example.", apex, &alen);
		vd_wbuf_rr(&w, 2, apex, VD_T_SOA, VD_C_IN, s->soa_ttl, rd,
			   (uint16_t)(n1 + n2 + 20));
	}
	if (s->opt) {
		vd_opt_out_t o = { .ede_code = -1 };
		vd_wbuf_opt(&w, &o);
	}
	assert_int_equal(w.err, 0);
	return w.len;
}

static uint8_t name_buf[VD_NAME_MAX];
static vd_cache_key_t key_of(const char *name, uint16_t qtype, uint64_t group)
{
	size_t n;
	assert_int_equal(vd_name_from_text(name, name_buf, &n), 0);
	vd_name_lower(name_buf, name_buf);
	return (vd_cache_key_t){
		.group = group, .qname_lc = name_buf, .qtype = qtype, .qclass = VD_C_IN
	};
}

static vd_query_msg_t client_q(const char *name, uint16_t qtype, uint16_t id)
{
	vd_query_msg_t q = { .id = id, .qtype = qtype, .qclass = VD_C_IN };
	assert_int_equal(vd_name_from_text(name, q.qname, &q.qname_len), 0);
	vd_name_lower(q.qname_lc, q.qname);
	return q;
}

/* TTL of the n-th record of a written reply. */
static uint32_t ttl_at(const uint8_t *pkt, size_t len, int n, uint16_t *type)
{
	vd_rr_iter_t it;
	static vd_rr_t rr;
	assert_int_equal(vd_rr_iter_init(&it, pkt, len, NULL, NULL, NULL), 0);
	for (int i = 0; i <= n; i++)
		assert_int_equal(vd_rr_iter_next(&it, &rr), 1);
	if (type)
		*type = rr.type;
	return rr.ttl;
}

static vd_cache_t *new_cache(size_t size)
{
	clock_ms = 1000000;
	vd_cache_t *c = vd_cache_new(size, test_now, NULL);
	assert_non_null(c);
	return c;
}

/* ---- tests ------------------------------------------------------------- */

static void test_invalid(void **state)
{
	(void)state;
	vd_cache_free(NULL);
	vd_cache_t *c = new_cache(1 << 20);
	vd_cache_key_t k = key_of("a.example", VD_T_A, 1);
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	assert_int_equal(vd_cache_store(c, &k, junk, 5, &policy), VD_EMALF);
	uint8_t bad[64];
	resp_spec_t s = {
		.qname = "a.example", .qtype = VD_T_A, .nanswers = 1, .ttl = 60
	};
	size_t n = build_resp(&s, bad, sizeof(bad));
	assert_true(vd_cache_store(c, &k, bad, n - 3, &policy) < 0); /* cut short */
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	vd_cache_free(c);
}

static void test_ttl_counts_down(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512], out[512];
	resp_spec_t s = { .qname = "www.example",
			  .qtype = VD_T_A,
			  .nanswers = 2,
			  .ttl = 300,
			  .opt = true };
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("www.example", VD_T_A, 7);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);

	clock_ms += 100500; /* 100.5 s later */
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_int_equal(h.age, 100);
	vd_query_msg_t q = client_q("WwW.ExAmPlE", VD_T_A, 0x1234);
	size_t m = vd_cache_write(&h, &q, VD_F_QR | VD_F_RA, false, out, sizeof(out));
	assert_true(m > 0);
	assert_int_equal(vd_hdr_id(out), 0x1234);
	assert_memory_equal(out + 12, q.qname, q.qname_len); /* client's case */
	assert_int_equal(vd_hdr_arcount(out), 0);	     /* upstream OPT gone */
	assert_int_equal(ttl_at(out, m, 0, NULL), 200);
	assert_int_equal(ttl_at(out, m, 1, NULL), 200);

	/* A buffer too small for the stored message: 0, nothing written. */
	assert_int_equal(vd_cache_write(&h, &q, VD_F_QR, false, out, 20), 0);

	clock_ms += 200000; /* expired: stale until stale_max */
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_STALE);
	m = vd_cache_write(&h, &q, VD_F_QR, true, out, sizeof(out));
	assert_int_equal(ttl_at(out, m, 0, NULL), VD_CACHE_STALE_TTL);

	vd_cache_policy_t nostale = policy;
	nostale.stale_max = 0;
	assert_int_equal(vd_cache_lookup(c, &k, &nostale, &h), VD_CACHE_MISS);
	assert_int_equal(vd_cache_stats(c)->entries, 0); /* removed */
	vd_cache_free(c);
}

static void test_clamps(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512], out[512];
	vd_cache_policy_t p = policy;
	p.min_ttl = 60;
	p.max_ttl = 120;
	resp_spec_t s = {
		.qname = "a.example", .qtype = VD_T_A, .nanswers = 1, .ttl = 5
	};
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("a.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &p), 0);
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &p, &h), VD_CACHE_HIT);
	assert_int_equal(h.ttl, 60);
	vd_query_msg_t q = client_q("a.example", VD_T_A, 1);
	size_t m = vd_cache_write(&h, &q, VD_F_QR, false, out, sizeof(out));
	assert_int_equal(ttl_at(out, m, 0, NULL), 60);

	s.ttl = 100000;
	n = build_resp(&s, buf, sizeof(buf));
	assert_int_equal(vd_cache_store(c, &k, buf, n, &p), 0);
	assert_int_equal(vd_cache_lookup(c, &k, &p, &h), VD_CACHE_HIT);
	assert_int_equal(h.ttl, 120);

	/* TTL 0 without a minimum is not stored. */
	s.ttl = 0;
	n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k2 = key_of("zero.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k2, buf, n, &policy), 1);
	vd_cache_free(c);
}

static void test_negative(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512], out[512];
	vd_cache_hit_t h;
	/* NXDOMAIN: min(SOA TTL 900, MINIMUM 300) = 300. */
	resp_spec_t s = { .qname = "no.example",
			  .qtype = VD_T_A,
			  .rcode = VD_RCODE_NXDOMAIN,
			  .soa = true,
			  .soa_ttl = 900,
			  .soa_min = 300 };
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("no.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_int_equal(h.ttl, 300);
	vd_query_msg_t q = client_q("no.example", VD_T_A, 9);
	size_t m = vd_cache_write(&h, &q, VD_F_QR, false, out, sizeof(out));
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(out)), VD_RCODE_NXDOMAIN);
	uint16_t type;
	assert_int_equal(ttl_at(out, m, 0, &type), 300); /* SOA TTL lowered */
	assert_int_equal(type, VD_T_SOA);

	/* NODATA bounded by max_negative_ttl. */
	vd_cache_policy_t p = policy;
	p.max_negative_ttl = 100;
	s.rcode = 0;
	s.soa_min = 3000;
	s.soa_ttl = 3000;
	s.qtype = VD_T_AAAA;
	n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k2 = key_of("no.example", VD_T_AAAA, 1);
	assert_int_equal(vd_cache_store(c, &k2, buf, n, &p), 0);
	assert_int_equal(vd_cache_lookup(c, &k2, &p, &h), VD_CACHE_HIT);
	assert_int_equal(h.ttl, 100);

	/* Negative without an SOA: never stored (RFC 2308 section 5). */
	s.soa = false;
	n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k3 = key_of("nosoa.example", VD_T_AAAA, 1);
	assert_int_equal(vd_cache_store(c, &k3, buf, n, &policy), 1);
	vd_cache_free(c);
}

static void test_not_cacheable(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512];
	vd_cache_key_t k = key_of("x.example", VD_T_A, 1);
	resp_spec_t s = { .qname = "x.example",
			  .qtype = VD_T_A,
			  .rcode = VD_RCODE_SERVFAIL };
	size_t n = build_resp(&s, buf, sizeof(buf));
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 1);
	s = (resp_spec_t){ .qname = "x.example",
			   .qtype = VD_T_A,
			   .nanswers = 1,
			   .ttl = 60,
			   .extra_flags = VD_F_TC };
	n = build_resp(&s, buf, sizeof(buf));
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 1);
	s.extra_flags = 0;
	s.rcode = VD_RCODE_REFUSED;
	n = build_resp(&s, buf, sizeof(buf));
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 1);
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	assert_int_equal(vd_cache_stats(c)->not_cacheable, 3);
	vd_cache_free(c);
}

static void test_key_separation(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512];
	resp_spec_t s = {
		.qname = "k.example", .qtype = VD_T_A, .nanswers = 1, .ttl = 60
	};
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("k.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);

	vd_cache_key_t other = k;
	other.group = 2; /* another upstream group never sees it */
	assert_int_equal(vd_cache_lookup(c, &other, &policy, &h), VD_CACHE_MISS);
	other = k;
	other.do_bit = true;
	assert_int_equal(vd_cache_lookup(c, &other, &policy, &h), VD_CACHE_MISS);
	other = k;
	other.cd = true;
	assert_int_equal(vd_cache_lookup(c, &other, &policy, &h), VD_CACHE_MISS);
	other = k;
	other.qtype = VD_T_AAAA;
	assert_int_equal(vd_cache_lookup(c, &other, &policy, &h), VD_CACHE_MISS);

	/* Reload: groups still configured keep their entries (ids in any
	 * order), the others lose theirs. */
	vd_cache_key_t k4 = key_of("k4.example", VD_T_A, 4);
	n = build_resp(&(resp_spec_t){ .qname = "k4.example",
				       .qtype = VD_T_A,
				       .nanswers = 1,
				       .ttl = 60 },
		       buf, sizeof(buf));
	assert_int_equal(vd_cache_store(c, &k4, buf, n, &policy), 0);
	uint64_t keep[3] = { 9, 4, 1 }, drop = 3;
	vd_cache_retain_groups(c, keep, 3);
	k = key_of("k.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	k4 = key_of("k4.example", VD_T_A, 4);
	assert_int_equal(vd_cache_lookup(c, &k4, &policy, &h), VD_CACHE_HIT);
	uint64_t only4 = 4;
	vd_cache_retain_groups(c, &only4, 1);
	k = key_of("k.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	k4 = key_of("k4.example", VD_T_A, 4);
	assert_int_equal(vd_cache_lookup(c, &k4, &policy, &h), VD_CACHE_HIT);
	vd_cache_retain_groups(c, &drop, 1);
	assert_int_equal(vd_cache_lookup(c, &k4, &policy, &h), VD_CACHE_MISS);
	vd_cache_free(c);
}

/* vpcdnsctl flush: a name goes with every type, group and flag it was
 * stored under; other names, and names below it, stay. NULL empties. */
static void store_a(vd_cache_t *c, const char *name, uint16_t qtype, uint64_t group)
{
	uint8_t buf[512];
	bool a = qtype == VD_T_A; /* else a NODATA answer */
	size_t n = build_resp(&(resp_spec_t){ .qname = name,
					      .qtype = qtype,
					      .nanswers = a,
					      .ttl = 60,
					      .soa = !a,
					      .soa_ttl = 60,
					      .soa_min = 60 },
			      buf, sizeof(buf));
	vd_cache_key_t k = key_of(name, qtype, group);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
}

static void test_flush(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	vd_cache_hit_t h;
	uint8_t name[VD_NAME_MAX];
	size_t len;

	store_a(c, "f.example", VD_T_A, 1);
	store_a(c, "f.example", VD_T_AAAA, 1);
	store_a(c, "f.example", VD_T_A, 2);
	store_a(c, "sub.f.example", VD_T_A, 1);
	store_a(c, "g.example", VD_T_A, 1);
	assert_int_equal(vd_name_from_text("F.Example", name, &len), 0);
	vd_name_lower(name, name);
	assert_int_equal(vd_cache_flush(c, name), 3);
	assert_int_equal(vd_cache_stats(c)->entries, 2);
	vd_cache_key_t k = key_of("f.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	k = key_of("sub.f.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	k = key_of("g.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_int_equal(vd_cache_flush(c, name), 0);
	assert_int_equal(vd_cache_flush(c, NULL), 2);
	assert_int_equal(vd_cache_stats(c)->entries, 0);
	k = key_of("g.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	/* Still usable afterwards. */
	store_a(c, "g.example", VD_T_A, 1);
	k = key_of("g.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	vd_cache_free(c);
}

/* The key hash covers every field and depends on the seed, so a client
 * that does not know the process's seed cannot line names up. */
static void test_key_hash(void **state)
{
	(void)state;
	vd_cache_key_t k = key_of("k.example", VD_T_A, 1), other;
	uint64_t seed = vd_hash_seed(), h = vd_cache_key_hash(&k, seed);
	uint8_t copy[32];

	memcpy(copy, k.qname_lc, vd_name_len(k.qname_lc));
	other = k;
	other.qname_lc = copy;
	assert_true(vd_cache_key_hash(&other, seed) == h);
	assert_true(vd_cache_key_hash(&k, seed + 1) != h);
	other.group = 2;
	assert_true(vd_cache_key_hash(&other, seed) != h);
	other = k;
	other.qtype = VD_T_AAAA;
	assert_true(vd_cache_key_hash(&other, seed) != h);
	other = k;
	other.qclass = 3;
	assert_true(vd_cache_key_hash(&other, seed) != h);
	other = k;
	other.do_bit = true;
	assert_true(vd_cache_key_hash(&other, seed) != h);
	other = k;
	other.cd = true;
	assert_true(vd_cache_key_hash(&other, seed) != h);
	copy[1] = 'j';
	other = k;
	other.qname_lc = copy;
	assert_true(vd_cache_key_hash(&other, seed) != h);
}

static void test_flood_bound_and_lru(void **state)
{
	(void)state;
	const size_t budget = 256 * 1024;
	vd_cache_t *c = new_cache(budget);
	uint8_t buf[512];
	char name[64];
	vd_cache_hit_t h;

	snprintf(name, sizeof(name), "hot.example");
	resp_spec_t s = { .qname = name, .qtype = VD_T_A, .nanswers = 1, .ttl = 3600 };
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t hot = key_of(name, VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &hot, buf, n, &policy), 0);

	for (int i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "u%d.flood.example", i);
		n = build_resp(&s, buf, sizeof(buf));
		vd_cache_key_t k = key_of(name, VD_T_A, 1);
		assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
		assert_true(vd_cache_stats(c)->bytes <= budget);
		if (i % 100 == 0) { /* used often: stays */
			hot = key_of("hot.example", VD_T_A, 1);
			assert_int_equal(vd_cache_lookup(c, &hot, &policy, &h),
					 VD_CACHE_HIT);
		}
	}
	assert_true(vd_cache_stats(c)->evictions > 40000);
	assert_true(vd_cache_stats(c)->entries > 100);
	/* The oldest unique names are gone, the newest are there. */
	vd_cache_key_t k = key_of("u0.flood.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	k = key_of("u49999.flood.example", VD_T_A, 1);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);

	/* Shrinking the budget evicts at once. */
	vd_cache_set_size(c, budget / 4);
	assert_true(vd_cache_stats(c)->bytes <= budget / 4);
	vd_cache_free(c);
}

static void test_prefetch_and_failures(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512];
	resp_spec_t s = {
		.qname = "p.example", .qtype = VD_T_A, .nanswers = 1, .ttl = 100
	};
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("p.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_false(h.prefetch);
	clock_ms += 95000; /* last 10 %, second hit: popular */
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_true(h.prefetch);
	vd_cache_policy_t nopf = policy;
	nopf.prefetch = false;
	assert_int_equal(vd_cache_lookup(c, &k, &nopf, &h), VD_CACHE_HIT);
	assert_false(h.prefetch);

	clock_ms += 10000; /* expired */
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_STALE);
	assert_false(h.failed_recently);
	vd_cache_mark_failed(c, &k);
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_STALE);
	assert_true(h.failed_recently);
	clock_ms += VD_CACHE_FAIL_RECHECK_MS + 1;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_STALE);
	assert_false(h.failed_recently);
	clock_ms += 86400ull * 1000; /* past stale_max */
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_MISS);
	vd_cache_free(c);
}

static void test_cname_flag(void **state)
{
	(void)state;
	vd_cache_t *c = new_cache(1 << 20);
	uint8_t buf[512];
	resp_spec_t s = { .qname = "c.example",
			  .qtype = VD_T_A,
			  .nanswers = 1,
			  .ttl = 60,
			  .cname = true };
	size_t n = build_resp(&s, buf, sizeof(buf));
	vd_cache_key_t k = key_of("c.example", VD_T_A, 1);
	assert_int_equal(vd_cache_store(c, &k, buf, n, &policy), 0);
	vd_cache_hit_t h;
	assert_int_equal(vd_cache_lookup(c, &k, &policy, &h), VD_CACHE_HIT);
	assert_true(h.has_cname);
	vd_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_ttl_counts_down),
		cmocka_unit_test(test_clamps),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_not_cacheable),
		cmocka_unit_test(test_key_separation),
		cmocka_unit_test(test_key_hash),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_flood_bound_and_lru),
		cmocka_unit_test(test_prefetch_and_failures),
		cmocka_unit_test(test_cname_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
