/*
 * The tables a view answers endpoint questions from, computed once when
 * the snapshot is built so a query only looks things up: subnet -> AZ
 * (the client's AZ by the view's own subnets, answer addresses by its own
 * and its included views' subnets), the AZ of every record of each
 * multi-address A/AAAA RRset it serves with the answer order for a client
 * in each AZ, and the reverse map from endpoint addresses to their
 * regional vpce names (the AWS naming rule is here too).
 */
#include "view_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

/* ---- subnets -------------------------------------------------------------- */

static int az_index(vd_view_t *v, vd_arena_t *a, const char *az_id)
{
	for (size_t i = 0; i < v->naz; i++)
		if (strcmp(v->az_ids[i], az_id) == 0)
			return (int)i;
	if (v->naz >= VD_AZ_UNKNOWN)
		return -1;
	const char **grown = vd_arena_alloc(a, (v->naz + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	if (v->naz)
		memcpy(grown, v->az_ids, v->naz * sizeof(*grown));
	grown[v->naz] = az_id;
	v->az_ids = grown;
	return (int)v->naz++;
}

int vd_view_add_subnet(vd_view_t *v, vd_arena_t *a, const vd_cidr_t *c,
		       const char *az_id, int table)
{
	vd_view_table_t **t = table == VD_VIEW_SUBNET_CLIENT ? &v->client_azs
							     : &v->addr_azs;
	int az = az_index(v, a, az_id);

	if (az < 0)
		return -ENOMEM;
	if (!*t) {
		*t = vd_view_table_new();
		if (!*t)
			return -ENOMEM;
	}
	int r = vd_view_table_add(*t, c, az);
	if (r == 0 && table == VD_VIEW_SUBNET_ADDR) {
		vd_view_addr_subnet_t e = { *c, az };
		if (vd_arena_push(a, (void **)&v->addr_subnets, &v->naddr_subnets,
				  &v->capaddr_subnets, &e, sizeof(e)) < 0)
			return -ENOMEM;
	}
	return r;
}

/* ---- per-record AZs and reverse names ---------------------------------- */

/*
 * The AZ table is an open-addressing array of 16-byte slots, each an
 * RRset pointer and its pattern, at most 2/3 full and sized to that
 * exactly (not to a power of two: a slot is picked by multiplying the
 * hash by the slot count), so a lookup reads the slots it probes and the
 * pattern and nothing else, and a view with 400 endpoint RRsets costs
 * 24 bytes an RRset. The per-record AZs and answer orders of an RRset
 * depend only on its AZ pattern (how many records, and the AZ of each),
 * and a view has few patterns (two addresses in two AZs is the common
 * one), so each pattern is stored once and its RRsets point at it. The
 * reverse table is a dense array of entries and an index of 32-bit slots
 * (entry number + 1; 0 is empty) kept at most half full.
 */
typedef struct rrset_walk {
	vd_arena_t *a;
	vd_view_t *v;
	vd_view_table_t *addr_azs;
	size_t naz_sets, nptr;
	/* patterns of this build: open addressing, malloc'd, build only */
	vd_az_rrset_t **pats;
	size_t pat_mask, npats;
	bool count_only;
	bool nomem;
} rrset_walk_t;

/* Both tables are built from configuration and zone data: the fixed
 * seed keeps their layout the same on every run. */
static uint64_t ptr_hash(int family, const uint8_t *addr)
{
	return vd_hash(addr, family == AF_INET ? 4 : 16,
		       VD_HASH_SEED_FIXED ^ (uint64_t)family);
}

/* The first slot to probe for rs among n: the hash's top 32 bits scaled
 * to [0, n). */
static size_t rrset_slot(const vd_rrset_t *rs, size_t n)
{
	uint64_t h = vd_hash(&rs, sizeof(rs), VD_HASH_SEED_FIXED);
	return (size_t)(((h >> 32) * (uint64_t)n) >> 32);
}

/* vpce-0123456789abcdef0-abcd1234.<service>.<region>.vpce.amazonaws.com:
 * the regional name (the zonal ones carry one more "-<az-name>"). */
static bool regional_vpce(const uint8_t *owner)
{
	static const uint8_t suffix[] = "\4vpce\011amazonaws\3com";
	unsigned len = owner[0], dashes = 0;
	if (len < 6 || memcmp(owner + 1, "vpce-", 5) != 0)
		return false;
	for (unsigned i = 1; i <= len; i++)
		dashes += owner[i] == '-';
	size_t nlen = vd_name_len(owner);
	return dashes == 2 && nlen > sizeof(suffix) &&
	       memcmp(owner + nlen - sizeof(suffix), suffix, sizeof(suffix)) == 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void add_ptr(rrset_walk_t *w, const uint8_t *owner, const vd_rrset_t *rs)
{
	vd_view_t *v = w->v;
	int family = rs->type == VD_T_A ? AF_INET : AF_INET6;
	for (uint16_t i = 0; i < rs->count; i++) {
		if (w->count_only) {
			w->nptr++;
			continue;
		}
		size_t slot = ptr_hash(family, rs->rdata[i]) & v->ptr_mask;
		for (;; slot = (slot + 1) & v->ptr_mask) {
			uint32_t k = v->ptr_index[slot];
			if (k == 0) {
				vd_ptr_entry_t *e = &v->ptrs[v->nptrs++];
				e->family = family;
				memcpy(e->addr, rs->rdata[i], rs->rdlen[i]);
				e->name = owner;
				v->ptr_index[slot] = (uint32_t)v->nptrs;
				break;
			}
			const vd_ptr_entry_t *e = &v->ptrs[k - 1];
			if (e->family == family &&
			    memcmp(e->addr, rs->rdata[i], addr_len(family)) == 0)
				break; /* first name wins (deterministic per build) */
		}
	}
}

/* AZ index of one A/AAAA record, or VD_AZ_UNKNOWN. */
static uint8_t record_az(const vd_view_table_t *t, uint16_t type, const uint8_t *rdata)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (type == VD_T_A) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, rdata, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, rdata, 16);
	}
	int k = vd_view_table_match(t, (struct sockaddr *)&ss);
	return k < 0 ? VD_AZ_UNKNOWN : (uint8_t)k;
}

/* A new pattern for the n record AZs az: the answer order for a client
 * in each AZ: its AZ's records first, then the rest, each group in zone
 * order (queries rotate within each group). */
static vd_az_rrset_t *pattern_new(rrset_walk_t *w, const uint8_t *az, size_t n)
{
	size_t naz = w->v->naz;
	vd_az_rrset_t *p = vd_arena_alloc(w->a, sizeof(*p));
	uint8_t *azc = vd_arena_memdup(w->a, az, n);
	uint16_t *order = vd_arena_alloc(w->a, naz * n * sizeof(*order));
	uint16_t *nown = vd_arena_alloc(w->a, naz * sizeof(*nown));
	if (!p || !azc || !order || !nown)
		return NULL;
	for (size_t k = 0; k < naz; k++) {
		uint16_t *row = order + k * n;
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (az[i] == k)
				row[m++] = (uint16_t)i;
		nown[k] = (uint16_t)m;
		for (size_t i = 0; i < n; i++)
			if (az[i] != k)
				row[m++] = (uint16_t)i;
	}
	*p = (vd_az_rrset_t){
		.count = (uint16_t)n, .az = azc, .order = order, .nown = nown
	};
	return p;
}

/* The pattern of the n record AZs az, stored once per view. */
static const vd_az_rrset_t *pattern_get(rrset_walk_t *w, const uint8_t *az, size_t n)
{
	size_t slot = vd_hash(az, n, VD_HASH_SEED_FIXED) & w->pat_mask;
	for (;; slot = (slot + 1) & w->pat_mask) {
		vd_az_rrset_t *p = w->pats[slot];
		if (p == NULL)
			break;
		if (p->count == n && memcmp(p->az, az, n) == 0)
			return p;
	}
	vd_az_rrset_t *p = pattern_new(w, az, n);
	if (p != NULL) {
		w->pats[slot] = p;
		w->npats++;
	}
	return p;
}

static void add_azs(rrset_walk_t *w, const vd_rrset_t *rs)
{
	vd_view_t *v = w->v;
	bool any = false;
	if (w->count_only) {
		for (uint16_t i = 0; i < rs->count && !any; i++)
			any = record_az(w->addr_azs, rs->type, rs->rdata[i]) !=
			      VD_AZ_UNKNOWN;
		w->naz_sets += any;
		return;
	}
	size_t slot = rrset_slot(rs, v->naz_slots);
	for (; v->az_slots[slot].rrset; slot = slot + 1 == v->naz_slots ? 0 : slot + 1)
		if (v->az_slots[slot].rrset == rs)
			return; /* the same zone reached twice */
	uint8_t az[UINT16_MAX];
	size_t n = rs->count;
	for (size_t i = 0; i < n; i++) {
		az[i] = record_az(w->addr_azs, rs->type, rs->rdata[i]);
		any |= az[i] != VD_AZ_UNKNOWN;
	}
	if (!any)
		return;
	const vd_az_rrset_t *p = pattern_get(w, az, n);
	if (p == NULL) {
		w->nomem = true;
		return;
	}
	v->az_slots[slot] = (vd_view_az_ent_t){ rs, p };
}

static void on_rrset(void *arg, const uint8_t *owner, const vd_rrset_t *rs)
{
	rrset_walk_t *w = arg;
	if (rs->type != VD_T_A && rs->type != VD_T_AAAA)
		return;
	if (w->addr_azs && rs->count > 1)
		add_azs(w, rs);
	/* S3's endpoint names are wildcards (*.vpce-….s3.<region>.vpce…):
	 * the name below the "*" names the endpoint. */
	if (owner[0] == 1 && owner[1] == '*')
		owner += 2;
	if (regional_vpce(owner))
		add_ptr(w, owner, rs);
}

static size_t pow2_at_least(size_t n)
{
	size_t s = 1;
	while (s < n)
		s *= 2;
	return s;
}

/* n entries of size bytes and an index of 32-bit slots at most half
 * full; both zeroed. Returns the slot mask, 0 on out of memory. */
static size_t table_alloc(vd_arena_t *a, size_t n, size_t size, void **ents,
			  uint32_t **index)
{
	size_t slots = pow2_at_least(2 * n);
	*ents = vd_arena_alloc(a, n * size);
	*index = vd_arena_alloc(a, slots * sizeof(**index));
	if (!*ents || !*index)
		return 0;
	memset(*index, 0, slots * sizeof(**index));
	return slots - 1;
}

/* Two passes over the zones: count, size the tables, fill. */
static int build_tables(vd_arena_t *a, vd_view_t *v, vd_zone_t **zs, size_t nz,
			vd_view_table_t *addr_azs)
{
	rrset_walk_t w = { .a = a, .v = v, .addr_azs = addr_azs, .count_only = true };
	for (size_t i = 0; i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	if (w.naz_sets) {
		v->naz_slots = w.naz_sets + (w.naz_sets + 1) / 2;
		v->az_slots = vd_arena_alloc(a, v->naz_slots * sizeof(*v->az_slots));
		w.pat_mask = pow2_at_least(2 * w.naz_sets) - 1;
		w.pats = calloc(w.pat_mask + 1, sizeof(*w.pats));
		if (!v->az_slots || !w.pats)
			goto nomem;
		memset(v->az_slots, 0, v->naz_slots * sizeof(*v->az_slots));
	}
	if (w.nptr) {
		v->ptr_mask = table_alloc(a, w.nptr, sizeof(*v->ptrs),
					  (void **)&v->ptrs, &v->ptr_index);
		if (!v->ptr_mask)
			goto nomem;
	}
	w.count_only = false;
	w.addr_azs = v->az_slots ? addr_azs : NULL;
	for (size_t i = 0; (v->az_slots || v->ptrs) && i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	free(w.pats);
	return w.nomem ? -ENOMEM : 0;
nomem:
	free(w.pats);
	return -ENOMEM;
}

/* ---- tables shared between snapshots ------------------------------------ */

static bool same_rules(const vd_view_tabs_t *t, const vd_view_rule_t *rules, size_t n)
{
	if (t->nrules != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t->rules[i].group != rules[i].group ||
		    !vd_name_equal(t->rules[i].name, rules[i].name))
			return false;
	return true;
}

static bool same_inputs(const vd_view_tabs_t *t, const vd_view_t *v,
			vd_zone_t *const *zs, size_t nz, const vd_view_rule_t *rules,
			size_t nrules)
{
	if (t->nzones != nz || t->nsubnets != v->naddr_subnets || t->naz != v->naz ||
	    (nz && memcmp(t->zones, zs, nz * sizeof(*zs)) != 0) ||
	    !same_rules(t, rules, nrules))
		return false;
	for (size_t i = 0; i < t->nsubnets; i++)
		if (t->subnets[i].az != v->addr_subnets[i].az ||
		    !vd_cidr_equal(&t->subnets[i].cidr, &v->addr_subnets[i].cidr))
			return false;
	for (size_t i = 0; i < t->naz; i++)
		if (strcmp(t->az_ids[i], v->az_ids[i]) != 0)
			return false;
	return true;
}

static void use_tabs(vd_view_t *v, vd_view_tabs_t *t)
{
	v->tabs = t;
	v->route_slots = t->route_slots;
	v->route_mask = t->route_mask;
	v->route_max_labels = t->route_max_labels;
	v->az_slots = t->az_slots;
	v->naz_slots = t->naz_slots;
	v->ptrs = t->ptrs;
	v->nptrs = t->nptrs;
	v->ptr_index = t->ptr_index;
	v->ptr_mask = t->ptr_mask;
}

/* The inputs, copied into the tables' own arena. */
static int keep_inputs(vd_view_tabs_t *t, const vd_view_t *v, vd_zone_t *const *zs,
		       size_t nz, const vd_view_rule_t *rules, size_t nrules)
{
	vd_arena_t *a = &t->arena;

	t->nzones = nz;
	t->nrules = nrules;
	t->nsubnets = v->naddr_subnets;
	t->naz = v->naz;
	t->zones = vd_arena_alloc(a, (nz ? nz : 1) * sizeof(*zs));
	t->rules = vd_arena_alloc(a, (nrules ? nrules : 1) * sizeof(*t->rules));
	t->subnets = vd_arena_alloc(a, (t->nsubnets ? t->nsubnets : 1) *
					       sizeof(*t->subnets));
	t->az_ids = vd_arena_alloc(a, (t->naz ? t->naz : 1) * sizeof(*t->az_ids));
	if (!t->zones || !t->rules || !t->subnets || !t->az_ids)
		return -ENOMEM;
	if (nz)
		memcpy(t->zones, zs, nz * sizeof(*zs));
	if (t->nsubnets)
		memcpy(t->subnets, v->addr_subnets, t->nsubnets * sizeof(*t->subnets));
	for (size_t i = 0; i < nrules; i++) {
		t->rules[i].group = rules[i].group;
		t->rules[i].name =
			vd_arena_memdup(a, rules[i].name, vd_name_len(rules[i].name));
		if (!t->rules[i].name)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->naz; i++)
		if (!(t->az_ids[i] = vd_arena_strdup(a, v->az_ids[i])))
			return -ENOMEM;
	return 0;
}

void vd_view_tabs_unref(vd_view_tabs_t *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		vd_arena_deinit(&t->arena);
		free(t);
	}
}

int vd_view_build(vd_view_t *v, const vd_view_rule_t *rules, size_t nrules,
		  const vd_view_t *old, bool *shared)
{
	size_t nz = 0;
	vd_zone_t **zs = vd_view_effective_zones(v, &nz);
	vd_view_tabs_t *t = NULL;
	int r = -ENOMEM;

	*shared = false;
	if (!zs)
		goto fail;
	if (old && old->tabs && same_inputs(old->tabs, v, zs, nz, rules, nrules)) {
		atomic_fetch_add_explicit(&old->tabs->refs, 1, memory_order_relaxed);
		use_tabs(v, old->tabs);
		*shared = true;
		r = 0;
		goto fail; /* done: the same cleanup */
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	atomic_init(&t->refs, 1);
	/* About 200 bytes an endpoint zone: most views fit their first
	 * chunk. */
	vd_arena_init(&t->arena, 4096 + 256 * nz);
	if (keep_inputs(t, v, zs, nz, rules, nrules) < 0)
		goto fail;
	r = vd_view_route_fill(&t->arena, v, zs, nz, t->rules, nrules);
	if (r == 0)
		r = build_tables(&t->arena, v, zs, nz, v->addr_azs);
	if (r < 0)
		goto fail;
	t->route_slots = v->route_slots;
	t->route_mask = v->route_mask;
	t->route_max_labels = v->route_max_labels;
	t->az_slots = v->az_slots;
	t->naz_slots = v->naz_slots;
	t->ptrs = v->ptrs;
	t->nptrs = v->nptrs;
	t->ptr_index = v->ptr_index;
	t->ptr_mask = v->ptr_mask;
	v->tabs = t;
	t = NULL;
fail:
	vd_view_tabs_unref(t);
	free(zs);
	vd_view_table_free(v->addr_azs);
	v->addr_azs = NULL;
	return r;
}

/* ---- lookups ------------------------------------------------------------- */

int vd_view_client_az(const vd_view_t *v, const struct sockaddr *sa)
{
	if (v == NULL || v->client_azs == NULL)
		return -1;
	return vd_view_table_match(v->client_azs, sa);
}

const vd_az_rrset_t *vd_view_rrset_az(const vd_view_t *v, const vd_rrset_t *rs)
{
	if (v == NULL || v->az_slots == NULL)
		return NULL;
	for (size_t slot = rrset_slot(rs, v->naz_slots);;
	     slot = slot + 1 == v->naz_slots ? 0 : slot + 1) {
		const vd_view_az_ent_t *e = &v->az_slots[slot];
		if (e->rrset == rs)
			return e->pattern;
		if (e->rrset == NULL)
			return NULL;
	}
}

const uint8_t *vd_view_rrset_azs(const vd_view_t *v, const vd_rrset_t *rs)
{
	const vd_az_rrset_t *e = vd_view_rrset_az(v, rs);
	return e ? e->az : NULL;
}

bool vd_view_has_ptr(const vd_view_t *v)
{
	return v != NULL && v->ptr_index != NULL;
}

const uint8_t *vd_view_ptr(const vd_view_t *v, int family, const uint8_t *addr)
{
	if (v == NULL || v->ptr_index == NULL)
		return NULL;
	for (size_t slot = ptr_hash(family, addr) & v->ptr_mask;;
	     slot = (slot + 1) & v->ptr_mask) {
		uint32_t k = v->ptr_index[slot];
		if (k == 0)
			return NULL;
		const vd_ptr_entry_t *e = &v->ptrs[k - 1];
		if (e->family == family && memcmp(e->addr, addr, addr_len(family)) == 0)
			return e->name;
	}
}
