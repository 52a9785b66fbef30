/*
 * Per-request metrics of one worker: requests by view, transport, address
 * family and query type; responses by view and rcode; duration
 * histograms by route. Written only by the worker's thread at the end of
 * each request into arrays sized when a snapshot is installed; the
 * daemon takes copies (vd_query_metrics_copy) on the same thread and sums
 * them at scrape time.
 */
#include "query_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

const uint32_t vd_qm_dur_bounds_us[VD_QM_DUR_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000, 1000000,
};

const uint16_t vd_qm_qtypes[VD_QM_QTYPES] = {
	VD_T_A,	       VD_T_AAAA,
	5 /* CNAME */, 12 /* PTR */,
	15 /* MX */,   16 /* TXT */,
	VD_T_SRV,      2 /* NS */,
	6 /* SOA */,   65 /* HTTPS */,
	64 /* SVCB */, 257 /* CAA */,
	VD_T_ANY,      0,
};

static const char *const qtype_names[VD_QM_QTYPES] = {
	"A",  "AAAA", "CNAME", "PTR",  "MX",  "TXT", "SRV",
	"NS", "SOA",  "HTTPS", "SVCB", "CAA", "ANY", "other",
};

static const char *const rcode_names[VD_QM_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other",
};

static const char *const route_names[VD_QM_ROUTES] = { "local", "cache", "forward",
						       "stale" };

const char *vd_qm_qtype_name(size_t i)
{
	return i < VD_QM_QTYPES ? qtype_names[i] : "other";
}

const char *vd_qm_rcode_name(size_t i)
{
	return i < VD_QM_RCODES ? rcode_names[i] : "other";
}

const char *vd_qm_route_name(size_t i)
{
	return i < VD_QM_ROUTES ? route_names[i] : "none";
}

static size_t qtype_bucket(uint16_t t)
{
	for (size_t i = 0; i + 1 < VD_QM_QTYPES; i++)
		if (vd_qm_qtypes[i] == t)
			return i;
	return VD_QM_QTYPES - 1;
}

void vd_query_acct_start(vd_query_ctx_t *ctx, const vd_query_client_t *c)
{
	ctx->acct = (vd_qacct_t){
		.t0_us = vd_now_us(),
		.slot = -1,
		.route = VD_QM_NONE,
		.tcp = c->tcp,
		.v6 = c->addr.ss_family == AF_INET6,
	};
}

int vd_query_metrics_slot(vd_query_ctx_t *ctx, const vd_snap_t *snap, int vi)
{
	if (vi < 0)
		return 0;
	if (snap != ctx->mx_snap || ctx->view_slot == NULL ||
	    (size_t)vi >= snap->nviews)
		return -1;
	return ctx->view_slot[vi];
}

void vd_query_account(vd_query_ctx_t *ctx, const vd_qacct_t *a, const uint8_t *reply,
		      size_t len)
{
	vd_query_metrics_t *m = &ctx->mx;
	int slot = a->slot < 0 ? 0 : a->slot;

	if ((size_t)slot >= m->nslots)
		return; /* a context never given a snapshot */
	vd_qm_view_t *v = &m->v[slot];
	v->requests[a->tcp][a->v6]
		   [a->parsed ? qtype_bucket(a->qtype) : VD_QM_QTYPES - 1]++;
	if (reply != NULL && len >= VD_HDR_LEN) {
		unsigned rc = reply[3] & 0xf;
		v->responses[rc < VD_QM_RCODES - 1 ? rc : VD_QM_RCODES - 1]++;
	}
	if (a->route < VD_QM_ROUTES) {
		vd_qm_hist_t *h = &m->dur[a->route];
		uint64_t us = vd_now_us() - a->t0_us;
		size_t b = 0;
		while (b < VD_QM_DUR_BUCKETS && us > vd_qm_dur_bounds_us[b])
			b++;
		h->buckets[b]++;
		h->sum_us += us;
	}
}

/* Adds a slot named name; its index, or -1: no memory. */
static int slot_add(vd_query_metrics_t *m, const char *name)
{
	char **names = realloc(m->names, (m->nslots + 1) * sizeof(*names));
	if (names == NULL)
		return -1;
	m->names = names;
	vd_qm_view_t *v = realloc(m->v, (m->nslots + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	m->v = v;
	memset(&v[m->nslots], 0, sizeof(*v));
	if ((names[m->nslots] = strdup(name)) == NULL)
		return -1;
	return (int)m->nslots++;
}

/* Slot names by hash, for one reload: a thousand views find their slots
 * in a thousand probes, not half a million string comparisons on the
 * worker's thread. Slot indexes + 1 in open addressing; 0 is empty. */
typedef struct slot_index {
	int *cells;
	size_t mask;
} slot_index_t;

static size_t name_hash(const char *name)
{
	return (size_t)vd_hash(name, strlen(name), VD_HASH_SEED_FIXED);
}

static int *cell_of(const slot_index_t *ix, const vd_query_metrics_t *m,
		    const char *name)
{
	size_t i = name_hash(name) & ix->mask;
	for (;; i = (i + 1) & ix->mask) {
		int *c = &ix->cells[i];
		if (*c == 0 || strcmp(m->names[*c - 1], name) == 0)
			return c;
	}
}

/* Room for every slot there is and nviews more, at most half full. */
static int index_init(slot_index_t *ix, const vd_query_metrics_t *m, size_t nviews)
{
	size_t cap = 16;
	while (cap < 2 * (m->nslots + nviews + 1))
		cap *= 2;
	if ((ix->cells = calloc(cap, sizeof(*ix->cells))) == NULL)
		return -ENOMEM;
	ix->mask = cap - 1;
	for (size_t i = 1; i < m->nslots; i++)
		*cell_of(ix, m, m->names[i]) = (int)i + 1;
	return 0;
}

/* The slot named name, added when new. -1: no memory. */
static int slot_of(vd_query_metrics_t *m, slot_index_t *ix, const char *name)
{
	int *c = cell_of(ix, m, name);
	if (*c != 0)
		return *c - 1;
	int slot = slot_add(m, name);
	if (slot >= 0)
		*c = slot + 1;
	return slot;
}

/* Slots keep their index across reloads, so that a request in flight
 * over a reload still counts for its view; but views come and go with the
 * inventory, so once the slots of views no longer configured outnumber
 * the live ones, they are dropped and the live ones renumbered (map is
 * rewritten). A request in flight across that one reload may count under
 * another view. Reload time only. 0 or -ENOMEM. */
static int compact(vd_query_metrics_t *m, int *map, size_t nviews)
{
	size_t live = 1, n = m->nslots;
	int *renum;

	if (n <= 2 * (nviews + 1) + VD_QM_SLOTS_SPARE)
		return 0;
	renum = malloc(n * sizeof(*renum));
	if (renum == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		renum[i] = -1;
	for (size_t i = 0; i < nviews; i++)
		renum[map[i]] = 0; /* in use */
	/* Numbered in index order, so a slot only ever moves down. */
	renum[0] = 0;
	for (size_t i = 1; i < n; i++)
		if (renum[i] == 0)
			renum[i] = (int)live++;
	for (size_t i = 1; i < n; i++) {
		if (renum[i] < 0) {
			free(m->names[i]);
			continue;
		}
		m->names[renum[i]] = m->names[i];
		m->v[renum[i]] = m->v[i];
	}
	for (size_t i = 0; i < nviews; i++)
		map[i] = renum[map[i]];
	m->nslots = live;
	free(renum);
	return 0;
}

int vd_query_metrics_snap(vd_query_ctx_t *ctx, const vd_snap_t *snap)
{
	vd_query_metrics_t *m = &ctx->mx;
	int *map;

	slot_index_t ix;

	if (m->nslots == 0 && slot_add(m, "") != 0) /* slot 0: no view */
		return -ENOMEM;
	map = malloc((snap->nviews ? snap->nviews : 1) * sizeof(*map));
	if (map == NULL || index_init(&ix, m, snap->nviews) < 0) {
		free(map);
		return -ENOMEM;
	}
	/* Reload time only. With per-view labels off every view shares
	 * slot 1. */
	for (size_t i = 0; i < snap->nviews; i++) {
		const char *name =
			snap->http.per_view_metrics ? vd_view_name(snap->views[i]) : "";
		map[i] = slot_of(m, &ix, name);
		if (map[i] < 0) {
			free(ix.cells);
			free(map);
			return -ENOMEM;
		}
	}
	free(ix.cells);
	if (compact(m, map, snap->nviews) < 0) {
		free(map);
		return -ENOMEM;
	}
	free(ctx->view_slot);
	ctx->view_slot = map;
	ctx->mx_snap = snap;
	return 0;
}

void vd_query_metrics_free(vd_query_ctx_t *ctx)
{
	vd_query_metrics_deinit(&ctx->mx);
	free(ctx->view_slot);
	ctx->view_slot = NULL;
}

void vd_query_metrics_deinit(vd_query_metrics_t *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; m->names && i < m->nslots; i++)
		free(m->names[i]);
	free(m->names);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int vd_query_metrics_copy(const vd_query_ctx_t *ctx, vd_query_metrics_t *out)
{
	const vd_query_metrics_t *m = &ctx->mx;

	memset(out, 0, sizeof(*out));
	memcpy(out->dur, m->dur, sizeof(out->dur));
	out->no_view = m->no_view;
	if (m->nslots == 0)
		return 0;
	out->names = calloc(m->nslots, sizeof(*out->names));
	out->v = malloc(m->nslots * sizeof(*out->v));
	if (out->names == NULL || out->v == NULL)
		goto fail;
	out->nslots = m->nslots;
	memcpy(out->v, m->v, m->nslots * sizeof(*out->v));
	for (size_t i = 0; i < m->nslots; i++)
		if ((out->names[i] = strdup(m->names[i])) == NULL)
			goto fail;
	return 0;
fail:
	vd_query_metrics_deinit(out);
	return -ENOMEM;
}
