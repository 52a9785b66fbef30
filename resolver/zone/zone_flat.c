/*
 * The zone's final form: one exact-size block. The builder works in an
 * arena, with an index that grows by doubling and every piece rounded to
 * the arena's alignment; that is convenient while the shape is unknown,
 * but it costs a 1 KiB chunk and a 64-slot index even for a zone of one
 * name and three records, which is most of
 * what vpcdns-import writes (201,000 such zones at 1000 VPCs). Once the
 * zone is complete its size is known, so it is copied here into a single
 * allocation: the zone header, an index sized for its nodes (load <= 1/2),
 * the nodes, RRsets, rdata pointers and lengths, then the bytes (path,
 * origin, apex, names, rdata), with every internal pointer relinked. The
 * arena is freed; lookups read the copy exactly as they read the original.
 */
#include "zone_int.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct flat_size {
	size_t nodes, rrsets, rrs, bytes, slots;
} flat_size_t;

static size_t align_to(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static void measure(const vd_zone_t *z, flat_size_t *s)
{
	memset(s, 0, sizeof(*s));
	s->bytes = str_size(z->path) + str_size(z->origin_text) + z->apex_len;
	for (size_t i = 0; i <= z->mask; i++) {
		const vd_zone_node_t *n = z->slots[i];

		if (!n)
			continue;
		s->nodes++;
		if (n != z->apex_node) /* the apex node's name is the apex */
			s->bytes += n->name_len;
		s->rrsets += n->nrrsets;
		for (unsigned j = 0; j < n->nrrsets; j++) {
			s->rrs += n->rrsets[j].count;
			for (unsigned k = 0; k < n->rrsets[j].count; k++)
				s->bytes += n->rrsets[j].rdlen[k];
		}
	}
	s->slots = 2;
	while (s->slots < 2 * s->nodes)
		s->slots *= 2;
}

/* Bump pointer over the new block (sized exactly by measure()). */
typedef struct cursor {
	uint8_t *p;
} cursor_t;

static void *take(cursor_t *c, size_t n)
{
	void *p = c->p;

	c->p += n;
	return p;
}

static const char *copy_str(cursor_t *bytes, const char *s)
{
	size_t n = str_size(s);

	return n ? memcpy(take(bytes, n), s, n) : NULL;
}

static void copy_rrset(vd_rrset_t *to, const vd_rrset_t *from, cursor_t *ptrs,
		       cursor_t *lens, cursor_t *bytes)
{
	const uint8_t **rdata = take(ptrs, from->count * sizeof(*rdata));
	uint16_t *rdlen = take(lens, from->count * sizeof(*rdlen));

	*to = *from;
	for (unsigned k = 0; k < from->count; k++) {
		rdata[k] = memcpy(take(bytes, from->rdlen[k]), from->rdata[k],
				  from->rdlen[k]);
		rdlen[k] = from->rdlen[k];
	}
	to->rdata = rdata;
	to->rdlen = rdlen;
}

static const vd_rrset_t *soa_of(const vd_zone_node_t *n)
{
	for (unsigned i = 0; n && i < n->nrrsets; i++)
		if (n->rrsets[i].type == VD_T_SOA)
			return &n->rrsets[i];
	return NULL;
}

int vd_zone_flatten(vd_zone_t *z, vd_zone_t **out)
{
	size_t head, at_slots, at_nodes, at_rrsets, at_ptrs, at_lens, at_bytes, total;
	cursor_t nodes, rrsets, ptrs, lens, bytes;
	vd_zone_node_t **slots, *n;
	vd_zone_t *f;
	flat_size_t s;
	size_t mask;

	measure(z, &s);
	head = align_to(sizeof(*f), alignof(max_align_t));
	at_slots = head;
	at_nodes = at_slots + s.slots * sizeof(*slots);
	at_rrsets = align_to(at_nodes + s.nodes * sizeof(vd_zone_node_t),
			     alignof(vd_rrset_t));
	at_ptrs = align_to(at_rrsets + s.rrsets * sizeof(vd_rrset_t), sizeof(void *));
	at_lens = at_ptrs + s.rrs * sizeof(uint8_t *);
	at_bytes = at_lens + s.rrs * sizeof(uint16_t);
	total = at_bytes + s.bytes;
	if (total > UINT32_MAX)
		return -ENOMEM;
	f = malloc(total);
	if (!f)
		return -ENOMEM;
	*f = *z;
	atomic_init(&f->refs, 1);
	memset(&f->arena, 0, sizeof(f->arena));
	slots = (vd_zone_node_t **)((uint8_t *)f + at_slots);
	memset(slots, 0, s.slots * sizeof(*slots));
	mask = s.slots - 1;
	nodes.p = (uint8_t *)f + at_nodes;
	rrsets.p = (uint8_t *)f + at_rrsets;
	ptrs.p = (uint8_t *)f + at_ptrs;
	lens.p = (uint8_t *)f + at_lens;
	bytes.p = (uint8_t *)f + at_bytes;
	f->path = copy_str(&bytes, z->path);
	f->origin_text = copy_str(&bytes, z->origin_text);
	f->apex = memcpy(take(&bytes, z->apex_len), z->apex, z->apex_len);
	for (size_t i = 0; i <= z->mask; i++) {
		const vd_zone_node_t *o = z->slots[i];
		vd_rrset_t *sets;
		size_t j;

		if (!o)
			continue;
		n = take(&nodes, sizeof(*n));
		*n = *o;
		n->name = o == z->apex_node ? f->apex
					    : memcpy(take(&bytes, o->name_len), o->name,
						     o->name_len);
		sets = take(&rrsets, o->nrrsets * sizeof(*sets));
		for (unsigned k = 0; k < o->nrrsets; k++)
			copy_rrset(&sets[k], &o->rrsets[k], &ptrs, &lens, &bytes);
		n->rrsets = o->nrrsets ? sets : NULL;
		for (j = vd_zone_index_slot(n->hash, mask); slots[j];
		     j = (j + 1) & mask)
			;
		slots[j] = n;
	}
	/* Wildcard links and the apex point at the new nodes. */
	for (size_t i = 0; i <= mask; i++) {
		const vd_zone_node_t *w;

		n = slots[i];
		if (!n || !(w = n->wild))
			continue;
		n->wild =
			vd_zone_index_find(slots, mask, w->name, w->name_len, w->hash);
	}
	f->slots = slots;
	f->flat_size = (uint32_t)total;
	f->mask = mask;
	f->nodes = s.nodes;
	f->apex_node = z->apex_node
			       ? vd_zone_index_find(slots, mask, f->apex, f->apex_len,
						    z->apex_node->hash)
			       : NULL;
	f->soa = soa_of(f->apex_node);
	VD_REQUIRE(bytes.p == (uint8_t *)f + total);
	vd_zone_free_built(z);
	*out = f;
	return 0;
}

/* ---- equal data --------------------------------------------------------- */

/* Where p points in its block (0 for NULL, which no pointer into a
 * block can be: the header is at 0). */
static size_t off_in(const vd_zone_t *z, const void *p)
{
	return p ? (size_t)((const uint8_t *)p - (const uint8_t *)z) : 0;
}

static bool same_rrset(const vd_zone_t *a, const vd_rrset_t *x, const vd_zone_t *b,
		       const vd_rrset_t *y)
{
	if (x->type != y->type || x->rclass != y->rclass || x->ttl != y->ttl ||
	    x->count != y->count || off_in(a, x->rdata) != off_in(b, y->rdata) ||
	    off_in(a, x->rdlen) != off_in(b, y->rdlen))
		return false;
	for (unsigned k = 0; k < x->count; k++)
		if (x->rdlen[k] != y->rdlen[k] ||
		    off_in(a, x->rdata[k]) != off_in(b, y->rdata[k]))
			return false;
	return true;
}

bool vd_zone_same_data(const vd_zone_t *a, const vd_zone_t *b)
{
	size_t bytes = off_in(a, a->path);

	if (a->flat_size != b->flat_size || a->mask != b->mask ||
	    a->nodes != b->nodes || a->apex_len != b->apex_len ||
	    a->apex_labels != b->apex_labels || a->apex_hash != b->apex_hash ||
	    a->neg_ttl != b->neg_ttl || a->rr_count != b->rr_count ||
	    a->fallback != b->fallback || a->max_size != b->max_size ||
	    off_in(a, a->slots) != off_in(b, b->slots) ||
	    off_in(a, a->apex) != off_in(b, b->apex) ||
	    off_in(a, a->apex_node) != off_in(b, b->apex_node) ||
	    off_in(a, a->soa) != off_in(b, b->soa) ||
	    off_in(a, a->origin_text) != off_in(b, b->origin_text) ||
	    bytes != off_in(b, b->path) || bytes == 0 || bytes > a->flat_size)
		return false;
	for (size_t i = 0; i <= a->mask; i++) {
		const vd_zone_node_t *x = a->slots[i], *y = b->slots[i];

		if (off_in(a, x) != off_in(b, y))
			return false;
		if (!x)
			continue;
		if (x->hash != y->hash || x->name_len != y->name_len ||
		    x->nrrsets != y->nrrsets ||
		    off_in(a, x->name) != off_in(b, y->name) ||
		    off_in(a, x->rrsets) != off_in(b, y->rrsets) ||
		    off_in(a, x->wild) != off_in(b, y->wild))
			return false;
		for (unsigned k = 0; k < x->nrrsets; k++)
			if (!same_rrset(a, &x->rrsets[k], b, &y->rrsets[k]))
				return false;
	}
	/* path, origin, apex, names and rdata: plain bytes */
	return memcmp((const uint8_t *)a + bytes, (const uint8_t *)b + bytes,
		      a->flat_size - bytes) == 0;
}
