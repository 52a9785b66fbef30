/*
 * A view's identity and its own data: name, flags, client prefixes, own
 * zones and included views, set while the snapshot is built, and the
 * accessors the query path reads them through. The tables built from them
 * (routing map, AZ rows, reverse map) are in route.c and tables.c.
 */
#include "view_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

/* The default explain list: the host itself. */
static const vd_cidr_t loopback[] = {
	{ .family = AF_INET, .addr = { 127 }, .prefix = 8 },
	{ .family = AF_INET6, .addr = { [15] = 1 }, .prefix = 128 },
};

vd_view_t *vd_view_new(vd_arena_t *a, int index)
{
	vd_view_t *v = vd_arena_alloc(a, sizeof(*v));

	if (!v)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->explain = VD_EXPLAIN_LIST;
	v->explain_clients = loopback;
	v->nexplain_clients = sizeof(loopback) / sizeof(loopback[0]);
	v->az_affinity = VD_AZ_PREFER;
	return v;
}

void vd_view_deinit(vd_view_t *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nzones; i++)
		vd_zone_unref(v->zones[i]);
	v->nzones = 0;
	vd_view_table_free(v->client_azs);
	vd_view_table_free(v->addr_azs);
	v->client_azs = v->addr_azs = NULL;
	vd_view_tabs_unref(v->tabs);
	v->tabs = NULL;
}

int vd_view_set_name(vd_view_t *v, vd_arena_t *a, const char *name)
{
	const char *copy = vd_arena_strdup(a, name);

	if (!copy)
		return -ENOMEM;
	v->name = copy;
	return 0;
}

static int set_copy(const char **field, vd_arena_t *a, const char *s)
{
	const char *copy = vd_arena_strdup(a, s);

	if (!copy)
		return -ENOMEM;
	*field = copy;
	return 0;
}

int vd_view_set_vpc_id(vd_view_t *v, vd_arena_t *a, const char *vpc_id)
{
	return set_copy(&v->vpc_id, a, vpc_id);
}

int vd_view_set_account_id(vd_view_t *v, vd_arena_t *a, const char *account_id)
{
	return set_copy(&v->account_id, a, account_id);
}

int vd_view_set_region(vd_view_t *v, vd_arena_t *a, const char *region)
{
	return set_copy(&v->region, a, region);
}

int vd_view_set_explain(vd_view_t *v, vd_arena_t *a, vd_explain_mode_t mode,
			const vd_cidr_t *clients, size_t n)
{
	vd_cidr_t *copy = NULL;

	if (mode == VD_EXPLAIN_LIST && n > 0) {
		copy = vd_arena_alloc(a, n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, clients, n * sizeof(*copy));
	}
	v->explain = mode;
	v->explain_clients = copy;
	v->nexplain_clients = mode == VD_EXPLAIN_LIST ? n : 0;
	return 0;
}

void vd_view_set_az_affinity(vd_view_t *v, vd_az_affinity_t aff)
{
	v->az_affinity = aff;
}

int vd_view_add_client(vd_view_t *v, vd_arena_t *a, const vd_cidr_t *c)
{
	return vd_arena_push(a, (void **)&v->clients, &v->nclients, &v->capclients, c,
			     sizeof(*c));
}

int vd_view_add_zone(vd_view_t *v, vd_arena_t *a, vd_zone_t *z)
{
	int r = vd_arena_push(a, (void **)&v->zones, &v->nzones, &v->capzones, &z,
			      sizeof(z));

	if (r == 0)
		vd_zone_ref(z);
	return r;
}

const vd_zone_t *vd_view_zone_at(const vd_view_t *v, const uint8_t *apex)
{
	for (size_t i = 0; i < v->nzones; i++)
		if (vd_name_equal(vd_zone_apex(v->zones[i]), apex))
			return v->zones[i];
	return NULL;
}

int vd_view_set_includes(vd_view_t *v, vd_arena_t *a, const vd_view_t *const *inc,
			 size_t n)
{
	if (n == 0)
		return 0;
	v->includes = vd_arena_memdup(a, inc, n * sizeof(*inc));
	if (!v->includes)
		return -ENOMEM;
	v->nincludes = n;
	return 0;
}

static bool has_zone(vd_zone_t *const *zones, size_t n, const vd_zone_t *z)
{
	for (size_t i = 0; i < n; i++)
		if (zones[i] == z)
			return true;
	return false;
}

vd_zone_t **vd_view_effective_zones(const vd_view_t *v, size_t *n)
{
	size_t cap = v->nzones;
	for (size_t k = 0; k < v->nincludes; k++)
		cap += v->includes[k]->nzones;
	vd_zone_t **zs = malloc((cap ? cap : 1) * sizeof(*zs));
	if (!zs)
		return NULL;
	if (v->nzones) /* zones is NULL for a view without zones */
		memcpy(zs, v->zones, v->nzones * sizeof(*zs));
	*n = v->nzones;
	for (size_t k = 0; k < v->nincludes; k++) {
		const vd_view_t *inc = v->includes[k];
		for (size_t j = 0; j < inc->nzones; j++)
			if (!has_zone(zs, *n, inc->zones[j]))
				zs[(*n)++] = inc->zones[j];
	}
	return zs;
}

/* ---- reading ------------------------------------------------------------ */

const char *vd_view_name(const vd_view_t *v)
{
	return v->name;
}

int vd_view_index(const vd_view_t *v)
{
	return v->index;
}

bool vd_view_explain(const vd_view_t *v)
{
	return v->explain != VD_EXPLAIN_OFF;
}

vd_explain_mode_t vd_view_explain_mode(const vd_view_t *v)
{
	return v->explain;
}

vd_explain_level_t vd_view_explain_for(const vd_view_t *v,
				       const struct sockaddr *client)
{
	if (v->explain == VD_EXPLAIN_ALL)
		return VD_EXPLAIN_NAMES;
	if (v->explain == VD_EXPLAIN_OFF)
		return VD_EXPLAIN_REFUSED;
	for (size_t i = 0; i < v->nexplain_clients; i++)
		if (vd_cidr_contains(&v->explain_clients[i], client))
			return VD_EXPLAIN_FULL;
	return VD_EXPLAIN_REFUSED;
}

vd_az_affinity_t vd_view_az_affinity(const vd_view_t *v)
{
	return v->az_affinity;
}

const char *vd_view_vpc_id(const vd_view_t *v)
{
	return v->vpc_id;
}

const char *vd_view_account_id(const vd_view_t *v)
{
	return v->account_id;
}

const char *vd_view_region(const vd_view_t *v)
{
	return v->region;
}

size_t vd_view_nclients(const vd_view_t *v)
{
	return v->nclients;
}

const vd_cidr_t *vd_view_client(const vd_view_t *v, size_t i)
{
	return i < v->nclients ? &v->clients[i] : NULL;
}

size_t vd_view_nzones(const vd_view_t *v)
{
	return v->nzones;
}

const vd_zone_t *vd_view_zone(const vd_view_t *v, size_t i)
{
	return i < v->nzones ? v->zones[i] : NULL;
}

size_t vd_view_nincludes(const vd_view_t *v)
{
	return v->nincludes;
}

const vd_view_t *vd_view_include(const vd_view_t *v, size_t k)
{
	return k < v->nincludes ? v->includes[k] : NULL;
}

size_t vd_view_naz(const vd_view_t *v)
{
	return v->naz;
}

const char *vd_view_az_id(const vd_view_t *v, int k)
{
	if (v == NULL || k < 0 || (size_t)k >= v->naz)
		return NULL;
	return v->az_ids[k];
}

const char *vd_view_zone_from(const vd_view_t *v, const vd_zone_t *z)
{
	for (size_t i = 0; i < v->nzones; i++)
		if (v->zones[i] == z)
			return NULL;
	for (size_t k = 0; k < v->nincludes; k++) {
		const vd_view_t *inc = v->includes[k];
		for (size_t i = 0; i < inc->nzones; i++)
			if (inc->zones[i] == z)
				return inc->name;
	}
	return NULL;
}
