/*
 * Zone images: a flattened zone is one block whose internal pointers all
 * point into itself (zone_flat.c), so its bytes and the address they were
 * at are enough to take the zone back in another process without reading
 * its file again. Taking it back copies the bytes into a new block and
 * moves every pointer by the distance between the two addresses, checking
 * on the way that each lands inside the block, with room for what it
 * points at, at the alignment its type needs. Old pointer values are
 * always read from the source bytes, so a pointer met twice is moved once.
 * Bytes that fail a check are refused (VD_EMALF), never followed; callers
 * check a sum over the bytes first, so a refusal means bytes of another
 * build or a bug, not a disk error.
 */
#include "zone_int.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Changes whenever the block's layout does. */
#define IMAGE_FORMAT 1u

uint32_t vd_zone_image_layout(void)
{
	return IMAGE_FORMAT << 24 ^ (uint32_t)sizeof(vd_zone_t) << 16 ^
	       (uint32_t)sizeof(vd_zone_node_t) << 8 ^ (uint32_t)sizeof(vd_rrset_t);
}

size_t vd_zone_image_copy(const vd_zone_t *z, void *buf, size_t cap)
{
	size_t len = z->flat_size;

	if (len <= cap) {
		/* The identity may be taken over by a build meanwhile. */
		vd_zone_identity_lock();
		memcpy(buf, z, len);
		vd_zone_identity_unlock();
	}
	return len;
}

typedef struct rebase {
	const uint8_t *src; /* the bytes as given */
	uint8_t *dst;	    /* their copy, being fixed */
	size_t len;
	uint64_t base; /* the address src's bytes were at */
	bool bad;
} rebase_t;

/* The old value of the pointer field at dst-address field. */
static const void *old_of(const rebase_t *r, const void *field)
{
	const void *v;

	memcpy(&v, r->src + ((const uint8_t *)field - r->dst), sizeof(v));
	return v;
}

/* Moves the pointer at field into the copy: NULL stays NULL when
 * null_ok; anything else must leave need bytes inside the block at a
 * multiple of align. Returns the new value (NULL once bad). */
static void *move(rebase_t *r, void *field, size_t need, size_t align, bool null_ok)
{
	const void *old = old_of(r, field);
	uint64_t a = (uint64_t)(uintptr_t)old, off;
	void *now = NULL;

	if (!old) {
		r->bad |= !null_ok;
	} else if (a < r->base || (off = a - r->base) > r->len || need > r->len - off ||
		   off % align) {
		r->bad = true;
	} else {
		now = r->dst + off;
	}
	memcpy(field, &now, sizeof(now));
	return r->bad ? NULL : now;
}

/* A string: its terminator inside the block. */
static const char *move_str(rebase_t *r, const char **field, bool null_ok)
{
	const char *s = move(r, (void *)field, 1, 1, null_ok);

	if (s && !memchr(s, 0, r->len - (size_t)((const uint8_t *)s - r->dst)))
		r->bad = true;
	return r->bad ? NULL : s;
}

/* A wire name of exactly len bytes. */
static bool name_ok(const uint8_t *n, size_t len)
{
	size_t i = 0;

	while (i < len && n[i]) {
		if (n[i] > 63)
			return false;
		i += 1 + (size_t)n[i];
	}
	return i + 1 == len && len <= VD_NAME_MAX;
}

static void move_rrset(rebase_t *r, vd_rrset_t *rs)
{
	const uint8_t **rdata = move(r, (void *)&rs->rdata, rs->count * sizeof(*rdata),
				     alignof(const uint8_t *), rs->count == 0);
	const uint16_t *rdlen = move(r, (void *)&rs->rdlen, rs->count * sizeof(*rdlen),
				     alignof(uint16_t), rs->count == 0);

	for (unsigned k = 0; rdata && rdlen && k < rs->count && !r->bad; k++)
		move(r, (void *)&rdata[k], rdlen[k], 1, false);
}

static vd_zone_node_t *move_node(rebase_t *r, void *field, bool null_ok)
{
	return move(r, field, sizeof(vd_zone_node_t), alignof(vd_zone_node_t), null_ok);
}

/* Whether n is one of the count nodes at first (zone_flat.c lays them
 * out in one array right after the index). */
static bool is_node(const vd_zone_node_t *n, const vd_zone_node_t *first, size_t count)
{
	return n >= first && n < first + count &&
	       ((const uint8_t *)n - (const uint8_t *)first) % sizeof(*n) == 0;
}

int vd_zone_image_load(const void *bytes, size_t len, uint64_t base, vd_zone_t **out)
{
	rebase_t r = { .src = bytes, .len = len, .base = base };
	vd_zone_node_t **slots, *first;
	uint8_t *seen = NULL;
	vd_zone_t *z;
	size_t nslots, found = 0;

	*out = NULL;
	if (len < sizeof(vd_zone_t))
		return VD_EMALF;
	z = malloc(len);
	if (!z)
		return -ENOMEM;
	memcpy(z, bytes, len);
	r.dst = (uint8_t *)z;
	nslots = (size_t)z->mask + 1;
	/* A bool must hold 0 or 1 before it is read as one. */
	uint8_t racy;
	memcpy(&racy, r.dst + offsetof(vd_zone_t, racy), 1);
	/* At most half the slots are used: a probe always ends. */
	if (z->flat_size != len || nslots < 2 || (nslots & (nslots - 1)) ||
	    nslots > len / sizeof(void *) || z->nodes > nslots / 2 ||
	    z->apex_len == 0 || racy > 1)
		goto bad;
	atomic_init(&z->refs, 1);
	memset(&z->arena, 0, sizeof(z->arena));
	move_str(&r, &z->path, false);
	move_str(&r, &z->origin_text, true);
	const uint8_t *apex = move(&r, (void *)&z->apex, z->apex_len, 1, false);
	if (r.bad || !name_ok(apex, z->apex_len) ||
	    z->apex_labels != vd_name_labels(apex))
		goto bad;
	slots = move(&r, (void *)&z->slots, nslots * sizeof(*slots), alignof(void *),
		     false);
	if (r.bad)
		goto bad;
	/* The nodes: one array right after the index, each in one slot. */
	first = (vd_zone_node_t *)(slots + nslots);
	if ((size_t)((uint8_t *)(first + z->nodes) - r.dst) > len)
		goto bad;
	seen = calloc(z->nodes ? z->nodes : 1, 1);
	if (!seen) {
		free(z);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nslots && !r.bad; i++) {
		vd_zone_node_t *n = move_node(&r, &slots[i], true);

		if (!n)
			continue;
		if (!is_node(n, first, z->nodes) || seen[n - first]++)
			goto bad;
		found++;
		const uint8_t *name = move(&r, (void *)&n->name, n->name_len, 1, false);
		vd_rrset_t *sets = move(&r, (void *)&n->rrsets,
					n->nrrsets * sizeof(*sets), alignof(vd_rrset_t),
					n->nrrsets == 0);
		if (r.bad || !name_ok(name, n->name_len))
			goto bad;
		for (unsigned k = 0; k < n->nrrsets && !r.bad; k++)
			move_rrset(&r, &sets[k]);
	}
	if (r.bad || found != z->nodes)
		goto bad;
	/* Links between nodes: to nodes just moved, and the SOA to one of
	 * the apex node's RRsets. */
	for (size_t i = 0; i < z->nodes; i++) {
		const vd_zone_node_t *w = move_node(&r, (void *)&first[i].wild, true);
		if (r.bad || (w && !is_node(w, first, z->nodes)))
			goto bad;
	}
	/* A lookup starts at the apex node: it must be there. */
	const vd_zone_node_t *an = move_node(&r, (void *)&z->apex_node, false);
	const vd_rrset_t *soa = move(&r, (void *)&z->soa, sizeof(vd_rrset_t),
				     alignof(vd_rrset_t), true);
	if (r.bad || !is_node(an, first, z->nodes) || an->name_len != z->apex_len ||
	    memcmp(an->name, apex, z->apex_len) != 0 ||
	    (soa && (soa < an->rrsets || soa >= an->rrsets + an->nrrsets)))
		goto bad;
	free(seen);
	*out = z;
	return 0;
bad:
	free(seen);
	free(z);
	return VD_EMALF;
}
