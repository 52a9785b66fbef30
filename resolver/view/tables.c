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
	return vd_view_table_add(*t, c, az);
}

/* ---- per-record AZs and reverse names ---------------------------------- */

typedef struct rrset_walk {
	vd_arena_t *a;
	vd_view_t *v;
	vd_view_table_t *addr_azs;
	size_t naz_sets, nptr;
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

static uint64_t rrset_hash(const vd_rrset_t *rs)
{
	return vd_hash(&rs, sizeof(rs), VD_HASH_SEED_FIXED);
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

static void add_ptr(rrset_walk_t *w, const uint8_t *owner, const vd_rrset_t *rs)
{
	int family = rs->type == VD_T_A ? AF_INET : AF_INET6;
	for (uint16_t i = 0; i < rs->count; i++) {
		if (w->count_only) {
			w->nptr++;
			continue;
		}
		size_t slot = ptr_hash(family, rs->rdata[i]) & w->v->ptr_mask;
		for (;; slot = (slot + 1) & w->v->ptr_mask) {
			vd_ptr_entry_t *e = &w->v->ptr_slots[slot];
			if (e->name == NULL) {
				e->family = family;
				memcpy(e->addr, rs->rdata[i], rs->rdlen[i]);
				e->name = owner;
				break;
			}
			if (e->family == family &&
			    memcmp(e->addr, rs->rdata[i], rs->rdlen[i]) == 0)
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

static void add_azs(rrset_walk_t *w, const vd_rrset_t *rs)
{
	bool any = false;
	for (uint16_t i = 0; i < rs->count && !any; i++)
		any = record_az(w->addr_azs, rs->type, rs->rdata[i]) != VD_AZ_UNKNOWN;
	if (!any)
		return;
	if (w->count_only) {
		w->naz_sets++;
		return;
	}
	size_t slot = rrset_hash(rs) & w->v->az_mask;
	while (w->v->az_slots[slot].rrset != NULL) {
		if (w->v->az_slots[slot].rrset == rs)
			return; /* the same zone reached twice */
		slot = (slot + 1) & w->v->az_mask;
	}
	size_t naz = w->v->naz, n = rs->count;
	uint8_t *az = vd_arena_alloc(w->a, n);
	uint16_t *order = vd_arena_alloc(w->a, naz * n * sizeof(*order));
	uint16_t *nown = vd_arena_alloc(w->a, naz * sizeof(*nown));
	if (!az || !order || !nown) {
		w->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		az[i] = record_az(w->addr_azs, rs->type, rs->rdata[i]);
	/* For a client in AZ k: its AZ's records first, then the rest, each
	 * group in zone order (queries rotate within each group). */
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
	w->v->az_slots[slot] = (vd_az_rrset_t){ rs, az, order, nown };
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

/* Two passes over the zones: count, size the tables at most half full,
 * fill. */
static int build_tables(vd_arena_t *a, vd_view_t *v, vd_zone_t **zs, size_t nz,
			vd_view_table_t *addr_azs)
{
	rrset_walk_t w = { .a = a, .v = v, .addr_azs = addr_azs, .count_only = true };
	for (size_t i = 0; i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	if (w.naz_sets) {
		size_t slots = pow2_at_least(2 * w.naz_sets);
		v->az_slots = vd_arena_alloc(a, slots * sizeof(*v->az_slots));
		if (!v->az_slots)
			goto nomem;
		memset(v->az_slots, 0, slots * sizeof(*v->az_slots));
		v->az_mask = slots - 1;
	}
	if (w.nptr) {
		size_t slots = pow2_at_least(2 * w.nptr);
		v->ptr_slots = vd_arena_alloc(a, slots * sizeof(*v->ptr_slots));
		if (!v->ptr_slots)
			goto nomem;
		memset(v->ptr_slots, 0, slots * sizeof(*v->ptr_slots));
		v->ptr_mask = slots - 1;
	}
	w.count_only = false;
	w.addr_azs = v->az_slots ? addr_azs : NULL;
	if (!v->az_slots && !v->ptr_slots)
		return 0;
	for (size_t i = 0; i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	return w.nomem ? -ENOMEM : 0;
nomem:
	return -ENOMEM;
}

int vd_view_build_tables(vd_view_t *v, vd_arena_t *a)
{
	size_t nz = 0;
	vd_zone_t **zs = vd_view_effective_zones(v, &nz);
	int r = -ENOMEM;

	if (zs)
		r = build_tables(a, v, zs, nz, v->addr_azs);
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
	for (size_t slot = rrset_hash(rs) & v->az_mask;;
	     slot = (slot + 1) & v->az_mask) {
		const vd_az_rrset_t *e = &v->az_slots[slot];
		if (e->rrset == rs)
			return e;
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
	return v != NULL && v->ptr_slots != NULL;
}

const uint8_t *vd_view_ptr(const vd_view_t *v, int family, const uint8_t *addr)
{
	if (v == NULL || v->ptr_slots == NULL)
		return NULL;
	size_t len = family == AF_INET ? 4 : 16;
	for (size_t slot = ptr_hash(family, addr) & v->ptr_mask;;
	     slot = (slot + 1) & v->ptr_mask) {
		const vd_ptr_entry_t *e = &v->ptr_slots[slot];
		if (e->name == NULL)
			return NULL;
		if (e->family == family && memcmp(e->addr, addr, len) == 0)
			return e->name;
	}
}
