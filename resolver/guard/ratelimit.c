/*
 * Per-client-prefix token buckets in a fixed table. A bucket holds
 * milli-queries, so refilling is an integer multiplication: qps tokens a
 * second are qps milli-tokens a millisecond. The table is a power of two
 * of slots in pairs (two-way set associative): a prefix hashes to a pair
 * with the process's random seed, so outsiders cannot aim at one pair,
 * and a new prefix takes the slot of the pair used least recently. A
 * spoofed flood from random sources therefore evicts buckets (counted)
 * and never grows the table.
 */
#include "vpcdns/guard.h"
#include "guard_int.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define MILLI 1000

typedef struct slot {
	uint64_t tag;	  /* hash of the key | 1; 0: empty */
	uint64_t last_ms; /* last refill */
	uint64_t tokens;  /* milli-queries */
	uint64_t over;	  /* queries over the limit (slip counter) */
} slot_t;

struct vd_guard_rl {
	slot_t *slots;
	size_t mask;
	uint64_t seed;
	vd_guard_rl_stats_t stats;
};

size_t vd_guard_addr_bytes(const struct sockaddr *sa, uint8_t out[16], int *family)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0) {
		memcpy(out, a + 12, 4);
		*family = AF_INET;
		return 4;
	}
	memcpy(out, a, 16);
	*family = AF_INET6;
	return 16;
}

vd_guard_rl_t *vd_guard_rl_new(uint32_t slots)
{
	vd_guard_rl_t *rl = calloc(1, sizeof(*rl));
	size_t n = 2;

	if (rl == NULL)
		return NULL;
	if (slots > VD_GUARD_RL_SLOTS_MAX)
		slots = VD_GUARD_RL_SLOTS_MAX;
	while (n < slots)
		n <<= 1;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (rl->slots == NULL) {
		free(rl);
		return NULL;
	}
	rl->mask = n - 1;
	rl->seed = vd_hash_seed();
	rl->stats.slots = n;
	return rl;
}

void vd_guard_rl_free(vd_guard_rl_t *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

const vd_guard_rl_stats_t *vd_guard_rl_stats(const vd_guard_rl_t *rl)
{
	return &rl->stats;
}

static bool allowed(const vd_guard_rl_conf_t *c, const struct sockaddr *sa)
{
	for (size_t i = 0; i < c->nallow; i++)
		if (vd_cidr_contains(&c->allow[i], sa))
			return true;
	return false;
}

/* The bucket's key: the client's prefix, its view and the class. */
static uint64_t key_hash(const vd_guard_rl_t *rl, const vd_guard_rl_conf_t *c,
			 const struct sockaddr *sa, int view, vd_guard_class_t cls)
{
	uint8_t key[24] = { 0 };
	int family = 0;
	size_t n = vd_guard_addr_bytes(sa, key + 8, &family);
	unsigned bits = family == AF_INET ? c->ipv4_prefix : c->ipv6_prefix;

	for (size_t i = 0; i < n; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8
				: bits > 8 * i	    ? bits - 8 * i
						    : 0;
		key[8 + i] &= (uint8_t)(0xff00u >> keep);
	}
	key[0] = (uint8_t)family;
	key[1] = (uint8_t)cls;
	key[2] = (uint8_t)bits;
	memcpy(key + 4, &view, sizeof(view));
	return vd_hash(key, sizeof(key), rl->seed) | 1;
}

static slot_t *find_slot(vd_guard_rl_t *rl, uint64_t tag, uint64_t cap, uint64_t now)
{
	slot_t *pair = &rl->slots[(size_t)(tag >> 17) & rl->mask & ~(size_t)1];
	slot_t *s;

	if (pair[0].tag == tag)
		return &pair[0];
	if (pair[1].tag == tag)
		return &pair[1];
	s = pair[0].last_ms <= pair[1].last_ms ? &pair[0] : &pair[1];
	if (s->tag != 0)
		rl->stats.evictions++;
	*s = (slot_t){ .tag = tag, .last_ms = now, .tokens = cap };
	return s;
}

vd_guard_verdict_t vd_guard_rl_check(vd_guard_rl_t *rl, const vd_guard_rl_conf_t *c,
				     const struct sockaddr *sa, int view,
				     vd_guard_class_t cls, uint64_t now_ms)
{
	if (rl == NULL || c == NULL || !c->enabled || allowed(c, sa))
		return VD_GUARD_PASS;
	uint64_t qps = cls == VD_GUARD_UDP ? c->qps : c->tcp_qps;
	uint64_t cap =
		(cls == VD_GUARD_UDP ? c->burst : c->tcp_burst) * (uint64_t)MILLI;
	slot_t *s = find_slot(rl, key_hash(rl, c, sa, view, cls), cap, now_ms);

	if (now_ms > s->last_ms) {
		uint64_t elapsed = now_ms - s->last_ms;
		/* qps <= VD_GUARD_RL_QPS_MAX: no overflow below the cap */
		if (qps == 0 || elapsed > cap / qps)
			s->tokens = qps ? cap : s->tokens;
		else
			s->tokens += elapsed * qps;
		if (s->tokens > cap)
			s->tokens = cap;
		s->last_ms = now_ms;
	}
	if (s->tokens >= MILLI) {
		s->tokens -= MILLI;
		return VD_GUARD_PASS;
	}
	s->over++;
	if (cls == VD_GUARD_UDP && c->slip != 0 && s->over % c->slip == 0)
		return VD_GUARD_SLIP;
	return VD_GUARD_LIMIT;
}
