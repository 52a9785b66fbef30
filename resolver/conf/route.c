/*
 * A view's routing map: every zone apex and forward rule name of the view
 * in one open-addressing hash table, keyed by lower-cased wire name. A
 * query walks from its longest candidate suffix towards the root and stops
 * at the first name in the table, so the cost is one hash probe sequence
 * per label, whatever the number of zones and rules; the table is filled
 * at most half full so every probe sequence ends at an empty slot. Zone
 * and rule at the same name share one entry, where the rule wins (decided
 * by the query pipeline from the entry's group).
 */
#include "conf_int.h"

#include <errno.h>
#include <string.h>

#include "vpcdns/wire.h"

/* FNV-1a over the wire name. */
static uint32_t name_hash(const uint8_t *name)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = name;

	for (;;) {
		size_t n = (size_t)*p + 1;

		for (size_t i = 0; i < n; i++)
			h = (h ^ p[i]) * 16777619u;
		if (*p == 0)
			break;
		p += n;
	}
	return h;
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

/* The slot holding name, or the empty slot where it belongs. */
static vd_route_entry_t **slot_of(vd_route_entry_t **slots, size_t mask,
				  const uint8_t *name, unsigned labels)
{
	size_t i = name_hash(name) & mask;

	for (;; i = (i + 1) & mask) {
		vd_route_entry_t *e = slots[i];

		if (!e || (e->labels == labels && same_name(e->name, name)))
			return &slots[i];
	}
}

static vd_route_entry_t *entry_get(vd_arena_t *a, vd_view_t *v, const uint8_t *name)
{
	unsigned labels = vd_name_labels(name);
	vd_route_entry_t **slot, *e;

	slot = slot_of(v->route_slots, v->route_mask, name, labels);
	if (*slot)
		return *slot;
	e = vd_arena_alloc(a, sizeof(*e));
	if (!e)
		return NULL;
	e->name = name;
	e->labels = labels;
	e->zone = NULL;
	e->group = -1;
	e->alt = NULL;
	e->nalt = 0;
	*slot = e;
	if (labels > v->route_max_labels)
		v->route_max_labels = labels;
	return e;
}

int vd_conf_route_build_zones(vd_arena_t *a, vd_view_t *v, vd_zone_t *const *zones,
			      size_t nzones, const fwd_rule_t *rules, size_t nrules)
{
	size_t want = 2 * (nzones + nrules), slots = 1;
	vd_route_entry_t *e;

	while (slots < want)
		slots *= 2;
	v->route_slots = vd_arena_alloc(a, slots * sizeof(*v->route_slots));
	if (!v->route_slots)
		return -ENOMEM;
	memset(v->route_slots, 0, slots * sizeof(*v->route_slots));
	v->route_mask = slots - 1;
	v->route_max_labels = 0;
	for (size_t i = 0; i < nzones; i++) {
		e = entry_get(a, v, vd_zone_apex(zones[i]));
		if (!e)
			return -ENOMEM;
		if (!e->zone) {   /* own zones come first */
			e->zone = zones[i];
		} else {
			size_t cap = e->nalt;
			if (vd_conf_arena_push(a, (void **)&e->alt, &e->nalt, &cap,
					       &zones[i], sizeof(zones[i])) < 0)
				return -ENOMEM;
		}
	}
	for (size_t i = 0; i < nrules; i++) {
		e = entry_get(a, v, rules[i].name);
		if (!e)
			return -ENOMEM;
		e->group = rules[i].group;
	}
	return 0;
}

const vd_route_entry_t *vd_view_route(const vd_view_t *v, const uint8_t *qname_lc,
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
		const vd_route_entry_t *e = *slot_of(v->route_slots, v->route_mask, s, k);

		if (e)
			return e;
		if (k == 0)
			return NULL;
		s += 1 + *s;
		k--;
	}
}

vd_zl_result_t vd_route_lookup(const vd_route_entry_t *e, const uint8_t *qname_lc,
			       uint16_t qtype, const vd_rrset_t **rrset, bool *wildcard,
			       const vd_zone_t **zone_out)
{
	vd_zl_result_t r = vd_zone_lookup(e->zone, qname_lc, qtype, rrset, wildcard);
	*zone_out = e->zone;
	for (size_t i = 0; r == VD_ZL_FALLBACK && i < e->nalt; i++) {
		r = vd_zone_lookup(e->alt[i], qname_lc, qtype, rrset, wildcard);
		if (r != VD_ZL_FALLBACK)
			*zone_out = e->alt[i];
	}
	return r;
}
