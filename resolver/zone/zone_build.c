/*
 * Turning the records read from a zone file into the zone's lookup form:
 * the checks that need the whole file (one SOA at the apex, every name
 * under the apex, class IN, CNAME alone at its name), then RRsets (records
 * of one name and type merged, duplicates dropped, rdata in one block in
 * canonical order), one node per owner, an empty node for every empty
 * non-terminal between an owner and the apex, each node's link to its
 * wildcard child, and the open-addressing hash index. Everything kept is
 * copied into the zone's arena; the staging records are left to the caller.
 */
#include "zone_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- name hashing and the index ---------------------------------------- */

uint32_t vd_zone_hash_label(uint32_t parent, const uint8_t *label)
{
	return (uint32_t)vd_hash(label, (size_t)label[0] + 1, parent);
}

uint32_t vd_zone_hash_name(const uint8_t *name)
{
	const uint8_t *label[VD_ZONE_LABELS_MAX];
	unsigned n = 0;
	uint32_t h = VD_ZONE_HASH_ROOT;

	for (const uint8_t *p = name; *p && n < VD_ZONE_LABELS_MAX; p += *p + 1)
		label[n++] = p;
	while (n)
		h = vd_zone_hash_label(h, label[--n]);
	return h;
}

vd_zone_node_t *vd_zone_index_find(vd_zone_node_t *const *slots, size_t mask,
				   const uint8_t *name, size_t len, uint32_t hash)
{
	size_t i = vd_zone_index_slot(hash, mask);
	vd_zone_node_t *n;

	while ((n = slots[i])) {
		if (n->hash == hash && n->name_len == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
		i = (i + 1) & mask;
	}
	return NULL;
}

static void slot_put(vd_zone_node_t **slots, size_t mask, vd_zone_node_t *n)
{
	size_t i = vd_zone_index_slot(n->hash, mask);

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = n;
}

/* While building, the slot array is malloc'd and doubles to keep the load
 * at or below one half; it moves into the arena once complete. */
static int index_add(vd_zone_t *z, vd_zone_node_t *n)
{
	if ((z->nodes + 1) * 2 > z->mask + 1 || !z->slots) {
		size_t cap = z->slots ? (z->mask + 1) * 2 : 64;
		vd_zone_node_t **s = calloc(cap, sizeof(*s));

		if (!s)
			return -ENOMEM;
		for (size_t i = 0; z->slots && i <= z->mask; i++)
			if (z->slots[i])
				slot_put(s, cap - 1, z->slots[i]);
		free(z->slots);
		z->slots = s;
		z->mask = cap - 1;
	}
	slot_put(z->slots, z->mask, n);
	z->nodes++;
	return 0;
}

/* vd_zone_hash_name of a name of the zone: every name the build looks up
 * lies at or below the apex, whose hash is known, so only the labels
 * below it are hashed (a vpce name has 2 of 6; the apex none). A name
 * that is not below the apex (the parent of a "*" apex) is hashed whole. */
static uint32_t zone_hash(const vd_zone_t *z, const uint8_t *name, size_t len)
{
	const uint8_t *label[VD_ZONE_LABELS_MAX];
	unsigned n = 0;
	uint32_t h = z->apex_hash;

	if (len < z->apex_len ||
	    memcmp(name + len - z->apex_len, z->apex, z->apex_len) != 0)
		return vd_zone_hash_name(name);
	for (const uint8_t *p = name; p < name + len - z->apex_len; p += *p + 1) {
		if (n == VD_ZONE_LABELS_MAX)
			return vd_zone_hash_name(name);
		label[n++] = p;
	}
	/* The tail matched byte for byte, but it must also start on a
	 * label boundary ("ab.c." ends in "b.c." bytes). */
	if (name + len - z->apex_len != (n ? label[n - 1] + *label[n - 1] + 1 : name))
		return vd_zone_hash_name(name);
	while (n)
		h = vd_zone_hash_label(h, label[--n]);
	return h;
}

static vd_zone_node_t *index_get(const vd_zone_t *z, const uint8_t *name, size_t len)
{
	return vd_zone_index_find(z->slots, z->mask, name, len,
				  zone_hash(z, name, len));
}

static vd_zone_node_t *node_add(vd_zone_t *z, const uint8_t *name, size_t len)
{
	vd_zone_node_t *n = vd_arena_alloc(&z->arena, sizeof(*n));

	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->name_len = (uint16_t)len;
	n->hash = zone_hash(z, name, len);
	if (index_add(z, n) < 0)
		return NULL;
	return n;
}

/* ---- whole-file checks -------------------------------------------------- */

static const char *class_text(uint16_t c, char *buf, size_t len)
{
	if (c == VD_C_CH)
		return "CH";
	if (c == 4)
		return "HS";
	snprintf(buf, len, "CLASS%u", c);
	return buf;
}

static void check_soa(vd_zone_ctx_t *c, const vd_zone_rec_t *r,
		      const vd_zone_rec_t **soa)
{
	char a[VD_NAME_TEXT], b[VD_NAME_TEXT];

	if (*soa) {
		vd_zone_error(c, r->line,
			      "more than one SOA record (the first is at line %u)",
			      (*soa)->line);
		return;
	}
	*soa = r;
	if (!vd_name_equal(r->owner, c->z->apex))
		vd_zone_error(c, r->line, "SOA owner %s is not the zone apex %s",
			      vd_name_to_text(r->owner, a, sizeof(a)),
			      vd_name_to_text(c->z->apex, b, sizeof(b)));
}

static void check_records(vd_zone_ctx_t *c)
{
	char a[VD_NAME_TEXT], b[VD_NAME_TEXT];
	const vd_zone_rec_t *soa = NULL;

	for (size_t i = 0; i < c->nrecs && c->nerr <= VD_ZONE_MAX_ERRORS; i++) {
		const vd_zone_rec_t *r = &c->recs[i];

		if (r->rclass != VD_C_IN)
			vd_zone_error(c, r->line, "class %s is not supported (only IN)",
				      class_text(r->rclass, a, sizeof(a)));
		if (r->type == VD_T_SOA)
			check_soa(c, r, &soa);
		else if (!vd_name_is_subdomain(r->owner, c->z->apex))
			vd_zone_error(c, r->line, "%s is outside the zone %s",
				      vd_name_to_text(r->owner, a, sizeof(a)),
				      vd_name_to_text(c->z->apex, b, sizeof(b)));
		else if (r->type == VD_T_DNAME)
			vd_zone_error(c, r->line, "DNAME records are not supported");
	}
	if (!soa)
		vd_zone_error(c, 0, "no SOA record");
}

/* ---- RRsets and nodes --------------------------------------------------- */

static int rdata_cmp(const vd_zone_rec_t *x, const vd_zone_rec_t *y)
{
	size_t n = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	int d = memcmp(x->rdata, y->rdata, n);

	if (d)
		return d;
	return (x->rdlen > y->rdlen) - (x->rdlen < y->rdlen);
}

/* Owner, then type, then rdata in RFC 4034 canonical order (so duplicates
 * are neighbours), then file order. */
static int rec_cmp(const void *a, const void *b)
{
	const vd_zone_rec_t *x = a, *y = b;
	int d;

	if (x->owner_len != y->owner_len)
		return x->owner_len < y->owner_len ? -1 : 1;
	d = memcmp(x->owner, y->owner, x->owner_len);
	if (d)
		return d;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	d = rdata_cmp(x, y);
	if (d)
		return d;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Builds one RRset from the n records of one name and type (sorted, so
 * duplicates are adjacent; the first of each run is kept). The TTL is the
 * smallest of the records' TTLs. */
static int rrset_build(vd_zone_t *z, const vd_zone_rec_t *r, size_t n, vd_rrset_t *set)
{
	size_t total = 0, count = 0;
	const uint8_t **rdata;
	uint16_t *rdlen;
	uint8_t *block;

	for (size_t i = 0; i < n; i++)
		total += r[i].rdlen;
	rdata = vd_arena_alloc(&z->arena, n * sizeof(*rdata));
	rdlen = vd_arena_alloc(&z->arena, n * sizeof(*rdlen));
	block = vd_arena_alloc(&z->arena, total);
	if (!rdata || !rdlen || !block)
		return -ENOMEM;
	set->type = r[0].type;
	set->rclass = r[0].rclass;
	set->ttl = r[0].ttl;
	for (size_t i = 0; i < n; i++) {
		if (r[i].ttl < set->ttl)
			set->ttl = r[i].ttl;
		if (i && rdata_cmp(&r[i - 1], &r[i]) == 0)
			continue;
		memcpy(block, r[i].rdata, r[i].rdlen);
		rdata[count] = block;
		rdlen[count++] = r[i].rdlen;
		block += r[i].rdlen;
	}
	set->count = (uint16_t)count;
	set->rdata = rdata;
	set->rdlen = rdlen;
	z->rr_count += count;
	return 0;
}

static bool same_owner(const vd_zone_rec_t *x, const vd_zone_rec_t *y)
{
	return x->owner == y->owner || (x->owner_len == y->owner_len &&
					memcmp(x->owner, y->owner, x->owner_len) == 0);
}

/* Length of the run of records at r[0] with its owner (and type). */
static size_t run_len(const vd_zone_rec_t *r, size_t n, bool same_type)
{
	size_t i = 1;

	while (i < n && same_owner(&r[i], &r[0]) &&
	       (!same_type || r[i].type == r[0].type))
		i++;
	return i;
}

/* The record of r[0..n) that comes first in the file, optionally only
 * among those (not) of type CNAME or those whose rdata differ from *not. */
static const vd_zone_rec_t *first_in_file(const vd_zone_rec_t *r, size_t n, int cname,
					  const vd_zone_rec_t * not )
{
	const vd_zone_rec_t *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (cname >= 0 && (r[i].type == VD_T_CNAME) != cname)
			continue;
		if (not &&rdata_cmp(&r[i], not ) == 0)
			continue;
		if (!best || r[i].seq < best->seq)
			best = &r[i];
	}
	return best;
}

/* CNAME must stand alone at its name, and there is one (RFC 1034 3.6.2,
 * RFC 2181 10.1). r[0..n) are the records of one owner. Each problem is
 * reported at the line of the record that broke the rule, reading down. */
static void check_cname(vd_zone_ctx_t *c, const vd_zone_rec_t *r, size_t n)
{
	const vd_zone_rec_t *cn = first_in_file(r, n, 1, NULL), *other, *cn2;
	char name[VD_NAME_TEXT];

	if (!cn)
		return;
	vd_name_to_text(r[0].owner, name, sizeof(name));
	other = first_in_file(r, n, 0, NULL);
	if (other) {
		if (other->seq > cn->seq)
			vd_zone_error(c, other->line,
				      "%s: other data beside the CNAME at line %u",
				      name, cn->line);
		else
			vd_zone_error(c, cn->line,
				      "%s: CNAME beside other data (line %u)", name,
				      other->line);
	}
	cn2 = first_in_file(r, n, 1, cn);
	if (cn2)
		vd_zone_error(c, cn2->line,
			      "%s: more than one CNAME (the first is at line %u)", name,
			      cn->line);
}

/* One node for the records r[0..n) of one owner: its RRsets sorted by
 * type (the records are sorted that way already). */
static int owner_add(vd_zone_ctx_t *c, const vd_zone_rec_t *r, size_t n)
{
	vd_zone_t *z = c->z;
	vd_zone_node_t *node;
	uint8_t *name;
	size_t k = 0;

	check_cname(c, r, n);
	for (size_t i = 0; i < n; i += run_len(r + i, n - i, true))
		k++;
	name = vd_arena_memdup(&z->arena, r[0].owner, r[0].owner_len);
	if (!name || !(node = node_add(z, name, r[0].owner_len)))
		return -ENOMEM;
	node->rrsets = vd_arena_alloc(&z->arena, k * sizeof(*node->rrsets));
	if (!node->rrsets)
		return -ENOMEM;
	node->nrrsets = (uint16_t)k;
	k = 0;
	for (size_t i = 0, m; i < n; i += m) {
		m = run_len(r + i, n - i, true);
		if (m > UINT16_MAX) {
			vd_zone_error(
				c, r[i].line,
				"more than 65535 records of one type at one name");
			return VD_ECONF;
		}
		if (rrset_build(z, r + i, m, &node->rrsets[k++]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Empty nodes for the names between an owner and the apex, so a name
 * that only has descendants answers NODATA, not NXDOMAIN (RFC 4592 2.2.2).
 * The names are suffixes of the owner's own copy. */
static int ents_add(vd_zone_t *z, const vd_zone_node_t *owner)
{
	unsigned depth = vd_name_labels(owner->name) - z->apex_labels;
	const uint8_t *p;
	size_t len;

	for (unsigned i = 1; i < depth; i++) {
		p = vd_name_skip(owner->name, i);
		len = owner->name_len - (size_t)(p - owner->name);
		if (!index_get(z, p, len) && !node_add(z, p, len))
			return -ENOMEM;
	}
	return 0;
}

static void wildcards_link(vd_zone_t *z)
{
	for (size_t i = 0; i <= z->mask; i++) {
		vd_zone_node_t *w = z->slots[i], *parent;

		if (!w || w->name[0] != 1 || w->name[1] != '*')
			continue;
		parent = index_get(z, w->name + 2, w->name_len - 2u);
		if (parent)
			parent->wild = w;
	}
}

static int nodes_build(vd_zone_ctx_t *c)
{
	vd_zone_t *z = c->z;
	size_t n;
	int ret;

	qsort(c->recs, c->nrecs, sizeof(c->recs[0]), rec_cmp);
	for (size_t i = 0; i < c->nrecs; i += n) {
		n = run_len(c->recs + i, c->nrecs - i, false);
		ret = owner_add(c, c->recs + i, n);
		if (ret < 0)
			return ret;
	}
	if (c->nerr)
		return VD_ECONF;
	/* Only owner nodes exist yet; ENTs added below are empty and need no
	 * ENTs of their own, so walking the owners' suffixes is enough. */
	for (size_t i = 0; i < c->nrecs; i += n) {
		n = run_len(c->recs + i, c->nrecs - i, false);
		ret = ents_add(z, index_get(z, c->recs[i].owner, c->recs[i].owner_len));
		if (ret < 0)
			return ret;
	}
	wildcards_link(z);
	return 0;
}

static const vd_rrset_t *rrset_find(const vd_zone_node_t *n, uint16_t type)
{
	for (unsigned i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

static int apex_fill(vd_zone_t *z)
{
	uint32_t min;

	z->apex_node = index_get(z, z->apex, z->apex_len);
	z->soa = z->apex_node ? rrset_find(z->apex_node, VD_T_SOA) : NULL;
	/* check_records let only a zone with one SOA, at the apex, get here;
	 * ldns gave it its 7 fields (20 fixed bytes after two names). */
	if (!z->soa || z->soa->count != 1 || z->soa->rdlen[0] < 22)
		return VD_ECONF;
	min = vd_get32(z->soa->rdata[0] + z->soa->rdlen[0] - 4);
	z->neg_ttl = z->soa->ttl < min ? z->soa->ttl : min;
	return 0;
}

int vd_zone_build(vd_zone_ctx_t *c)
{
	vd_zone_node_t **build_slots;
	int ret;

	check_records(c);
	if (c->nerr)
		return VD_ECONF;
	c->z->apex_hash = vd_zone_hash_name(c->z->apex);
	ret = nodes_build(c);
	/* The growing index is malloc'd; the flat copy has its own. */
	build_slots = c->z->slots;
	if (ret == 0)
		ret = apex_fill(c->z);
	if (ret == 0)
		ret = vd_zone_flatten(c->z, &c->z);
	free(build_slots);
	if (ret < 0)
		c->z->slots = NULL;
	return ret;
}
