/*
 * What a view knows about its endpoints beyond zones, linked once every
 * view has been read: the views it includes (hub and spoke: transitively,
 * with cycles and unknown names reported), its routing map (own zones,
 * then included views' zones for apexes it does not serve itself, then its
 * forward rules), its subnets with their Availability Zone IDs (inline or
 * from a file written by vpcdns-import), the AZ of every record of each
 * multi-address A/AAAA RRset it serves, and the reverse map from endpoint
 * addresses to their regional vpce names. All of it is computed here, at
 * snapshot build, so a query only looks things up.
 */
#include "conf_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

static const char *const subnet_keys[] = { "cidr", "az_id", "az", "subnet_id", NULL };

/* ---- includes ---------------------------------------------------------- */

static int view_index(const vd_snap_t *s, const char *name)
{
	for (size_t i = 0; i < s->nviews; i++)
		if (strcmp(s->views[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Direct includes of view i as indexes (-1 for unknown names, reported). */
static void direct_includes(cbuild_t *b, size_t i, int *out, size_t *n)
{
	const yn_pair_t *p = b->vtmp[i].include;
	const vd_view_t *v = &b->snap->views[i];

	*n = 0;
	if (p == NULL)
		return;
	if (!vd_conf_is_string_list(p->val)) {
		vd_conf_err(b, p->key->line, "view '%s': include must be a list of view names",
			    v->name);
		return;
	}
	for (size_t k = 0; k < p->val->n; k++) {
		const ynode_t *item = p->val->items[k];
		int j = view_index(b->snap, item->str);
		if (j < 0)
			vd_conf_err(b, item->line, "view '%s' includes unknown view '%s'",
				    v->name, item->str);
		else if ((size_t)j == i)
			vd_conf_err(b, item->line, "view '%s' includes itself", v->name);
		else
			out[(*n)++] = j;
	}
}

/* Depth-first walk over includes: state 1 = on the current path, 2 =
 * done. A view met again on the path closes a cycle. */
static bool walk(cbuild_t *b, int **adj, size_t *nadj, uint8_t *state, int i,
		 int *acc, size_t *nacc, int root)
{
	state[i] = 1;
	for (size_t k = 0; k < nadj[i]; k++) {
		int j = adj[i][k];
		if (state[j] == 1) {
			const yn_pair_t *p = b->vtmp[i].include;
			vd_conf_err(b, p ? p->key->line : 0,
				    "include cycle: view '%s' includes '%s', which leads back to '%s'",
				    b->snap->views[i].name, b->snap->views[j].name,
				    b->snap->views[j].name);
			state[i] = 2;
			return false;
		}
		bool seen = j == root;
		for (size_t m = 0; m < *nacc && !seen; m++)
			seen = acc[m] == j;
		if (!seen)
			acc[(*nacc)++] = j;
		if (state[j] == 0 && !walk(b, adj, nadj, state, j, acc, nacc, root)) {
			state[i] = 2;
			return false;
		}
	}
	state[i] = 2;   /* done for this root */
	return true;
}

static void resolve_includes(cbuild_t *b)
{
	size_t n = b->snap->nviews;
	int **adj = calloc(n, sizeof(*adj));
	size_t *nadj = calloc(n, sizeof(*nadj));
	uint8_t *state = calloc(n, 1);
	int *acc = malloc((n ? n : 1) * sizeof(*acc));
	bool cycle = false;

	if (!adj || !nadj || !state || !acc)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		adj[i] = malloc((n ? n : 1) * sizeof(int));
		if (!adj[i])
			goto nomem;
		direct_includes(b, i, adj[i], &nadj[i]);
	}
	for (size_t i = 0; i < n && !cycle; i++) {
		size_t nacc = 0;
		memset(state, 0, n);
		if (!walk(b, adj, nadj, state, (int)i, acc, &nacc, (int)i)) {
			cycle = true;
			break;
		}
		vd_view_t *v = &b->snap->views[i];
		if (nacc) {
			v->includes = vd_arena_memdup(b->a, acc, nacc * sizeof(int));
			if (!v->includes)
				goto nomem;
			v->nincludes = nacc;
		}
	}
	goto out;
nomem:
	vd_conf_nomem(b);
out:
	for (size_t i = 0; adj && i < n; i++)
		free(adj[i]);
	free(adj);
	free(nadj);
	free(state);
	free(acc);
}

/* ---- routing with included zones --------------------------------------- */

static bool has_zone(vd_zone_t *const *zones, size_t n, const vd_zone_t *z)
{
	for (size_t i = 0; i < n; i++)
		if (zones[i] == z)
			return true;
	return false;
}

/* The zones a view answers from: its own, then each included view's (a
 * zone shared by several only once). For the same apex, the routing map
 * consults them in this order, so own zones win. Returned malloc'd. */
static vd_zone_t **effective_zones(const vd_snap_t *s, const vd_view_t *v, size_t *n)
{
	size_t cap = v->nzones;
	for (size_t k = 0; k < v->nincludes; k++)
		cap += s->views[v->includes[k]].nzones;
	vd_zone_t **zs = malloc((cap ? cap : 1) * sizeof(*zs));
	if (!zs)
		return NULL;
	if (v->nzones)   /* zones is NULL for a view without zones */
		memcpy(zs, v->zones, v->nzones * sizeof(*zs));
	*n = v->nzones;
	for (size_t k = 0; k < v->nincludes; k++) {
		const vd_view_t *inc = &s->views[v->includes[k]];
		for (size_t j = 0; j < inc->nzones; j++)
			if (!has_zone(zs, *n, inc->zones[j]))
				zs[(*n)++] = inc->zones[j];
	}
	return zs;
}

/* ---- subnets ----------------------------------------------------------- */

typedef struct subnet {
	vd_cidr_t cidr;
	const char *az_id;          /* in the snapshot arena */
	const char *file;
	unsigned long line;
} subnet_t;

typedef struct subnets {
	subnet_t *v;
	size_t n, cap;
} subnets_t;

static int az_index(vd_view_t *v, cbuild_t *b, const char *az_id)
{
	for (size_t i = 0; i < v->naz; i++)
		if (strcmp(v->az_ids[i], az_id) == 0)
			return (int)i;
	if (v->naz >= VD_AZ_UNKNOWN)
		return -1;
	const char **grown = vd_arena_alloc(b->a, (v->naz + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	if (v->naz)
		memcpy(grown, v->az_ids, v->naz * sizeof(*grown));
	grown[v->naz] = az_id;
	v->az_ids = grown;
	return (int)v->naz++;
}

/* A message about a subnet, naming the file that holds it (the config or
 * a subnets file). */
static void subnet_err(cbuild_t *b, const char *file, unsigned long line,
		       const char *msg, const char *arg)
{
	if (arg != NULL)
		vd_errlist_add(b->errs, file, line, "%s '%s'", msg, arg);
	else
		vd_errlist_add(b->errs, file, line, "%s", msg);
	b->nerr++;
}

/* One "- cidr: …, az_id: …" item. */
static void subnet_item(cbuild_t *b, const char *file, const ynode_t *m, subnets_t *out)
{
	const yn_pair_t *cp = NULL, *ap = NULL;
	const ynode_t *cidr = vd_conf_yaml_get(m, "cidr", &cp);
	const ynode_t *az = vd_conf_yaml_get(m, "az_id", &ap);
	subnet_t s = { .file = file, .line = m->line };

	if (m->kind != YN_MAP) {
		subnet_err(b, file, m->line, "a subnet must be a map (cidr, az_id, az, subnet_id)", NULL);
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		bool ok = false;
		for (const char *const *k = subnet_keys; *k; k++)
			ok |= strcmp(*k, m->pairs[i].key->str) == 0;
		if (!ok)
			subnet_err(b, file, m->pairs[i].key->line, "unknown key in a subnet:",
				   m->pairs[i].key->str);
	}
	if (!cidr || cidr->kind != YN_SCALAR || cidr->null) {
		subnet_err(b, file, m->line, "a subnet needs 'cidr'", NULL);
		return;
	}
	if (!az || az->kind != YN_SCALAR || az->null || !*az->str) {
		subnet_err(b, file, m->line, "a subnet needs 'az_id' (e.g. use1-az1)", NULL);
		return;
	}
	if (vd_cidr_parse(cidr->str, &s.cidr) < 0) {
		subnet_err(b, file, cidr->line, "bad subnet CIDR", cidr->str);
		return;
	}
	s.az_id = vd_arena_strdup(b->a, az->str);
	if (!s.az_id || vd_conf_arena_push(b->a, (void **)&out->v, &out->n, &out->cap,
					   &s, sizeof(s)) < 0)
		vd_conf_nomem(b);
}

static void subnet_list(cbuild_t *b, const char *file, const ynode_t *list,
			unsigned long line, subnets_t *out)
{
	if (!list || list->kind != YN_SEQ) {
		subnet_err(b, file, line,
			   "subnets must be a list of {cidr, az_id} maps or a file name", NULL);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		subnet_item(b, file, list->items[i], out);
}

/* One subnets file (a top-level "subnets:" list, as vpcdns-import writes
 * it); messages about its contents name the file itself. */
static void read_subnet_file(cbuild_t *b, const ynode_t *name, subnets_t *out)
{
	const char *rel = name->str;
	char *path = NULL;
	vd_arena_t tree;
	const ynode_t *root = NULL;

	if (rel[0] != '/' && !b->zonedir)
		return;   /* server.directory is unusable: reported already */
	if (rel[0] == '/')
		path = strdup(rel);
	else if (asprintf(&path, "%s/%s", b->zonedir, rel) < 0)
		path = NULL;
	if (!path) {
		vd_conf_nomem(b);
		return;
	}
	vd_arena_init(&tree, 0);
	size_t before = b->errs->count;
	int r = vd_conf_yaml_read(path, rel, &tree, &root, b->errs);
	if (r == -ENOMEM) {
		vd_conf_nomem(b);
	} else if (r < 0 || b->errs->count > before) {
		b->nerr++;
		vd_conf_err(b, name->line, "cannot use subnets file '%s'", rel);
	} else {
		char *file = vd_arena_strdup(b->a, rel);
		const ynode_t *list = vd_conf_yaml_get(root, "subnets", NULL);
		if (file)
			subnet_list(b, file, list, root ? root->line : 1, out);
		else
			vd_conf_nomem(b);
	}
	vd_arena_deinit(&tree);
	free(path);
}

/* subnets: a file name, or a list whose items are {cidr, az_id} maps or
 * file names (imported subnets plus a few of your own). */
static void read_subnets(cbuild_t *b, size_t vi, subnets_t *out)
{
	const yn_pair_t *p = b->vtmp[vi].subnets;

	if (p == NULL)
		return;
	if (p->val->kind == YN_SCALAR && !p->val->null) {
		read_subnet_file(b, p->val, out);
		return;
	}
	if (p->val->kind != YN_SEQ) {
		subnet_list(b, b->file, p->val, p->key->line, out);
		return;
	}
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *item = p->val->items[i];
		if (item->kind == YN_SCALAR && !item->null)
			read_subnet_file(b, item, out);
		else
			subnet_item(b, b->file, item, out);
	}
}

static void check_same_az(cbuild_t *b, const subnets_t *sn, size_t i,
			  const char *vname)
{
	const subnet_t *s = &sn->v[i];
	for (size_t j = 0; j < i; j++) {
		if (vd_cidr_equal(&sn->v[j].cidr, &s->cidr) &&
		    strcmp(sn->v[j].az_id, s->az_id) != 0) {
			vd_errlist_add(b->errs, s->file, s->line,
				       "view '%s': subnet listed with AZ '%s' and '%s'",
				       vname, sn->v[j].az_id, s->az_id);
			b->nerr++;
			return;
		}
	}
}

/* Adds subnets to a table mapping CIDR -> AZ index. The same CIDR twice
 * is fine with the same AZ and an error with another. */
static void table_add(cbuild_t *b, vd_view_t *v, vd_view_table_t *t,
		      const subnets_t *sn, size_t from, const char *vname)
{
	for (size_t i = from; i < sn->n; i++) {
		const subnet_t *s = &sn->v[i];
		int az = az_index(v, b, s->az_id);
		if (az < 0) {
			vd_conf_nomem(b);
			return;
		}
		int r = vd_view_table_add(t, &s->cidr, az);
		if (r == -EEXIST)
			check_same_az(b, sn, i, vname);
		else if (r < 0)
			vd_conf_nomem(b);
	}
}

/* ---- per-record AZs and reverse names ---------------------------------- */

typedef struct rrset_walk {
	cbuild_t *b;
	vd_view_t *v;
	vd_view_table_t *addr_azs;
	size_t naz_sets, nptr;
	bool count_only;
} rrset_walk_t;

static uint64_t ptr_hash(int family, const uint8_t *addr)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)family;
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		h = (h ^ addr[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t rrset_hash(const vd_rrset_t *rs)
{
	uint64_t h = (uint64_t)(uintptr_t)rs * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
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
			if (e->family == family && memcmp(e->addr, rs->rdata[i], rs->rdlen[i]) == 0)
				break;   /* first name wins (deterministic per build) */
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
			return;   /* the same zone reached twice */
		slot = (slot + 1) & w->v->az_mask;
	}
	size_t naz = w->v->naz, n = rs->count;
	uint8_t *az = vd_arena_alloc(w->b->a, n);
	uint16_t *order = vd_arena_alloc(w->b->a, naz * n * sizeof(*order));
	uint16_t *nown = vd_arena_alloc(w->b->a, naz * sizeof(*nown));
	if (!az || !order || !nown) {
		vd_conf_nomem(w->b);
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
static void build_tables(cbuild_t *b, vd_view_t *v, vd_zone_t **zs, size_t nz,
			 vd_view_table_t *addr_azs)
{
	rrset_walk_t w = { .b = b, .v = v, .addr_azs = addr_azs, .count_only = true };
	for (size_t i = 0; i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	if (w.naz_sets) {
		size_t slots = pow2_at_least(2 * w.naz_sets);
		v->az_slots = vd_arena_alloc(b->a, slots * sizeof(*v->az_slots));
		if (!v->az_slots)
			goto nomem;
		memset(v->az_slots, 0, slots * sizeof(*v->az_slots));
		v->az_mask = slots - 1;
	}
	if (w.nptr) {
		size_t slots = pow2_at_least(2 * w.nptr);
		v->ptr_slots = vd_arena_alloc(b->a, slots * sizeof(*v->ptr_slots));
		if (!v->ptr_slots)
			goto nomem;
		memset(v->ptr_slots, 0, slots * sizeof(*v->ptr_slots));
		v->ptr_mask = slots - 1;
	}
	w.count_only = false;
	w.addr_azs = v->az_slots ? addr_azs : NULL;
	if (!v->az_slots && !v->ptr_slots)
		return;
	for (size_t i = 0; i < nz; i++)
		vd_zone_foreach_rrset(zs[i], on_rrset, &w);
	return;
nomem:
	vd_conf_nomem(b);
}

/* ---- the link pass ----------------------------------------------------- */

static void link_view(cbuild_t *b, size_t i, subnets_t *all)
{
	vd_view_t *v = &b->snap->views[i];
	size_t nz = 0;
	vd_zone_t **zs = effective_zones(b->snap, v, &nz);
	vd_view_table_t *addr_azs = NULL;

	if (!zs) {
		vd_conf_nomem(b);
		return;
	}
	if (vd_conf_route_build_zones(b->a, v, zs, nz, b->vtmp[i].rules,
				      b->vtmp[i].nrules) < 0)
		vd_conf_nomem(b);
	/* Clients by the view's own subnets; addresses by its own and its
	 * included views' subnets (the hub's endpoints are in the hub). */
	bool any = all[i].n > 0;
	for (size_t k = 0; k < v->nincludes; k++)
		any |= all[v->includes[k]].n > 0;
	if (any) {
		v->client_azs = vd_view_table_new();
		addr_azs = vd_view_table_new();
		if (!v->client_azs || !addr_azs) {
			vd_conf_nomem(b);
			goto out;
		}
		table_add(b, v, v->client_azs, &all[i], 0, v->name);
		table_add(b, v, addr_azs, &all[i], 0, v->name);
		for (size_t k = 0; k < v->nincludes; k++)
			table_add(b, v, addr_azs, &all[v->includes[k]], 0, v->name);
	}
	build_tables(b, v, zs, nz, addr_azs);
out:
	vd_view_table_free(addr_azs);
	free(zs);
}

void vd_conf_link_views(cbuild_t *b)
{
	size_t n = b->snap->nviews;
	subnets_t *all = calloc(n ? n : 1, sizeof(*all));

	if (!all) {
		vd_conf_nomem(b);
		return;
	}
	resolve_includes(b);
	for (size_t i = 0; i < n; i++)
		read_subnets(b, i, &all[i]);
	for (size_t i = 0; i < n; i++)
		link_view(b, i, all);
	free(all);   /* the subnet arrays live in the snapshot arena */
}

/* ---- lookups ----------------------------------------------------------- */

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
	for (size_t slot = rrset_hash(rs) & v->az_mask;; slot = (slot + 1) & v->az_mask) {
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

const vd_view_t *vd_snap_view(const vd_snap_t *s, const char *name)
{
	int i = view_index(s, name);
	return i < 0 ? NULL : &s->views[i];
}
