/*
 * The client address -> view table: two binary tries, one for IPv4 (32
 * levels) and one for IPv6 (128 levels). Nodes live in one growable array
 * and refer to their children by index, so the whole table is a single
 * allocation to free and a lookup touches one contiguous block. A lookup
 * follows the address bits from the root and remembers the last view index
 * it passed, which is the longest matching prefix; its cost depends on the
 * address length only, never on the number of views or prefixes.
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

struct vd_view_table {
	trie_node_t *nodes;
	uint32_t count;
	uint32_t cap;
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

int vd_view_table_match(const vd_view_table_t *t, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;

	if (!t || !sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)sa;
		return walk(t, ROOT4, (const uint8_t *)&s4->sin_addr, 32);
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return walk(t, ROOT4, s6->sin6_addr.s6_addr + 12, 32);
	return walk(t, ROOT6, s6->sin6_addr.s6_addr, 128);
}
