/*
 * A view's routing map: every zone apex and forward rule name of the view
 * in one open-addressing hash table, keyed by lower-cased wire name. A
 * query walks from its longest candidate suffix towards the root and stops
 * at the first name in the table, so the cost is one hash probe sequence
 * per label, whatever the number of zones and rules; the table is filled
 * at most half full so every probe sequence ends at an empty slot. Zone
 * and rule at the same name share one entry, where the rule wins (decided
 * by the walk from the entry's group). Each 16-byte slot holds the name's
 * hash and label count, so a probe reads another entry only when both
 * match, and a name with just a zone points at the zone (its apex is the
 * name), so a query touches the same few cache lines whether the view has
 * ten zones or a thousand. The walk itself, vd_view_resolve, is the one
 * route of a name: answers and explain both use it.
 */
#include "view_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

/* Names in the map come from configuration; the fixed seed keeps the
 * layout the same on every run. */
static uint32_t name_hash(const uint8_t *name)
{
	return (uint32_t)vd_hash(name, vd_name_len(name), VD_HASH_SEED_FIXED);
}

/* Exact equality of two lower-cased wire names. Byte by byte, stopping at
 * the first difference, so the shorter name is never read past its end
 * (a length byte differs before that). */
static bool same_name(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		size_t n = (size_t)*a + 1;

		for (size_t i = 0; i < n; i++)
			if (a[i] != b[i])
				return false;
		if (*a == 0)
			return true;
		a += n;
		b += n;
	}
}

static const struct vd_view_route_more *more(const struct vd_view_route *s)
{
	return s->more ? s->p : NULL;
}

static const uint8_t *slot_name(const struct vd_view_route *s)
{
	return s->more ? more(s)->name : vd_zone_apex(s->p);
}

/* The slot holding name, or the empty slot where it belongs. Only a slot
 * with the same hash and label count reads the name. */
static struct vd_view_route *slot_of(struct vd_view_route *slots, size_t mask,
				     const uint8_t *name, unsigned labels, uint32_t h)
{
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct vd_view_route *s = &slots[i];

		if (!s->p || (s->hash == h && s->labels == labels &&
			      same_name(slot_name(s), name)))
			return s;
	}
}

static struct vd_view_route *slot_get(vd_view_t *v, const uint8_t *name)
{
	unsigned labels = vd_name_labels(name);
	uint32_t h = name_hash(name);
	struct vd_view_route *s =
		slot_of(v->route_slots, v->route_mask, name, labels, h);

	if (!s->p) {
		s->hash = h;
		s->labels = (uint8_t)labels;
		if (labels > v->route_max_labels)
			v->route_max_labels = labels;
	}
	return s;
}

/* The slot's struct vd_view_route_more, made from its zone if it had none
 * (or for name, if the slot is empty). */
static struct vd_view_route_more *more_get(vd_arena_t *a, struct vd_view_route *s,
					   const uint8_t *name)
{
	struct vd_view_route_more *m;

	if (s->more)
		return (struct vd_view_route_more *)s->p;
	m = vd_arena_alloc(a, sizeof(*m));
	if (!m)
		return NULL;
	*m = (struct vd_view_route_more){ .name = s->p ? vd_zone_apex(s->p) : name,
					  .zone = s->p,
					  .group = -1 };
	s->p = m;
	s->more = true;
	return m;
}

int vd_view_route_fill(vd_arena_t *a, vd_view_t *v, vd_zone_t *const *zones,
		       size_t nzones, const vd_view_rule_t *rules, size_t nrules)
{
	size_t want = 2 * (nzones + nrules), slots = 1;
	struct vd_view_route *s;
	struct vd_view_route_more *m;

	while (slots < want)
		slots *= 2;
	v->route_slots = vd_arena_alloc(a, slots * sizeof(*v->route_slots));
	if (!v->route_slots)
		return -ENOMEM;
	memset(v->route_slots, 0, slots * sizeof(*v->route_slots));
	v->route_mask = slots - 1;
	v->route_max_labels = 0;
	for (size_t i = 0; i < nzones; i++) {
		s = slot_get(v, vd_zone_apex(zones[i]));
		if (!s->p) { /* own zones come first */
			s->p = zones[i];
			continue;
		}
		m = more_get(a, s, NULL);
		if (!m)
			return -ENOMEM;
		if (vd_arena_push(a, (void **)&m->alt, &m->nalt, &m->capalt, &zones[i],
				  sizeof(zones[i])) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nrules; i++) {
		s = slot_get(v, rules[i].name);
		m = more_get(a, s, rules[i].name);
		if (!m)
			return -ENOMEM;
		m->group = rules[i].group;
	}
	return 0;
}

const vd_view_route_t *vd_view_route(const vd_view_t *v, const uint8_t *qname_lc,
				     unsigned max_labels)
{
	const uint8_t *s;
	unsigned labels, k;

	if (!v || !qname_lc || !v->route_slots)
		return NULL;
	labels = vd_name_labels(qname_lc);
	k = labels;
	if (k > max_labels)
		k = max_labels;
	if (k > v->route_max_labels)
		k = v->route_max_labels;
	s = vd_name_skip(qname_lc, labels - k);
	for (;;) {
		const struct vd_view_route *e =
			slot_of(v->route_slots, v->route_mask, s, k, name_hash(s));

		if (e->p)
			return e;
		if (k == 0)
			return NULL;
		s += 1 + *s;
		k--;
	}
}

const uint8_t *vd_view_route_name(const vd_view_route_t *e)
{
	return slot_name(e);
}

const vd_zone_t *vd_view_route_zone(const vd_view_route_t *e)
{
	return e->more ? more(e)->zone : e->p;
}

int vd_view_route_group(const vd_view_route_t *e)
{
	return e->more ? more(e)->group : -1;
}

vd_zl_result_t vd_view_route_lookup(const vd_view_route_t *e, const uint8_t *qname_lc,
				    uint16_t qtype, const vd_rrset_t **rrset,
				    bool *wildcard, const vd_zone_t **zone_out)
{
	const struct vd_view_route_more *m = more(e);
	const vd_zone_t *z = vd_view_route_zone(e);
	vd_zl_result_t r = vd_zone_lookup(z, qname_lc, qtype, rrset, wildcard);

	*zone_out = z;
	for (size_t i = 0; m && r == VD_ZL_FALLBACK && i < m->nalt; i++) {
		r = vd_zone_lookup(m->alt[i], qname_lc, qtype, rrset, wildcard);
		if (r != VD_ZL_FALLBACK)
			*zone_out = m->alt[i];
	}
	return r;
}

/* ---- the walk ------------------------------------------------------------ */

static void trace_step(vd_view_trace_fn trace, void *arg, vd_view_trace_t *t,
		       const vd_view_res_t *res)
{
	t->nchain = res->nchain;
	trace(arg, t);
}

void vd_view_resolve(const vd_view_t *v, const uint8_t *name, uint16_t qtype,
		     vd_view_res_t *res, vd_view_trace_fn trace, void *arg)
{
	uint8_t lc[VD_NAME_MAX];
	unsigned max_labels = UINT_MAX;
	vd_view_trace_t t;

	memset(res, 0, sizeof(*res));
	res->group = -1;
	vd_name_lower(lc, name);
	for (unsigned guard = 0; guard < 4 * VD_VIEW_CHAIN_MAX; guard++) {
		const vd_view_route_t *e = vd_view_route(v, lc, max_labels);
		if (e == NULL) {
			res->refused = res->nchain == 0;
			if (trace) {
				t = (vd_view_trace_t){ .kind = VD_VIEW_STEP_NONE,
						       .name = name };
				trace_step(trace, arg, &t, res);
			}
			return;
		}
		int group = vd_view_route_group(e);
		if (group >= 0) {
			res->group = group;
			res->fwd_name = name;
			if (trace) {
				t = (vd_view_trace_t){ .kind = VD_VIEW_STEP_FORWARD,
						       .name = name,
						       .rule = vd_view_route_name(e),
						       .group = group };
				trace_step(trace, arg, &t, res);
			}
			return;
		}
		const vd_rrset_t *rs = NULL;
		const vd_zone_t *zone = NULL;
		bool wild = false;
		vd_zl_result_t r =
			vd_view_route_lookup(e, lc, qtype, &rs, &wild, &zone);
		if (trace) {
			t = (vd_view_trace_t){ .kind = VD_VIEW_STEP_ZONE,
					       .name = name,
					       .zone = zone,
					       .result = r,
					       .rrset = rs,
					       .wildcard = wild };
			trace_step(trace, arg, &t, res);
		}
		switch (r) {
		case VD_ZL_FALLBACK:
			/* As if the zone were not there: try shallower names. */
			max_labels = e->labels;
			if (max_labels == 0) {
				res->refused = res->nchain == 0;
				if (trace) {
					t = (vd_view_trace_t){
						.kind = VD_VIEW_STEP_NONE, .name = name
					};
					trace_step(trace, arg, &t, res);
				}
				return;
			}
			max_labels--;
			continue;
		case VD_ZL_NODATA:
		case VD_ZL_NXDOMAIN:
			res->rcode = r == VD_ZL_NXDOMAIN ? VD_RCODE_NXDOMAIN
							 : VD_RCODE_NOERROR;
			res->soa_zone = zone;
			return;
		case VD_ZL_ANSWER:
			res->chain[res->nchain++] = (vd_view_step_t){ name, rs };
			return;
		case VD_ZL_CNAME:
			res->chain[res->nchain++] = (vd_view_step_t){ name, rs };
			if (res->nchain > VD_VIEW_CHAIN_MAX) {
				if (trace) {
					t = (vd_view_trace_t){
						.kind = VD_VIEW_STEP_LIMIT,
						.name = rs->rdata[0]
					};
					trace_step(trace, arg, &t, res);
				}
				return; /* answer with the chain so far */
			}
			name = rs->rdata[0];
			vd_name_lower(lc, name);
			max_labels = UINT_MAX;
			for (unsigned i = 0; i + 1 < res->nchain; i++) {
				if (vd_name_equal(res->chain[i].owner, name)) {
					if (trace) {
						t = (vd_view_trace_t){
							.kind = VD_VIEW_STEP_LOOP,
							.name = name
						};
						trace_step(trace, arg, &t, res);
					}
					return; /* CNAME loop */
				}
			}
			continue;
		}
	}
}
