/*
 * The client address -> view table: two binary tries, one for IPv4 (32
 * levels) and one for IPv6 (128 levels). Nodes live in one growable array
 * and refer to their children by index, so the whole table is a single
 * allocation to free and a lookup touches one contiguous block. A lookup
 * follows the address bits from the root and remembers the last view index
 * it passed, which is the longest matching prefix; its cost depends on the
 * address length only, never on the number of views or prefixes.
 *
 * A table of a few prefixes (a view's subnets, mapped to their AZs) also
 * keeps them in a short list that a lookup scans with one masked compare
 * per prefix: a /24 costs 24 dependent node reads in the trie and one
 * 32-bit compare here. Building a view matches every endpoint address
 * against such a table, and a query its client's.
 */
#include "vpcdns/view.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Node 0 is the IPv4 root and node 1 the IPv6 root; since a root is never
 * anybody's child, child index 0 can mean "no child". */
enum { ROOT4 = 0, ROOT6 = 1, NO_VIEW = -1 };

typedef struct trie_node {
	uint32_t child[2];
	int idx;
} trie_node_t;

/* Up to SMALL_MAX prefixes per family are also kept as a list. */
#define SMALL_MAX 8

typedef struct small4 {
	uint32_t net, mask; /* host byte order */
	int prefix, idx;
} small4_t;

typedef struct small6 {
	uint8_t addr[16];
	int prefix, idx;
} small6_t;

struct vd_view_table {
	trie_node_t *nodes;
	uint32_t count;
	uint32_t cap;
	/* n4/n6 > SMALL_MAX: that family's list is not kept, walk the trie */
	unsigned n4, n6;
	small4_t v4[SMALL_MAX];
	small6_t v6[SMALL_MAX];
};

vd_view_table_t *vd_view_table_new(void)
{
	vd_view_table_t *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = 64;
	t->nodes = calloc(t->cap, sizeof(*t->nodes));
	if (!t->nodes) {
		free(t);
		return NULL;
	}
	t->count = 2;
	t->nodes[ROOT4].idx = NO_VIEW;
	t->nodes[ROOT6].idx = NO_VIEW;
	return t;
}

void vd_view_table_free(vd_view_table_t *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t);
}

static int node_new(vd_view_table_t *t, uint32_t *out)
{
	trie_node_t *n;

	if (t->count == t->cap) {
		if (t->cap > UINT32_MAX / 2)
			return -ENOMEM;
		n = realloc(t->nodes, (size_t)t->cap * 2 * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->nodes = n;
		t->cap *= 2;
	}
	n = &t->nodes[t->count];
	n->child[0] = n->child[1] = 0;
	n->idx = NO_VIEW;
	*out = t->count++;
	return 0;
}

static inline unsigned addr_bit(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1u;
}

static uint32_t load4(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static void small_add(vd_view_table_t *t, const vd_cidr_t *c, int idx)
{
	if (c->family == AF_INET) {
		if (t->n4 < SMALL_MAX) {
			uint32_t mask = c->prefix ? ~(uint32_t)0 << (32 - c->prefix)
						  : 0;
			t->v4[t->n4] = (small4_t){ load4(c->addr) & mask, mask,
						   c->prefix, idx };
		}
		t->n4++;
		return;
	}
	if (t->n6 < SMALL_MAX) {
		small6_t *e = &t->v6[t->n6];
		memcpy(e->addr, c->addr, 16);
		e->prefix = c->prefix;
		e->idx = idx;
	}
	t->n6++;
}

/* The longest of the listed prefixes holding addr (4 bytes). */
static int small_match4(const vd_view_table_t *t, const uint8_t *addr)
{
	uint32_t a = load4(addr);
	int best = NO_VIEW, best_len = -1;

	for (unsigned i = 0; i < t->n4; i++) {
		const small4_t *e = &t->v4[i];
		if ((a & e->mask) == e->net && e->prefix > best_len)
			best = e->idx, best_len = e->prefix;
	}
	return best;
}

static bool in6(const small6_t *e, const uint8_t *addr)
{
	int full = e->prefix / 8, rest = e->prefix % 8;

	if (memcmp(e->addr, addr, (size_t)full) != 0)
		return false;
	return !rest || ((e->addr[full] ^ addr[full]) & (0xff00 >> rest)) == 0;
}

static int small_match6(const vd_view_table_t *t, const uint8_t *addr)
{
	int best = NO_VIEW, best_len = -1;

	for (unsigned i = 0; i < t->n6; i++) {
		const small6_t *e = &t->v6[i];
		if (e->prefix > best_len && in6(e, addr))
			best = e->idx, best_len = e->prefix;
	}
	return best;
}

int vd_view_table_add(vd_view_table_t *t, const vd_cidr_t *c, int idx)
{
	uint32_t cur, next;
	unsigned bits, b;
	int r;

	if (!t || !c || idx < 0)
		return -EINVAL;
	if (c->family == AF_INET)
		bits = 32, cur = ROOT4;
	else if (c->family == AF_INET6)
		bits = 128, cur = ROOT6;
	else
		return -EAFNOSUPPORT;
	if (c->prefix > bits)
		return -EINVAL;
	for (unsigned i = 0; i < c->prefix; i++) {
		b = addr_bit(c->addr, i);
		next = t->nodes[cur].child[b];
		if (!next) {
			/* node_new may move the array: index, never pointer. */
			r = node_new(t, &next);
			if (r < 0)
				return r;
			t->nodes[cur].child[b] = next;
		}
		cur = next;
	}
	if (t->nodes[cur].idx != NO_VIEW)
		return -EEXIST;
	t->nodes[cur].idx = idx;
	small_add(t, c, idx);
	return 0;
}

static int walk(const vd_view_table_t *t, uint32_t cur, const uint8_t *addr,
		unsigned bits)
{
	int best = t->nodes[cur].idx;

	for (unsigned i = 0; i < bits; i++) {
		cur = t->nodes[cur].child[addr_bit(addr, i)];
		if (!cur)
			break;
		if (t->nodes[cur].idx != NO_VIEW)
			best = t->nodes[cur].idx;
	}
	return best;
}

static int match4(const vd_view_table_t *t, const uint8_t *addr)
{
	return t->n4 <= SMALL_MAX ? small_match4(t, addr) : walk(t, ROOT4, addr, 32);
}

int vd_view_table_match(const vd_view_table_t *t, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;

	if (!t || !sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)sa;
		return match4(t, (const uint8_t *)&s4->sin_addr);
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return match4(t, s6->sin6_addr.s6_addr + 12);
	if (t->n6 <= SMALL_MAX)
		return small_match6(t, s6->sin6_addr.s6_addr);
	return walk(t, ROOT6, s6->sin6_addr.s6_addr, 128);
}
