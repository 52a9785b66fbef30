/*
 * The answer cache: a chained hash table of entries, each one malloc'd
 * block holding the key name, the stored message and its TTL offsets,
 * linked into a least-recently-used list. Stores happen on the miss path
 * (one allocation per stored answer); lookups and writes of a hit touch
 * only existing memory. The hash is keyed with the process's random seed
 * (vd_hash_seed) so names chosen by a client cannot be lined up into one
 * chain.
 */
#include "vpcdns/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

#define MAX_RRS 512 /* responses with more records are not stored */
#define MIN_BUCKETS 1024

typedef struct entry {
	struct entry *hnext;	     /* hash chain */
	struct entry *lprev, *lnext; /* LRU list, most recent first */
	uint64_t group;
	uint64_t hash;
	uint64_t stored_ms;
	uint64_t fail_ms; /* last failed refresh, 0: none */
	size_t bytes;	  /* accounted size */
	uint32_t ttl;	  /* entry TTL, seconds */
	uint32_t hits;
	uint16_t qtype, qclass;
	uint16_t msg_len;
	uint16_t nttl;
	uint8_t name_len;
	bool do_bit, cd, has_cname;
	/* uint32_t ttl_val[nttl]; uint16_t ttl_off[nttl]; name; msg */
	uint8_t data[];
} entry_t;

struct vd_cache {
	entry_t **buckets;
	size_t nbuckets;
	entry_t *lru_head, *lru_tail;
	uint64_t seed;
	uint64_t (*now_ms)(void *);
	void *now_arg;
	vd_cache_stats_t stats;
	uint8_t scratch[UINT16_MAX]; /* store: the re-encoded message */
	vd_rr_t rr;
	uint16_t ttl_off[MAX_RRS];
	uint32_t ttl_val[MAX_RRS];
};

static uint32_t *e_ttl_val(entry_t *e)
{
	return (uint32_t *)e->data;
}
static uint16_t *e_ttl_off(entry_t *e)
{
	return (uint16_t *)(e->data + 4 * e->nttl);
}
static uint8_t *e_name(entry_t *e)
{
	return e->data + 6 * e->nttl;
}
static uint8_t *e_msg(entry_t *e)
{
	return e_name(e) + e->name_len;
}

static uint64_t now(const vd_cache_t *c)
{
	return c->now_ms ? c->now_ms(c->now_arg) : vd_now_ms();
}

static uint64_t hash_key(const vd_cache_key_t *k, size_t nlen, uint64_t seed)
{
	uint8_t f[13]; /* the fixed-size fields, without struct padding */

	memcpy(f, &k->group, 8);
	memcpy(f + 8, &k->qtype, 2);
	memcpy(f + 10, &k->qclass, 2);
	f[12] = (uint8_t)(k->do_bit << 1 | k->cd);
	return vd_hash(k->qname_lc, nlen, vd_hash(f, sizeof(f), seed));
}

uint64_t vd_cache_key_hash(const vd_cache_key_t *k, uint64_t seed)
{
	return hash_key(k, vd_name_len(k->qname_lc), seed);
}

static uint64_t key_hash(const vd_cache_t *c, const vd_cache_key_t *k, size_t nlen)
{
	return hash_key(k, nlen, c->seed);
}

static bool key_equal(entry_t *e, const vd_cache_key_t *k, uint64_t h, size_t nlen)
{
	return e->hash == h && e->group == k->group && e->qtype == k->qtype &&
	       e->qclass == k->qclass && e->do_bit == k->do_bit && e->cd == k->cd &&
	       e->name_len == nlen && memcmp(e_name(e), k->qname_lc, nlen) == 0;
}

/* ---- table and LRU ----------------------------------------------------- */

static size_t table_bytes(size_t nbuckets)
{
	return nbuckets * sizeof(entry_t *);
}

static void lru_unlink(vd_cache_t *c, entry_t *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		c->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		c->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push_front(vd_cache_t *c, entry_t *e)
{
	e->lprev = NULL;
	e->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void remove_entry(vd_cache_t *c, entry_t *e)
{
	entry_t **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->stats.entries--;
	c->stats.bytes -= e->bytes;
	free(e);
}

static void evict_to(vd_cache_t *c, uint64_t budget)
{
	while (c->lru_tail && c->stats.bytes > budget) {
		remove_entry(c, c->lru_tail);
		c->stats.evictions++;
	}
}

/* Doubles the table when entries outnumber buckets, if the budget allows. */
static void maybe_grow(vd_cache_t *c)
{
	if (c->stats.entries < c->nbuckets)
		return;
	size_t n = c->nbuckets * 2;
	if (table_bytes(n) > c->stats.max_bytes / 8)
		return; /* the table never takes more than an eighth */
	entry_t **b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		entry_t *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	c->stats.bytes += table_bytes(n) - table_bytes(c->nbuckets);
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

vd_cache_t *vd_cache_new(size_t max_bytes, uint64_t (*now_ms)(void *arg), void *arg)
{
	vd_cache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->nbuckets = MIN_BUCKETS;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	c->now_ms = now_ms;
	c->now_arg = arg;
	c->seed = vd_hash_seed();
	c->stats.bytes = table_bytes(c->nbuckets);
	c->stats.max_bytes = max_bytes;
	return c;
}

void vd_cache_free(vd_cache_t *c)
{
	if (c == NULL)
		return;
	while (c->lru_head) {
		entry_t *e = c->lru_head;
		c->lru_head = e->lnext;
		free(e);
	}
	free(c->buckets);
	free(c);
}

void vd_cache_set_size(vd_cache_t *c, size_t max_bytes)
{
	c->stats.max_bytes = max_bytes;
	evict_to(c, max_bytes);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void vd_cache_retain_groups(vd_cache_t *c, const uint64_t *ids, size_t n)
{
	/* Sorted, so a reload of a thousand groups over a million entries
	 * costs a binary search per entry, not a scan of every group. */
	uint64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (sorted == NULL)
		return; /* keep everything: stale groups age out by LRU */
	memcpy(sorted, ids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	entry_t *e = c->lru_head, *next;
	for (; e; e = next) {
		next = e->lnext;
		if (bsearch(&e->group, sorted, n, sizeof(*sorted), cmp_u64) == NULL)
			remove_entry(c, e);
	}
	free(sorted);
}

size_t vd_cache_flush(vd_cache_t *c, const uint8_t *name_lc)
{
	size_t nlen = name_lc ? vd_name_len(name_lc) : 0, n = 0;
	entry_t *e = c->lru_head, *next;

	for (; e; e = next) {
		next = e->lnext;
		if (name_lc != NULL &&
		    (e->name_len != nlen || memcmp(e_name(e), name_lc, nlen) != 0))
			continue;
		remove_entry(c, e);
		n++;
	}
	return n;
}

const vd_cache_stats_t *vd_cache_stats(const vd_cache_t *c)
{
	return &c->stats;
}

static entry_t *find(vd_cache_t *c, const vd_cache_key_t *k, uint64_t *hash_out)
{
	size_t nlen = vd_name_len(k->qname_lc);
	uint64_t h = key_hash(c, k, nlen);
	entry_t *e = c->buckets[h & (c->nbuckets - 1)];
	if (hash_out)
		*hash_out = h;
	for (; e; e = e->hnext)
		if (key_equal(e, k, h, nlen))
			return e;
	return NULL;
}

/* ---- store ------------------------------------------------------------- */

typedef struct scan {
	uint16_t flags;
	unsigned nrr;
	bool has_cname, has_qtype, negative, has_soa;
	uint32_t min_ttl; /* over every record */
	uint32_t soa_neg; /* min(SOA TTL, MINIMUM) */
} scan_t;

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Re-encodes resp into c->scratch (ID 0, key's question, no OPT) and
 * records each record's TTL offset and value. */
static int encode(vd_cache_t *c, const vd_cache_key_t *k, const uint8_t *resp,
		  size_t len, scan_t *s, vd_wbuf_t *w)
{
	vd_rr_iter_t it;
	int r;

	memset(s, 0, sizeof(*s));
	s->min_ttl = UINT32_MAX;
	if (vd_rr_iter_init(&it, resp, len, NULL, NULL, NULL) != 0)
		return VD_EMALF;
	s->flags = vd_hdr_flags(resp);

	vd_query_msg_t q = { .qtype = k->qtype, .qclass = k->qclass };
	q.qname_len = vd_name_len(k->qname_lc);
	memcpy(q.qname, k->qname_lc, q.qname_len);
	vd_wbuf_init(w, c->scratch, sizeof(c->scratch));
	vd_wbuf_reply_start(w, &q, s->flags);
	while ((r = vd_rr_iter_next(&it, &c->rr)) == 1) {
		const vd_rr_t *rr = &c->rr;
		if (rr->type == VD_T_OPT)
			continue;
		if (s->nrr == MAX_RRS)
			return 1;
		vd_wbuf_rr(w, rr->section, rr->owner, rr->type, rr->rclass, rr->ttl,
			   rr->rdata, (uint16_t)rr->rdlen);
		if (w->err)
			return 1;
		c->ttl_off[s->nrr] = (uint16_t)(w->len - rr->rdlen - 6);
		c->ttl_val[s->nrr] = rr->ttl;
		s->nrr++;
		if (rr->ttl < s->min_ttl)
			s->min_ttl = rr->ttl;
		if (rr->section == 1 && rr->type == VD_T_CNAME)
			s->has_cname = true;
		if (rr->section == 1 && (rr->type == k->qtype || k->qtype == VD_T_ANY))
			s->has_qtype = true;
		if (rr->section == 2 && rr->type == VD_T_SOA && rr->rdlen >= 20) {
			uint32_t minimum = vd_get32(rr->rdata + rr->rdlen - 4);
			s->has_soa = true;
			s->soa_neg = rr->ttl < minimum ? rr->ttl : minimum;
		}
	}
	return r < 0 ? VD_EMALF : 0;
}

/* The entry TTL and each record's stored TTL, per the policy. 0: do not
 * store. */
static uint32_t apply_policy(vd_cache_t *c, scan_t *s, const vd_cache_policy_t *p)
{
	int rcode = VD_F_RCODE(s->flags);
	uint32_t ttl;

	s->negative = rcode == VD_RCODE_NXDOMAIN || !s->has_qtype;
	if (s->negative) {
		if (!s->has_soa)
			return 0; /* RFC 2308 section 5: no SOA, no caching */
		ttl = s->soa_neg < p->max_negative_ttl ? s->soa_neg
						       : p->max_negative_ttl;
		if (s->min_ttl < ttl)
			ttl = s->min_ttl;
		for (unsigned i = 0; i < s->nrr; i++)
			if (c->ttl_val[i] > ttl)
				c->ttl_val[i] = ttl;
		return ttl;
	}
	for (unsigned i = 0; i < s->nrr; i++)
		c->ttl_val[i] = clamp(c->ttl_val[i], p->min_ttl, p->max_ttl);
	return clamp(s->nrr ? s->min_ttl : 0, p->min_ttl, p->max_ttl);
}

int vd_cache_store(vd_cache_t *c, const vd_cache_key_t *k, const uint8_t *resp,
		   size_t len, const vd_cache_policy_t *p)
{
	scan_t s;
	vd_wbuf_t w;
	uint64_t h;
	int rc;

	if (len < VD_HDR_LEN)
		return VD_EMALF;
	uint16_t flags = vd_hdr_flags(resp);
	int rcode = VD_F_RCODE(flags);
	if ((flags & VD_F_TC) ||
	    (rcode != VD_RCODE_NOERROR && rcode != VD_RCODE_NXDOMAIN)) {
		c->stats.not_cacheable++;
		return 1;
	}
	rc = encode(c, k, resp, len, &s, &w);
	if (rc != 0) {
		c->stats.not_cacheable++;
		return rc;
	}
	uint32_t ttl = apply_policy(c, &s, p);
	if (ttl == 0 || c->stats.max_bytes == 0) {
		c->stats.not_cacheable++;
		return 1;
	}

	size_t nlen = vd_name_len(k->qname_lc);
	size_t bytes = sizeof(entry_t) + 6 * s.nrr + nlen + w.len;
	if (bytes > c->stats.max_bytes / 16) {
		c->stats.not_cacheable++;
		return 1; /* one answer may not crowd out the rest */
	}
	entry_t *old = find(c, k, &h);
	if (old)
		remove_entry(c, old);
	entry_t *e = malloc(bytes);
	if (e == NULL)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->group = k->group;
	e->hash = h;
	e->stored_ms = now(c);
	e->bytes = bytes;
	e->ttl = ttl;
	e->qtype = k->qtype;
	e->qclass = k->qclass;
	e->do_bit = k->do_bit;
	e->cd = k->cd;
	e->has_cname = s.has_cname;
	e->msg_len = (uint16_t)w.len;
	e->nttl = (uint16_t)s.nrr;
	e->name_len = (uint8_t)nlen;
	memcpy(e_ttl_val(e), c->ttl_val, 4 * s.nrr);
	memcpy(e_ttl_off(e), c->ttl_off, 2 * s.nrr);
	memcpy(e_name(e), k->qname_lc, nlen);
	memcpy(e_msg(e), c->scratch, w.len);

	entry_t **b = &c->buckets[h & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	lru_push_front(c, e);
	c->stats.entries++;
	c->stats.bytes += bytes;
	c->stats.inserts++;
	maybe_grow(c);
	evict_to(c, c->stats.max_bytes);
	return 0;
}

/* ---- lookup and write -------------------------------------------------- */

static vd_cache_result_t lookup(vd_cache_t *c, const vd_cache_key_t *k,
				const vd_cache_policy_t *p, vd_cache_hit_t *hit,
				bool use)
{
	entry_t *e = find(c, k, NULL);
	if (e == NULL) {
		c->stats.misses += use;
		return VD_CACHE_MISS;
	}
	uint64_t t = now(c);
	uint64_t age_ms = t > e->stored_ms ? t - e->stored_ms : 0;
	uint64_t ttl_ms = (uint64_t)e->ttl * 1000;
	if (age_ms >= ttl_ms && age_ms - ttl_ms > (uint64_t)p->stale_max * 1000) {
		remove_entry(c, e);
		c->stats.expired++;
		c->stats.misses += use;
		return VD_CACHE_MISS;
	}
	hit->entry = e;
	hit->msg = e_msg(e);
	hit->len = e->msg_len;
	hit->age = (uint32_t)(age_ms / 1000);
	hit->ttl = e->ttl;
	hit->has_cname = e->has_cname;
	hit->failed_recently = e->fail_ms && t - e->fail_ms < VD_CACHE_FAIL_RECHECK_MS;
	hit->prefetch = false;
	if (!use)
		return age_ms >= ttl_ms ? VD_CACHE_STALE : VD_CACHE_HIT;
	lru_unlink(c, e);
	lru_push_front(c, e);
	if (age_ms >= ttl_ms) {
		c->stats.stale_hits++;
		return VD_CACHE_STALE;
	}
	e->hits++;
	c->stats.hits++;
	/* Popular and in the last tenth of its life: refresh it now, so hot
	 * names never miss (Unbound's prefetch rule). */
	hit->prefetch = p->prefetch && e->hits >= 2 && (ttl_ms - age_ms) * 10 < ttl_ms;
	return VD_CACHE_HIT;
}

vd_cache_result_t vd_cache_lookup(vd_cache_t *c, const vd_cache_key_t *k,
				  const vd_cache_policy_t *p, vd_cache_hit_t *hit)
{
	return lookup(c, k, p, hit, true);
}

vd_cache_result_t vd_cache_peek(vd_cache_t *c, const vd_cache_key_t *k,
				const vd_cache_policy_t *p, vd_cache_hit_t *hit)
{
	return lookup(c, k, p, hit, false);
}

void vd_cache_mark_failed(vd_cache_t *c, const vd_cache_key_t *k)
{
	entry_t *e = find(c, k, NULL);
	if (e)
		e->fail_ms = now(c);
}

size_t vd_cache_write(const vd_cache_hit_t *h, const vd_query_msg_t *q, uint16_t flags,
		      bool stale, uint8_t *out, size_t cap)
{
	entry_t *e = (entry_t *)h->entry;
	if (h->len > cap || q->qname_len != e->name_len)
		return 0;
	memcpy(out, h->msg, h->len);
	vd_set16(out, q->id);
	vd_set16(out + 2,
		 (uint16_t)((flags & ~0xf) | VD_F_RCODE(vd_hdr_flags(h->msg))));
	memcpy(out + VD_HDR_LEN, q->qname, q->qname_len);
	const uint32_t *val = e_ttl_val(e);
	const uint16_t *off = e_ttl_off(e);
	for (unsigned i = 0; i < e->nttl; i++)
		vd_set32(out + off[i], stale ? VD_CACHE_STALE_TTL
					     : vd_cache_ttl_left(val[i], h->age));
	return h->len;
}
