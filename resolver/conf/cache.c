/*
 * The "cache" section (size, TTL clamps, serve-stale, prefetch) and each
 * upstream group's cache identity. The identity hashes the group's name
 * and its servers as configured, so a reload that keeps a group as it was
 * keeps its cached answers, and one that changes its servers does not.
 */
#include "conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cache_keys[] = {
	"size", "min_ttl", "max_ttl", "max_negative_ttl", "stale_max", "prefetch", NULL,
};

static void set_defaults(vd_cache_conf_t *c)
{
	c->size = 64ull << 20;
	c->min_ttl = 0;
	c->max_ttl = 86400;
	c->max_negative_ttl = 3600;
	c->stale_max = 86400;
	c->prefetch = true;
}

/* A duration in whole seconds; "0" is allowed (no clamp / no stale). */
static void read_seconds(cbuild_t *b, const yn_pair_t *p, const char *what,
			 uint32_t *out)
{
	uint32_t ms;

	if (p->val->kind == YN_SCALAR && p->val->str && strcmp(p->val->str, "0") == 0) {
		*out = 0;
		return;
	}
	if (vd_conf_duration(b, p, what, &ms) < 0)
		return;
	if (ms % 1000 != 0) {
		vd_conf_err(b, p->val->line,
			    "%s: '%s' is not a whole number of seconds "
			    "(DNS TTLs are in seconds)",
			    what, p->val->str);
		return;
	}
	*out = ms / 1000;
}

static void group_ids(vd_snap_t *s)
{
	for (size_t i = 0; i < s->ngroups; i++) {
		vd_group_t *g = &s->groups[i];
		uint64_t h = vd_hash(g->name, strlen(g->name) + 1, VD_HASH_SEED_FIXED);
		for (size_t j = 0; j < g->nservers; j++) {
			const char *t = g->servers[j].text ? g->servers[j].text : "";
			h = vd_hash(&g->servers[j].addr, sizeof(g->servers[j].addr), h);
			h = vd_hash(t, strlen(t) + 1, h);
		}
		g->cache_id = h;
	}
}

void vd_conf_build_cache(cbuild_t *b, const ynode_t *root)
{
	vd_cache_conf_t *c = &b->snap->cache;
	const yn_pair_t *cp = NULL;
	const ynode_t *m;

	set_defaults(c);
	group_ids(b->snap);
	m = vd_conf_yaml_get(root, "cache", &cp);
	if (m == NULL)
		return;
	if (m->kind != YN_MAP) {
		vd_conf_err(b, cp->key->line, "cache must be a map");
		return;
	}
	vd_conf_check_keys(b, m, cache_keys, "cache");
	for (size_t i = 0; i < m->n; i++) {
		const yn_pair_t *p = &m->pairs[i];
		const char *k = p->key->str;
		if (strcmp(k, "size") == 0)
			vd_conf_size(b, p, "cache.size", 64ull << 30, &c->size);
		else if (strcmp(k, "min_ttl") == 0)
			read_seconds(b, p, "cache.min_ttl", &c->min_ttl);
		else if (strcmp(k, "max_ttl") == 0) {
			read_seconds(b, p, "cache.max_ttl", &c->max_ttl);
			/* 0 would make every positive answer uncacheable while
			 * negative ones are still cached: say what was meant. */
			if (c->max_ttl == 0)
				vd_conf_err(b, p->val->line,
					    "cache.max_ttl must be at least "
					    "1s (to turn the cache off, set "
					    "cache.size: 0)");
		} else if (strcmp(k, "max_negative_ttl") == 0)
			read_seconds(b, p, "cache.max_negative_ttl",
				     &c->max_negative_ttl);
		else if (strcmp(k, "stale_max") == 0)
			read_seconds(b, p, "cache.stale_max", &c->stale_max);
		else if (strcmp(k, "prefetch") == 0)
			vd_conf_bool(b, p, "cache.prefetch", &c->prefetch);
	}
	if (c->min_ttl > c->max_ttl)
		vd_conf_err(b, cp->key->line,
			    "cache.min_ttl (%us) exceeds cache.max_ttl (%us)",
			    c->min_ttl, c->max_ttl);
}
