/*
 * Flood protection settings: server.rate_limit (the default for every
 * view), views[].rate_limit (a view's overrides, or false) and
 * server.cookie_secret (the DNS cookie secrets a fleet shares). A view's
 * settings start from the server's explicitly given ones; burst,
 * tcp_qps and tcp_burst left unset anywhere follow the final qps. The
 * prefix lengths and the table size belong to the table, so only the
 * server section sets them.
 */
#include "conf_int.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Which keys a rate_limit map gave (inherited by views). */
enum {
	SET_QPS = 1,
	SET_BURST = 2,
	SET_TCP_QPS = 4,
	SET_TCP_BURST = 8,
};

static const char *const server_rl_keys[] = {
	"qps",	       "burst",	      "slip",	    "tcp_qps", "tcp_burst",
	"ipv4_prefix", "ipv6_prefix", "table_size", "allow",   NULL,
};
static const char *const view_rl_keys[] = {
	"qps", "burst", "slip", "tcp_qps", "tcp_burst", "allow", NULL,
};

static void rl_defaults(vd_guard_rl_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->slip = 2;
	c->ipv4_prefix = 24;
	c->ipv6_prefix = 56;
}

/* A count in 1..VD_GUARD_RL_QPS_MAX. */
static void rl_count(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *out)
{
	uint32_t v = 0;

	if (vd_conf_uint(b, p, what, &v) < 0)
		return;
	if (v > VD_GUARD_RL_QPS_MAX) {
		vd_conf_nerr(b, p->val, "%s must be at most %u", what,
			     VD_GUARD_RL_QPS_MAX);
		return;
	}
	*out = v;
}

static void rl_prefix(cbuild_t *b, const yn_pair_t *p, const char *what, unsigned max,
		      uint8_t *out)
{
	uint32_t v = 0;

	if (vd_conf_uint(b, p, what, &v) < 0)
		return;
	if (v > max) {
		vd_conf_nerr(b, p->val, "%s must be at most %u", what, max);
		return;
	}
	*out = (uint8_t)v;
}

static void rl_slip(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *out)
{
	uint32_t v = 0;

	if (p->val->kind == YN_SCALAR && strcmp(p->val->str, "0") == 0) {
		*out = 0;
		return;
	}
	if (vd_conf_uint(b, p, what, &v) < 0)
		return;
	if (v > 100) {
		vd_conf_nerr(b, p->val, "%s must be at most 100", what);
		return;
	}
	*out = v;
}

static void rl_allow(cbuild_t *b, const yn_pair_t *p, const char *what,
		     vd_guard_rl_conf_t *c)
{
	const ynode_t *list = p->val;
	vd_cidr_t *allow;

	if (!vd_conf_is_string_list(list)) {
		vd_conf_nerr(b, p->key, "%s must be a list of CIDRs", what);
		return;
	}
	allow = vd_arena_alloc(b->a, (list->n ? list->n : 1) * sizeof(*allow));
	if (!allow) {
		vd_conf_nomem(b);
		return;
	}
	c->allow = allow;
	c->nallow = 0;
	for (size_t i = 0; i < list->n; i++) {
		if (vd_cidr_parse(list->items[i]->str, &allow[c->nallow]) < 0) {
			vd_conf_nerr(b, list->items[i],
				     "%s: bad CIDR '%s' (an address, or a prefix with "
				     "no host bits set)",
				     what, list->items[i]->str);
			continue;
		}
		c->nallow++;
	}
}

static void rl_pair(cbuild_t *b, const yn_pair_t *p, const char *where,
		    vd_guard_rl_conf_t *c, unsigned *set)
{
	const char *k = p->key->str;
	char what[96];

	snprintf(what, sizeof(what), "%s.%s", where, k);
	if (strcmp(k, "qps") == 0) {
		rl_count(b, p, what, &c->qps);
		*set |= SET_QPS;
	} else if (strcmp(k, "burst") == 0) {
		rl_count(b, p, what, &c->burst);
		*set |= SET_BURST;
	} else if (strcmp(k, "tcp_qps") == 0) {
		rl_count(b, p, what, &c->tcp_qps);
		*set |= SET_TCP_QPS;
	} else if (strcmp(k, "tcp_burst") == 0) {
		rl_count(b, p, what, &c->tcp_burst);
		*set |= SET_TCP_BURST;
	} else if (strcmp(k, "slip") == 0) {
		rl_slip(b, p, what, &c->slip);
	} else if (strcmp(k, "ipv4_prefix") == 0) {
		rl_prefix(b, p, what, 32, &c->ipv4_prefix);
	} else if (strcmp(k, "ipv6_prefix") == 0) {
		rl_prefix(b, p, what, 128, &c->ipv6_prefix);
	} else if (strcmp(k, "table_size") == 0) {
		uint32_t v = 0;
		if (vd_conf_uint(b, p, what, &v) < 0)
			return;
		if (v > VD_GUARD_RL_SLOTS_MAX)
			vd_conf_nerr(b, p->val, "%s must be at most %u", what,
				     VD_GUARD_RL_SLOTS_MAX);
		else
			b->snap->server.rate_limit_slots = v;
	} else if (strcmp(k, "allow") == 0) {
		rl_allow(b, p, what, c);
	}
}

/* The settings after the map: defaults that follow qps. */
static void rl_finish(cbuild_t *b, const yn_pair_t *p, const char *where,
		      vd_guard_rl_conf_t *c, unsigned set)
{
	if (!(set & SET_QPS)) {
		vd_conf_nerr(b, p->key, "%s.qps is required", where);
		return;
	}
	c->enabled = true;
	if (!(set & SET_BURST))
		c->burst = c->qps;
	if (!(set & SET_TCP_QPS))
		c->tcp_qps = c->qps > VD_GUARD_RL_QPS_MAX / 10 ? VD_GUARD_RL_QPS_MAX
							       : 10 * c->qps;
	if (!(set & SET_TCP_BURST))
		c->tcp_burst = c->tcp_qps;
	if (c->tcp_qps < c->qps)
		vd_conf_nerr(b, p->key, "%s.tcp_qps must be at least qps (%u)", where,
			     c->qps);
}

/* Reads one rate_limit value: false, or a map. Returns whether it
 * enables the limiter; *c holds the result. */
static void rl_value(cbuild_t *b, const yn_pair_t *p, const char *where,
		     const char *const *keys, vd_guard_rl_conf_t *c, unsigned *set)
{
	bool on = false;

	if (p->val->kind == YN_SCALAR) {
		if (vd_conf_bool(b, p, where, &on) == 0 && on)
			vd_conf_nerr(b, p->key,
				     "%s must be false or a map with at least qps",
				     where);
		c->enabled = false;
		return;
	}
	if (p->val->kind != YN_MAP) {
		vd_conf_nerr(b, p->key, "%s must be false or a map", where);
		return;
	}
	vd_conf_check_keys(b, p->val, keys, where);
	for (size_t i = 0; i < p->val->n; i++)
		rl_pair(b, &p->val->pairs[i], where, c, set);
	rl_finish(b, p, where, c, *set);
}

void vd_conf_server_rate_limit(cbuild_t *b, const yn_pair_t *p)
{
	vd_guard_rl_conf_t *c = &b->snap->server.rate_limit;

	rl_defaults(c);
	b->snap->server.rate_limit_slots = VD_GUARD_RL_SLOTS_DEFAULT;
	b->rl_set = 0;
	if (p != NULL)
		rl_value(b, p, "server.rate_limit", server_rl_keys, c, &b->rl_set);
	b->rl_raw = *c;
	b->snap->rate_limit_any = c->enabled;
}

void vd_conf_view_rate_limit(cbuild_t *b, int vi, const ynode_t *m, const char *where)
{
	vd_guard_rl_conf_t *c = &b->snap->view_rate_limit[vi];
	const yn_pair_t *p = NULL;
	unsigned set = b->rl_set;
	char what[64];

	*c = b->snap->server.rate_limit;
	if (!vd_conf_yaml_get(m, "rate_limit", &p))
		return;
	snprintf(what, sizeof(what), "%s.rate_limit", where);
	/* Start from what the server gave, not from its derived defaults. */
	*c = b->rl_raw;
	if (!(set & SET_BURST))
		c->burst = 0;
	if (!(set & SET_TCP_QPS))
		c->tcp_qps = 0;
	if (!(set & SET_TCP_BURST))
		c->tcp_burst = 0;
	rl_value(b, p, what, view_rl_keys, c, &set);
	b->snap->rate_limit_any |= c->enabled;
}

/* One secret: 32 hexadecimal digits (16 bytes, RFC 9018's SipHash key). */
static int secret_hex(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 32; i++) {
		char ch = s[i];
		int v = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

void vd_conf_server_cookie_secret(cbuild_t *b, const yn_pair_t *p)
{
	vd_guard_cookie_conf_t *c = &b->snap->server.cookies;
	const ynode_t *v = p->val;
	const ynode_t *one[1] = { v };
	const ynode_t *const *items = one;
	size_t n = 1;

	if (v->kind == YN_SEQ) {
		if (!vd_conf_is_string_list(v) || v->n == 0 ||
		    v->n > VD_COOKIE_SECRETS_MAX) {
			vd_conf_err(
				b, p->key->line,
				"server.cookie_secret must be a string or a list of "
				"1 to %d strings",
				VD_COOKIE_SECRETS_MAX);
			return;
		}
		items = v->items;
		n = v->n;
	} else if (v->kind != YN_SCALAR || v->null) {
		vd_conf_err(
			b, p->key->line,
			"server.cookie_secret must be a string or a list of strings");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (secret_hex(items[i]->str, c->secret[c->n]) < 0) {
			vd_conf_nerr(b, items[i],
				     "server.cookie_secret: a secret is 32 hexadecimal "
				     "digits (16 bytes)");
			continue;
		}
		c->n++;
	}
}
