/*
 * The "upstreams" section: named groups of upstream servers. The word
 * "system" in a group stands for every nameserver of /etc/resolv.conf (or
 * of the file named by VPCDNS_RESOLV_CONF, so tests never depend on the
 * host), read at most once per build so every group sees the same list.
 * Groups are registered even when their servers are wrong, so forward
 * rules that name them are not reported a second time as unknown groups.
 * A server written "tls://address[:port][#name]" is DNS over TLS: port 853
 * unless given, and the name (when given) is what the certificate must
 * carry; it is checked here to be a host name, since OpenSSL would
 * otherwise fail every handshake at run time with a vaguer reason.
 * A group is a list of servers, or a map with "servers" and options
 * ("use_0x20", default true: see fwd.h).
 */
#include "conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYSTEM_WORD "system"
#define RESOLV_ENV "VPCDNS_RESOLV_CONF"
#define RESOLV_DEFAULT "/etc/resolv.conf"
#define TLS_SCHEME "tls://"

/* The address of a "nameserver" line, or NULL for any other line. */
static char *nameserver_addr(char *line)
{
	char *p = line, *end;

	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "nameserver", 10) != 0 || !isspace((unsigned char)p[10]))
		return NULL;
	p += 10;
	while (isspace((unsigned char)*p))
		p++;
	end = p;
	while (*end && !isspace((unsigned char)*end) && *end != '#' && *end != ';')
		end++;
	*end = '\0';
	return *p ? p : NULL;
}

static int sys_push(cbuild_t *b, size_t *cap, const char *text)
{
	vd_upstream_t u = { .tls = false };

	/* Scoped link-local addresses (fe80::1%eth0) are not usable here. */
	if (vd_addr_parse(text, VD_DEFAULT_PORT, &u.addr) < 0)
		return 0;
	u.text = vd_arena_strdup(b->a, text);
	if (!u.text)
		return -ENOMEM;
	return vd_arena_push(b->a, (void **)&b->sys.servers, &b->sys.n, cap, &u,
			     sizeof(u));
}

static void read_resolv(cbuild_t *b)
{
	const char *path = getenv(RESOLV_ENV);
	char *line = NULL, *addr;
	size_t len = 0, cap = 0;
	FILE *f;

	b->sys.read = true;
	if (!path || !*path)
		path = RESOLV_DEFAULT;
	b->sys.path = strdup(path);
	if (!b->sys.path) {
		vd_conf_nomem(b);
		return;
	}
	f = fopen(path, "r");
	if (!f) {
		b->sys.err = -errno;
		return;
	}
	while (getline(&line, &len, f) > 0) {
		addr = nameserver_addr(line);
		if (addr && sys_push(b, &cap, addr) < 0) {
			vd_conf_nomem(b);
			break;
		}
	}
	free(line);
	fclose(f);
}

static int group_push(cbuild_t *b, vd_group_t *g, size_t *cap, unsigned long *over,
		      const vd_upstream_t *u, unsigned long line)
{
	const vd_server_conf_t *s = &b->snap->server;

	/* Forwarding to ourselves would loop every query until it times out. */
	for (size_t i = 0; i < s->nlisten; i++) {
		if (vd_addr_equal((const struct sockaddr *)&s->listen[i],
				  (const struct sockaddr *)&u->addr)) {
			vd_conf_err(b, line,
				    "upstreams.%s: '%s' is one of our listen addresses "
				    "(a forwarding loop)",
				    g->name, u->text);
			return 0;
		}
	}
	vd_conf_warn_upstream(b, g, u, line);
	if (g->nservers >= VD_GROUP_MAX_SERVERS) {
		/* reported once, by build_group, at the first one too many */
		if (!*over)
			*over = line;
		return 0;
	}
	return vd_arena_push(b->a, (void **)&g->servers, &g->nservers, cap, u,
			     sizeof(*u));
}

static void add_system(cbuild_t *b, vd_group_t *g, size_t *cap, unsigned long *over,
		       const ynode_t *item)
{
	if (!b->sys.read)
		read_resolv(b);
	if (b->sys.err) {
		vd_conf_err(b, item->line, "upstreams.%s: 'system': cannot read %s: %s",
			    g->name, b->sys.path, vd_strerror(b->sys.err));
		return;
	}
	if (b->sys.n == 0 && b->sys.path) {
		vd_conf_err(b, item->line,
			    "upstreams.%s: 'system': no nameserver found in %s",
			    g->name, b->sys.path);
		return;
	}
	for (size_t i = 0; i < b->sys.n; i++) {
		if (group_push(b, g, cap, over, &b->sys.servers[i], item->line) < 0) {
			vd_conf_nomem(b);
			return;
		}
	}
}

/* A host name as a certificate carries it: LDH labels of 1..63 bytes,
 * at most 253 bytes, an optional final dot, not an address. */
static bool host_name_ok(const char *s)
{
	struct sockaddr_storage ss;
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || vd_addr_parse(s, 0, &ss) == 0)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 && p[1] != '\0')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* "tls://address[:port][#name]" into u; false after reporting an error. */
static bool parse_tls(cbuild_t *b, const vd_group_t *g, const ynode_t *item,
		      vd_upstream_t *u)
{
	const char *spec = item->str + strlen(TLS_SCHEME);
	const char *hash = strchr(spec, '#');
	char addr[128];
	size_t alen = hash ? (size_t)(hash - spec) : strlen(spec);
	int err = VD_EMALF;

	if (alen < sizeof(addr)) {
		memcpy(addr, spec, alen);
		addr[alen] = '\0';
		err = vd_addr_parse(addr, VD_TLS_PORT, &u->addr);
	}
	if (err < 0) {
		vd_conf_err(b, item->line,
			    "upstreams.%s: bad TLS server '%s' "
			    "(tls://<address>[:port][#name])",
			    g->name, item->str);
		return false;
	}
	u->tls = true;
	u->tls_name = NULL;
	if (!hash)
		return true;
	if (!host_name_ok(hash + 1)) {
		vd_conf_err(b, item->line,
			    "upstreams.%s: bad TLS name '%s' in '%s' (a host name; "
			    "leave out '#' to verify the address)",
			    g->name, hash + 1, item->str);
		return false;
	}
	u->tls_name = vd_arena_strdup(b->a, hash + 1);
	if (!u->tls_name) {
		vd_conf_nomem(b);
		return false;
	}
	return true;
}

static void add_server(cbuild_t *b, vd_group_t *g, size_t *cap, unsigned long *over,
		       const ynode_t *item)
{
	vd_upstream_t u = { .tls = false };

	if (strcmp(item->str, SYSTEM_WORD) == 0) {
		add_system(b, g, cap, over, item);
		return;
	}
	if (strncmp(item->str, TLS_SCHEME, strlen(TLS_SCHEME)) == 0) {
		if (!parse_tls(b, g, item, &u))
			return;
	} else if (vd_addr_parse(item->str, VD_DEFAULT_PORT, &u.addr) < 0) {
		vd_conf_err(b, item->line, "upstreams.%s: bad address '%s'", g->name,
			    item->str);
		return;
	}
	u.text = vd_arena_strdup(b->a, item->str);
	if (!u.text || group_push(b, g, cap, over, &u, item->line) < 0)
		vd_conf_nomem(b);
}

static const char *const group_keys[] = { "servers", "use_0x20", NULL };

/* The long form of a group, a map: "servers" (the list) and options.
 * Returns the list node (NULL after reporting an error); *key_line is
 * where to report an empty or bad list. */
static const ynode_t *group_map(cbuild_t *b, vd_group_t *g, const yn_pair_t *p,
				unsigned long *key_line)
{
	const yn_pair_t *sp = NULL, *op = NULL;
	const ynode_t *list;
	char what[160];

	snprintf(what, sizeof(what), "upstreams.%s", g->name);
	vd_conf_check_keys(b, p->val, group_keys, what);
	if (vd_conf_yaml_get(p->val, "use_0x20", &op)) {
		snprintf(what, sizeof(what), "upstreams.%s.use_0x20", g->name);
		vd_conf_bool(b, op, what, &g->use_0x20);
	}
	list = vd_conf_yaml_get(p->val, "servers", &sp);
	if (!list) {
		vd_conf_err(b, p->key->line,
			    "missing required key 'servers' in upstreams.%s", g->name);
		return NULL;
	}
	*key_line = sp->key->line;
	if (!vd_conf_is_string_list(list)) {
		vd_conf_err(b, sp->key->line,
			    "upstreams.%s.servers must be a list of strings", g->name);
		return NULL;
	}
	return list;
}

static void build_group(cbuild_t *b, const yn_pair_t *p)
{
	vd_snap_t *snap = b->snap;
	vd_group_t *g = &snap->groups[snap->ngroups];
	const ynode_t *list = p->val;
	unsigned long over = 0, key_line = p->key->line;
	size_t cap = 0;

	memset(g, 0, sizeof(*g));
	g->use_0x20 = true;
	g->name = vd_arena_strdup(b->a, p->key->str);
	if (!g->name) {
		vd_conf_nomem(b);
		return;
	}
	g->index = (int)snap->ngroups++;
	if (list->kind == YN_MAP) {
		list = group_map(b, g, p, &key_line);
		if (!list)
			return;
	} else if (!vd_conf_is_string_list(list)) {
		vd_conf_err(b, p->key->line,
			    "upstreams.%s must be a list of strings or a map with "
			    "'servers'",
			    g->name);
		return;
	}
	if (list->n == 0) {
		vd_conf_err(b, key_line, "upstream group '%s' has no servers", g->name);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		add_server(b, g, &cap, &over, list->items[i]);
	if (over)
		vd_conf_err(b, over, "upstreams.%s: more than %d servers", g->name,
			    VD_GROUP_MAX_SERVERS);
}

void vd_conf_build_upstreams(cbuild_t *b, const ynode_t *root)
{
	const yn_pair_t *up = NULL;
	const ynode_t *u;

	u = vd_conf_yaml_get(root, "upstreams", &up);
	if (!u)
		return;
	if (u->kind != YN_MAP) {
		vd_conf_err(
			b, up->key->line,
			"upstreams must be a map of group names to lists of servers");
		return;
	}
	b->snap->groups = vd_arena_alloc(b->a, (u->n ? u->n : 1) * sizeof(vd_group_t));
	if (!b->snap->groups) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < u->n; i++)
		build_group(b, &u->pairs[i]);
}
