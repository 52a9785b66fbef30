/*
 * Unit tests of vd_conf_load: a complete valid configuration read into a
 * snapshot (server settings, groups, views, zones, the client table and
 * the routing maps), defaults, zone sharing between views, "system"
 * upstreams read from VPCDNS_RESOLV_CONF, the example configuration of the
 * repository, listen-set comparison, and every kind of error with the
 * exact "file:line: " it must carry. Each test works in its own folder
 * under /tmp, with small zone files written by the fixture.
 */
#include "conf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"

typedef struct fixture {
	char dir[64];
	char path[512];	  /* dir/vpcdns.yaml */
	char resolv[512]; /* dir/resolv.conf */
	vd_errlist_t errs;
	vd_snap_t *snap;
} fixture_t;

static void zone_text(char *buf, size_t len, const char *apex, const char *extra)
{
	snprintf(buf, len,
		 "$ORIGIN %s\n"
		 "$TTL 60\n"
		 "@ IN SOA ns.invalid. h.invalid. 1 3600 600 86400 60\n"
		 "%s",
		 apex, extra);
}

static void zone_write(const fixture_t *f, const char *name, const char *apex,
		       const char *extra)
{
	char text[1024], out[512];

	zone_text(text, sizeof(text), apex, extra);
	file_write(f->dir, name, text, out);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	char out[512];

	tmpdir_new(f->dir);
	vd_errlist_init(&f->errs);
	snprintf(f->path, sizeof(f->path), "%s/vpcdns.yaml", f->dir);
	file_write(f->dir, "resolv.conf",
		   "# generated\n"
		   "search example.com\n"
		   "nameserver 127.0.0.1\n"
		   "options edns0\n"
		   "  nameserver   ::1   # second\n"
		   "nameserver fe80::1%lo\n"
		   "nameservers 127.0.0.9\n",
		   f->resolv);
	setenv("VPCDNS_RESOLV_CONF", f->resolv, 1);
	subdir_new(f->dir, "data");
	subdir_new(f->dir, "data/shared");
	subdir_new(f->dir, "empty");
	zone_write(f, "data/shared/b.example.zone", "b.example.",
		   "x IN A 127.0.0.11\n");
	zone_write(f, "data/shared/a.example.zone", "a.example.",
		   "www IN A 127.0.0.10\n");
	file_write(f->dir, "data/shared/README", "not a zone\n", out);
	zone_write(f, "data/corp.zone", "corp.internal.", "git IN A 127.0.0.12\n");
	zone_write(f, "a.zone", "a.example.", "");
	zone_write(f, "a2.zone", "A.EXAMPLE.", "");
	zone_write(f, "bad.zone", "bad.example.", "www IN A 999.1.1.1\n");
	file_write(f->dir, "noorigin.zone",
		   "@ 60 IN SOA ns.invalid. h.invalid. 1 3600 600 86400 60\n"
		   "www 60 IN A 127.0.0.13\n",
		   out);
	file_write(f->dir, "empty/notes.txt", "nothing\n", out);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_snap_unref(f->snap);
	vd_errlist_deinit(&f->errs);
	tmpdir_rm(f->dir);
	unsetenv("VPCDNS_RESOLV_CONF");
	free(f);
	return 0;
}

static int load(fixture_t *f, const char *text)
{
	char out[512];

	vd_snap_unref(f->snap);
	f->snap = NULL;
	vd_errlist_deinit(&f->errs);
	file_write(f->dir, "vpcdns.yaml", text, out);
	return vd_conf_load(f->path, &f->snap, &f->errs);
}

static void load_ok(fixture_t *f, const char *text)
{
	int r = load(f, text);

	if (r != 0) {
		errs_print(&f->errs);
		fail_msg("vd_conf_load: %d", r);
	}
	assert_non_null(f->snap);
	assert_int_equal(f->errs.count, 0);
}

static const vd_view_route_t *route(const vd_view_t *v, const char *name,
				    unsigned max_labels)
{
	uint8_t wire[VD_NAME_MAX];
	size_t len;

	assert_int_equal(vd_name_from_text(name, wire, &len), 0);
	vd_name_lower(wire, wire);
	return vd_view_route(v, wire, max_labels);
}

static bool name_is(const uint8_t *wire, const char *text)
{
	char buf[VD_NAME_TEXT];

	return strcmp(vd_name_to_text(wire, buf, sizeof(buf)), text) == 0;
}

static int match(const vd_snap_t *s, const char *addr)
{
	struct sockaddr_storage ss;

	assert_int_equal(vd_addr_parse(addr, 53, &ss), 0);
	return vd_view_table_match(s->view_table, (struct sockaddr *)&ss);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* ---- arguments ---------------------------------------------------------- */

static void test_null_args(void **state)
{
	fixture_t *f = *state;
	vd_snap_t *s = (vd_snap_t *)0x1;
	char missing[600];

	assert_int_equal(vd_conf_load(NULL, &s, &f->errs), -EINVAL);
	assert_int_equal(vd_conf_load(f->path, NULL, &f->errs), -EINVAL);
	snprintf(missing, sizeof(missing), "%s/none.yaml", f->dir);
	assert_int_equal(vd_conf_load(missing, &s, &f->errs), VD_ECONF);
	assert_null(s);
	assert_err(&f->errs, missing, 0, "cannot open: No such file or directory");
	/* No error list: still fails cleanly. */
	assert_int_equal(vd_conf_load(missing, &s, NULL), VD_ECONF);
	assert_int_equal(vd_conf_load(f->dir, &s, NULL), VD_ECONF);
	vd_snap_ref(NULL);
	vd_snap_unref(NULL);
	assert_null(vd_view_route(NULL, (const uint8_t *)"", UINT_MAX));
}

/* ---- a complete configuration ------------------------------------------ */

static const char full_conf[] =
	"server:\n" /* 1 */
	"  listen: [\"127.0.0.1:5353\", \"[::1]:5353\", \"127.0.0.5\"]\n"
	"  identity: test-id\n"
	"  hide_version: yes\n"
	"  version: \"v9\"\n" /* 5 */
	"  directory: data\n"
	"  tcp_idle_timeout: 2m\n"
	"  tcp_max_connections: 77\n"
	"  upstream_timeout: 250ms\n"
	"  log_level: debug\n" /* 10 */
	"upstreams:\n"
	"  default: [\"system\"]\n"
	"  corp: [\"127.0.0.1:5301\", \"[::1]:5302\", \"127.0.0.2\"]\n"
	"views:\n"
	"  - name: one\n" /* 15 */
	"    clients: [\"10.20.0.0/16\", \"127.0.0.1\", \"::1/128\"]\n"
	"    zones:\n"
	"      - \"shared/\"\n"
	"      - path: corp.zone\n"
	"        fallback: nxdomain\n" /* 20 */
	"    forward:\n"
	"      \"corp.example.\": corp\n"
	"      \"A.Example\": corp\n"
	"      \".\": default\n"
	"  - name: two\n" /* 25 */
	"    clients: [\"10.30.0.0/16\", \"::ffff:127.0.0.2/128\"]\n"
	"    zones: [\"shared\"]\n";

static void test_server(void **state)
{
	fixture_t *f = *state;
	const vd_server_conf_t *s;

	load_ok(f, full_conf);
	s = &f->snap->server;
	assert_string_equal(f->snap->path, f->path);
	assert_int_equal(vd_snap_refs(f->snap), 1);
	assert_int_equal(s->nlisten, 3);
	assert_int_equal(s->listen[0].ss_family, AF_INET);
	assert_int_equal(port_of(&s->listen[0]), 5353);
	assert_int_equal(s->listen[1].ss_family, AF_INET6);
	assert_int_equal(port_of(&s->listen[1]), 5353);
	assert_int_equal(s->listen[2].ss_family, AF_INET);
	assert_int_equal(port_of(&s->listen[2]), 53);
	assert_string_equal(s->identity, "test-id");
	assert_true(s->hide_version);
	assert_string_equal(s->version, "v9");
	assert_int_equal(s->tcp_idle_timeout_ms, 120000);
	assert_int_equal(s->tcp_max_connections, 77);
	assert_int_equal(s->upstream_timeout_ms, 250);
	assert_int_equal(s->log_level, VD_LOG_DEBUG);
}

static void test_groups(void **state)
{
	fixture_t *f = *state;
	const vd_group_t *g;

	load_ok(f, full_conf);
	assert_int_equal(f->snap->ngroups, 2);
	g = &f->snap->groups[0];
	assert_string_equal(g->name, "default");
	assert_int_equal(g->index, 0);
	/* resolv.conf: 127.0.0.1 and ::1; the scoped address is skipped. */
	assert_int_equal(g->nservers, 2);
	assert_string_equal(g->servers[0].text, "127.0.0.1");
	assert_int_equal(g->servers[0].addr.ss_family, AF_INET);
	assert_int_equal(port_of(&g->servers[0].addr), 53);
	assert_string_equal(g->servers[1].text, "::1");
	assert_int_equal(g->servers[1].addr.ss_family, AF_INET6);
	g = &f->snap->groups[1];
	assert_string_equal(g->name, "corp");
	assert_int_equal(g->index, 1);
	assert_int_equal(g->nservers, 3);
	assert_string_equal(g->servers[0].text, "127.0.0.1:5301");
	assert_int_equal(port_of(&g->servers[0].addr), 5301);
	assert_int_equal(port_of(&g->servers[1].addr), 5302);
	assert_int_equal(g->servers[1].addr.ss_family, AF_INET6);
	assert_int_equal(port_of(&g->servers[2].addr), 53);
	assert_true(g->use_0x20);
}

/* The long form of a group: a map with the servers and options. */
static void test_group_options(void **state)
{
	fixture_t *f = *state;
	const vd_group_t *g;

	load_ok(f, "server:\n"
		   "  listen: [\"127.0.0.1:5353\"]\n"
		   "upstreams:\n"
		   "  plain:\n"
		   "    servers: [\"127.0.0.1:5301\"]\n"
		   "  nocase:\n"
		   "    servers:\n"
		   "      - 127.0.0.1:5302\n"
		   "      - 127.0.0.2\n"
		   "    use_0x20: false\n"
		   "views:\n"
		   "  - name: v\n"
		   "    clients: [\"10.0.0.0/8\"]\n");
	assert_int_equal(f->snap->ngroups, 2);
	g = &f->snap->groups[0];
	assert_string_equal(g->name, "plain");
	assert_int_equal(g->nservers, 1);
	assert_true(g->use_0x20);
	g = &f->snap->groups[1];
	assert_string_equal(g->name, "nocase");
	assert_int_equal(g->nservers, 2);
	assert_int_equal(port_of(&g->servers[0].addr), 5302);
	assert_false(g->use_0x20);
}

static void test_views(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *one, *two;

	load_ok(f, full_conf);
	assert_int_equal(f->snap->nviews, 2);
	one = f->snap->views[0];
	two = f->snap->views[1];
	assert_string_equal(vd_view_name(one), "one");
	assert_int_equal(vd_view_index(one), 0);
	assert_int_equal(vd_view_nclients(one), 3);
	assert_int_equal(vd_view_client(one, 1)->family, AF_INET);
	assert_int_equal(vd_view_client(one, 1)->prefix, 32);
	assert_string_equal(vd_view_name(two), "two");
	assert_int_equal(vd_view_index(two), 1);
	/* The mapped prefix is kept as the IPv4 prefix it means. */
	assert_int_equal(vd_view_client(two, 1)->family, AF_INET);
	assert_int_equal(vd_view_client(two, 1)->prefix, 32);
	/* Folder files in name order; README is not a zone. */
	assert_int_equal(vd_view_nzones(one), 3);
	assert_true(name_is(vd_zone_apex(vd_view_zone(one, 0)), "a.example."));
	assert_true(name_is(vd_zone_apex(vd_view_zone(one, 1)), "b.example."));
	assert_true(name_is(vd_zone_apex(vd_view_zone(one, 2)), "corp.internal."));
	assert_int_equal(vd_zone_fallback(vd_view_zone(one, 0)),
			 VD_ZONE_FALLBACK_FORWARD);
	assert_int_equal(vd_zone_fallback(vd_view_zone(one, 2)),
			 VD_ZONE_FALLBACK_NXDOMAIN);
	assert_int_equal(vd_view_nzones(two), 2);
	/* The client table. */
	assert_int_equal(match(f->snap, "10.20.1.1"), 0);
	assert_int_equal(match(f->snap, "127.0.0.1"), 0);
	assert_int_equal(match(f->snap, "::1"), 0);
	assert_int_equal(match(f->snap, "10.30.255.1"), 1);
	assert_int_equal(match(f->snap, "127.0.0.2"), 1);
	assert_int_equal(match(f->snap, "::ffff:127.0.0.2"), 1);
	assert_int_equal(match(f->snap, "127.0.0.3"), -1);
	assert_int_equal(match(f->snap, "10.40.0.1"), -1);
}

static void test_zone_sharing(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *one, *two;

	load_ok(f, full_conf);
	one = f->snap->views[0];
	two = f->snap->views[1];
	/* "shared/" and "shared" are the same folder: loaded once. */
	assert_ptr_equal(vd_view_zone(one, 0), vd_view_zone(two, 0));
	assert_ptr_equal(vd_view_zone(one, 1), vd_view_zone(two, 1));

	load_ok(f,
		"server: { listen: [\"127.0.0.1:5353\"] }\n"
		"views:\n"
		"  - name: a\n"
		"    clients: [\"10.1.0.0/16\"]\n"
		"    zones: [\"a.zone\"]\n"
		"  - name: b\n"
		"    clients: [\"10.2.0.0/16\"]\n"
		"    zones: [ { path: \"./empty/../a.zone\", fallback: forward } ]\n"
		"  - name: c\n"
		"    clients: [\"10.3.0.0/16\"]\n"
		"    zones:\n"
		"      - { path: \"a.zone\", fallback: nxdomain }\n"
		"      - { path: \"noorigin.zone\", origin: \"n.example\" }\n"
		"  - name: d\n"
		"    clients: [\"10.4.0.0/16\"]\n"
		"    zones: [ { path: \"noorigin.zone\", origin: \"m.example\" } ]\n");
	one = f->snap->views[0];
	two = f->snap->views[1];
	/* Same resolved file, same fallback: one zone. */
	assert_ptr_equal(vd_view_zone(one, 0), vd_view_zone(two, 0));
	/* Another fallback or origin is another zone. */
	assert_ptr_not_equal(vd_view_zone(one, 0), vd_view_zone(f->snap->views[2], 0));
	assert_int_equal(vd_zone_fallback(vd_view_zone(f->snap->views[2], 0)),
			 VD_ZONE_FALLBACK_NXDOMAIN);
	assert_true(name_is(vd_zone_apex(vd_view_zone(f->snap->views[2], 1)),
			    "n.example."));
	assert_true(name_is(vd_zone_apex(vd_view_zone(f->snap->views[3], 0)),
			    "m.example."));
}

static void test_routing(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *one, *two;
	const vd_view_route_t *e;

	load_ok(f, full_conf);
	one = f->snap->views[0];
	two = f->snap->views[1];
	/* A zone and a forward rule at the same name: one entry with both. */
	e = route(one, "www.a.example.", UINT_MAX);
	assert_non_null(e);
	assert_true(name_is(vd_view_route_name(e), "a.example."));
	assert_int_equal(vd_name_labels(vd_view_route_name(e)), 2);
	assert_ptr_equal(vd_view_route_zone(e), vd_view_zone(one, 0));
	assert_int_equal(vd_view_route_group(e), 1);
	assert_ptr_equal(route(one, "A.EXAMPLE.", UINT_MAX), e);
	/* A zone only. */
	e = route(one, "deep.x.b.example.", UINT_MAX);
	assert_ptr_equal(vd_view_route_zone(e), vd_view_zone(one, 1));
	assert_int_equal(vd_view_route_group(e), -1);
	e = route(one, "git.corp.internal.", UINT_MAX);
	assert_ptr_equal(vd_view_route_zone(e), vd_view_zone(one, 2));
	/* A forward rule only. */
	e = route(one, "host.corp.example.", UINT_MAX);
	assert_true(name_is(vd_view_route_name(e), "corp.example."));
	assert_null(vd_view_route_zone(e));
	assert_int_equal(vd_view_route_group(e), 1);
	/* Everything else: ".". */
	e = route(one, "www.example.com.", UINT_MAX);
	assert_true(name_is(vd_view_route_name(e), "."));
	assert_int_equal(vd_name_labels(vd_view_route_name(e)), 0);
	assert_int_equal(vd_view_route_group(e), 0);
	assert_ptr_equal(route(one, "example.", UINT_MAX), e);
	assert_ptr_equal(route(one, ".", UINT_MAX), e);
	/* max_labels: as if the zone at b.example (2 labels) were not there. */
	assert_ptr_equal(route(one, "x.b.example.", 1), e);
	assert_ptr_equal(route(one, "x.b.example.", 0), e);
	assert_ptr_equal(vd_view_route_zone(route(one, "x.b.example.", 2)),
			 vd_view_zone(one, 1));
	assert_ptr_equal(
		vd_view_route_group(route(one, "a.b.c.d.e.f.corp.example.", 2)), 1);
	/* A view without "." routes nothing else. */
	assert_ptr_equal(vd_view_route_zone(route(two, "x.b.example.", UINT_MAX)),
			 vd_view_zone(two, 1));
	assert_null(route(two, "www.example.com.", UINT_MAX));
	assert_null(route(two, "example.", UINT_MAX));
	assert_null(route(two, "x.b.example.", 1));
}

/* server.rate_limit is every view's default; a view overrides keys or
 * turns it off; unset burst and TCP limits follow the final qps. */
static void test_rate_limit(void **state)
{
	fixture_t *f = *state;
	const vd_guard_rl_conf_t *r;

	load_ok(f, "server:\n"
		   "  listen: [\"127.0.0.1:5353\"]\n"
		   "views:\n"
		   "  - name: v\n"
		   "    clients: [\"10.0.0.0/8\"]\n");
	assert_false(f->snap->server.rate_limit.enabled);
	assert_false(f->snap->rate_limit_any);
	assert_false(f->snap->view_rate_limit[0].enabled);
	vd_snap_unref(f->snap);
	f->snap = NULL;
	load_ok(f,
		"server:\n"
		"  listen: [\"127.0.0.1:5353\"]\n"
		"  rate_limit: {qps: 20, slip: 0, ipv4_prefix: 32, table_size: 100,\n"
		"               allow: [\"10.9.0.0/16\"]}\n"
		"views:\n"
		"  - name: a\n"
		"    clients: [\"10.0.0.0/8\"]\n"
		"  - name: b\n"
		"    clients: [\"11.0.0.0/8\"]\n"
		"    rate_limit: {qps: 5, tcp_burst: 7}\n"
		"  - name: c\n"
		"    clients: [\"12.0.0.0/8\"]\n"
		"    rate_limit: false\n");
	assert_true(f->snap->rate_limit_any);
	assert_int_equal(f->snap->server.rate_limit_slots, 100);
	r = &f->snap->view_rate_limit[0];
	assert_true(r->enabled);
	assert_int_equal(r->qps, 20);
	assert_int_equal(r->burst, 20);
	assert_int_equal(r->tcp_qps, 200);
	assert_int_equal(r->tcp_burst, 200);
	assert_int_equal(r->slip, 0);
	assert_int_equal(r->ipv4_prefix, 32);
	assert_int_equal(r->ipv6_prefix, 56);
	assert_int_equal(r->nallow, 1);
	r = &f->snap->view_rate_limit[1];
	assert_true(r->enabled);
	assert_int_equal(r->qps, 5);
	assert_int_equal(r->burst, 5);
	assert_int_equal(r->tcp_qps, 50);
	assert_int_equal(r->tcp_burst, 7);
	assert_int_equal(r->slip, 0);
	assert_int_equal(r->ipv4_prefix, 32);
	assert_int_equal(r->nallow, 1);
	assert_false(f->snap->view_rate_limit[2].enabled);
}

static void test_defaults(void **state)
{
	fixture_t *f = *state;
	const vd_server_conf_t *s;
	char host[256];

	load_ok(f, "server:\n"
		   "  listen: [\"127.0.0.1:5353\"]\n"
		   "views:\n"
		   "  - name: only\n"
		   "    clients: [\"0.0.0.0/0\"]\n"
		   "    zones: [\"a.zone\"]\n");
	s = &f->snap->server;
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(s->identity, host);
	assert_false(s->hide_version);
	assert_string_equal(s->version, "vpcdns " VD_VERSION);
	assert_int_equal(s->tcp_idle_timeout_ms, 10000);
	assert_int_equal(s->tcp_max_connections, 1000);
	assert_int_equal(s->tcp_max_connections_per_client, 100);
	assert_int_equal(s->tcp_io_timeout_ms, 2000);
	assert_int_equal(s->upstream_timeout_ms, 1500);
	assert_int_equal(s->log_level, VD_LOG_INFO);
	assert_int_equal(f->snap->ngroups, 0);
	/* Zone paths are relative to the config file's folder by default. */
	assert_int_equal(vd_view_nzones(f->snap->views[0]), 1);
	assert_non_null(
		strstr(vd_zone_path(vd_view_zone(f->snap->views[0], 0)), "/a.zone"));
	assert_int_equal(match(f->snap, "192.0.2.1"), 0);
	assert_int_equal(match(f->snap, "2001:db8::1"), -1);
	assert_null(route(f->snap->views[0], "www.example.com.", UINT_MAX));
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint32_t ms;
	} cases[] = {
		{ "1", 1000 },
		{ "1s", 1000 },
		{ "1ms", 1 },
		{ "3m", 180000 },
		{ "\"45s\"", 45000 },
		{ "4294967ms", 4294967 },
		{ "71582m", 4294920000u },
	};
	fixture_t *f = *state;
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "server:\n"
			 "  listen: [\"127.0.0.1:5353\"]\n"
			 "  tcp_idle_timeout: %s\n"
			 "  upstream_timeout: %s\n"
			 "  hide_version: %s\n"
			 "views: [ { name: v, clients: [\"::/0\"] } ]\n",
			 cases[i].text, cases[i].text, i % 2 ? "no" : "true");
		load_ok(f, text);
		assert_int_equal(f->snap->server.tcp_idle_timeout_ms, cases[i].ms);
		assert_int_equal(f->snap->server.upstream_timeout_ms, cases[i].ms);
		assert_int_equal(f->snap->server.hide_version, i % 2 == 0);
	}
}

/* Arrays that grow past their first allocation; an absolute directory. */
static void test_larger(void **state)
{
	fixture_t *f = *state;
	char text[2048], name[64], apex[64];
	const vd_view_t *v;

	subdir_new(f->dir, "many");
	for (int i = 9; i >= 0; i--) {
		snprintf(name, sizeof(name), "many/z%d.zone", i);
		snprintf(apex, sizeof(apex), "z%d.example.", i);
		zone_write(f, name, apex, "");
	}
	snprintf(text, sizeof(text),
		 "server:\n"
		 "  listen: [\"127.0.0.1:5353\"]\n"
		 "  directory: \"%s\"\n"
		 "upstreams:\n"
		 "  g: [\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\", "
		 "\"127.0.0.1:4\",\n"
		 "      \"127.0.0.1:5\", \"127.0.0.1:6\", \"system\"]\n"
		 "views:\n"
		 "  - name: v\n"
		 "    clients: [\"127.0.0.0/8\"]\n"
		 "    zones: [\"many\", \"a.zone\"]\n"
		 "    forward: { z1.example: g, z2.example: g, a.z3.example: g, x.: g, "
		 "y.: g }\n",
		 f->dir);
	load_ok(f, text);
	assert_int_equal(f->snap->groups[0].nservers, 8);
	assert_int_equal(port_of(&f->snap->groups[0].servers[5].addr), 6);
	assert_string_equal(f->snap->groups[0].servers[7].text, "::1");
	v = f->snap->views[0];
	assert_int_equal(vd_view_nzones(v), 11);
	for (int i = 0; i < 10; i++) {
		snprintf(apex, sizeof(apex), "z%d.example.", i);
		assert_true(name_is(vd_zone_apex(vd_view_zone(v, i)), apex));
		snprintf(name, sizeof(name), "www.z%d.example.", i);
		assert_ptr_equal(vd_view_route_zone(route(v, name, UINT_MAX)),
				 vd_view_zone(v, i));
	}
	assert_true(name_is(vd_zone_apex(vd_view_zone(v, 10)), "a.example."));
	assert_int_equal(vd_view_route_group(route(v, "www.z1.example.", UINT_MAX)), 0);
	assert_int_equal(vd_view_route_group(route(v, "www.z3.example.", UINT_MAX)),
			 -1);
	assert_int_equal(vd_view_route_group(route(v, "www.a.z3.example.", UINT_MAX)),
			 0);
	assert_null(route(v, "www.z3.example.", 1));
	assert_int_equal(vd_view_route_group(route(v, "y.", UINT_MAX)), 0);
}

static void test_example_config(void **state)
{
	fixture_t *f = *state;
	vd_snap_t *s = NULL;
	const vd_view_t *v;

	assert_int_equal(vd_conf_load(VD_SOURCE_DIR "/conf/vpcdns.yaml", &s, &f->errs),
			 0);
	assert_int_equal(s->nviews, 3);
	v = s->views[0];
	assert_string_equal(vd_view_name(v), "vpc-0a1b2c3d4e5f60718");
	assert_string_equal(vd_view_vpc_id(v), "vpc-0a1b2c3d4e5f60718");
	assert_string_equal(vd_view_account_id(v), "111122223333");
	assert_string_equal(vd_view_region(v), "us-east-1");
	/* The on-premises view serves the first VPC's zones through include. */
	assert_int_equal(vd_view_nincludes(s->views[2]), 1);
	assert_ptr_equal(
		vd_view_route_zone(
			route(s->views[2], "ec2.us-east-1.amazonaws.com.", UINT_MAX)),
		vd_view_route_zone(route(v, "ec2.us-east-1.amazonaws.com.", UINT_MAX)));
	assert_int_equal(vd_view_nzones(v), 4);
	assert_int_equal(vd_view_nzones(s->views[1]), 1);
	/* Same apex, different files: not shared. */
	assert_ptr_not_equal(vd_view_zone(v, 0), vd_view_zone(s->views[1], 0));
	assert_true(
		name_is(vd_view_route_name(route(v, "www.corp.internal.", UINT_MAX)),
			"corp.internal."));
	assert_int_equal(vd_view_route_group(route(v, "x.corp.example.", UINT_MAX)), 1);
	assert_int_equal(
		vd_view_route_group(route(s->views[1], "www.corp.internal.", UINT_MAX)),
		0);
	vd_snap_unref(s);
}

static void test_refs_and_listen(void **state)
{
	fixture_t *f = *state;
	vd_snap_t *a, *b;

	load_ok(f, "server: { listen: [\"127.0.0.1:5353\", \"[::1]:5353\"] }\n"
		   "views: [ { name: v, clients: [\"::/0\"] } ]\n");
	a = f->snap;
	vd_snap_ref(a);
	assert_int_equal(vd_snap_refs(a), 2);
	vd_snap_unref(a);
	assert_int_equal(vd_snap_refs(a), 1);
	f->snap = NULL;
	load_ok(f, "server: { listen: [\"[::1]:5353\", \"127.0.0.1:5353\"] }\n"
		   "views: [ { name: v, clients: [\"::/0\"] } ]\n");
	b = f->snap;
	assert_true(vd_conf_same_listen(&a->server, &b->server));
	assert_true(vd_conf_same_listen(&a->server, &a->server));
	f->snap = NULL;
	load_ok(f, "server: { listen: [\"[::1]:5353\", \"127.0.0.1:5354\"] }\n"
		   "views: [ { name: v, clients: [\"::/0\"] } ]\n");
	assert_false(vd_conf_same_listen(&a->server, &f->snap->server));
	vd_snap_unref(f->snap);
	f->snap = NULL;
	load_ok(f, "server: { listen: [\"[::1]:5353\"] }\n"
		   "views: [ { name: v, clients: [\"::/0\"] } ]\n");
	assert_false(vd_conf_same_listen(&a->server, &f->snap->server));
	assert_false(vd_conf_same_listen(&f->snap->server, &a->server));
	vd_snap_unref(a);
	vd_snap_unref(b);
}

/* ---- "system" upstreams ------------------------------------------------- */

static void test_system(void **state)
{
	fixture_t *f = *state;
	static const char conf[] =
		"server: { listen: [\"127.0.0.1:5353\"] }\n"
		"upstreams:\n"
		"  a: [\"127.0.0.3\", \"system\"]\n"
		"  b: [\"system\"]\n"
		"views: [ { name: v, clients: [\"::/0\"], forward: { \".\": b } } ]\n";
	char out[512];

	load_ok(f, conf);
	assert_int_equal(f->snap->groups[0].nservers, 3);
	assert_string_equal(f->snap->groups[0].servers[2].text, "::1");
	assert_int_equal(f->snap->groups[1].nservers, 2);
	assert_int_equal(vd_view_route_group(route(f->snap->views[0], "x.", UINT_MAX)),
			 1);

	file_write(f->dir, "resolv.conf", "search x\n# nameserver 127.0.0.1\n", out);
	assert_int_equal(load(f, conf), VD_ECONF);
	assert_null(f->snap);
	assert_err(&f->errs, f->path, 3,
		   "upstreams.a: 'system': no nameserver found in");
	assert_err(&f->errs, f->path, 4,
		   "upstreams.b: 'system': no nameserver found in");

	unlink(f->resolv);
	assert_int_equal(load(f, conf), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "'system': cannot read");
	assert_err(&f->errs, f->path, 4, "No such file or directory");
}

/* ---- errors ------------------------------------------------------------- */

#define SERVER "server:\n  listen: [\"127.0.0.1:5353\"]\n"	    /* 2 lines */
#define UPS "upstreams:\n  up: [\"127.0.0.1:5301\"]\n"		    /* 2 lines */
#define VIEW "views:\n  - name: v\n    clients: [\"10.0.0.0/8\"]\n" /* 3 lines */

#define LONG16 "0123456789abcdef"
#define LONG256                                                                      \
	LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 \
		LONG16 LONG16 LONG16 LONG16 LONG16

typedef struct err_case {
	const char *yaml;
	unsigned long line;
	const char *needle;
} err_case_t;

static const err_case_t err_cases[] = {
	/* keys */
	{ "server:\n  listen: [\"127.0.0.1\"]\n  foo: 1\n" UPS VIEW, 3,
	  "unknown key 'foo' in server" },
	{ SERVER UPS VIEW "extra: 1\n", 8, "unknown key 'extra' at top level" },
	{ SERVER UPS VIEW "    colour: red\n", 8, "unknown key 'colour' in views[0]" },
	{ SERVER UPS VIEW "    zones:\n      - path: a.zone\n        mode: x\n", 10,
	  "unknown key 'mode' in views[0].zones[0]" },
	{ SERVER "  Listen: [\"127.0.0.2\"]\n" UPS VIEW, 3,
	  "unknown key 'Listen' in server" },
	{ "server:\n  listen: [\"127.0.0.1\"]\n  listen: [\"127.0.0.2\"]\n" VIEW, 3,
	  "duplicate key 'listen' (first at line 2)" },
	{ SERVER VIEW "    forward: { \".\": up, \".\": up }\n" UPS, 6,
	  "duplicate key '.' (first at line 6)" },
	/* http and server.log */
	{ SERVER UPS VIEW "http:\n  listen: [\"nope\"]\n", 9,
	  "http.listen: bad address 'nope'" },
	{ SERVER UPS VIEW "http:\n  listen: \"127.0.0.1\"\n", 9,
	  "http.listen must be a list of strings" },
	{ SERVER UPS VIEW "http:\n  port: 1\n", 9, "unknown key 'port' in http" },
	{ SERVER UPS VIEW "http:\n  max_connections: 5000\n", 9,
	  "http.max_connections must be 1 to 1024" },
	{ SERVER UPS VIEW "http:\n  per_view_metrics: maybe\n", 9,
	  "http.per_view_metrics must be true, false, yes or no" },
	{ SERVER UPS VIEW "http: [1]\n", 8, "http must be a map" },
	{ SERVER "  log: journal\n" UPS VIEW, 3, "server.log: bad value 'journal'" },
	/* missing keys, empty file, top level */
	{ "", 1, "empty file" },
	{ "# nothing\n", 1, "empty file" },
	{ "- a\n- b\n", 1, "the top level must be a map" },
	{ UPS VIEW, 1, "missing required key 'server'" },
	{ "server:\n  identity: x\n" VIEW, 1,
	  "missing required key 'listen' in server" },
	{ SERVER UPS, 1, "missing required key 'views'" },
	{ SERVER "views: []\n", 3, "views must be a non-empty list" },
	{ SERVER "views:\n  - just-a-string\n", 4, "views[0] must be a map" },
	{ SERVER "views:\n  - clients: [\"10.0.0.0/8\"]\n", 4,
	  "missing required key 'name' in views[0]" },
	{ SERVER "views:\n  - name: v\n", 4,
	  "missing required key 'clients' in views[0]" },
	{ SERVER VIEW "    zones:\n      - fallback: nxdomain\n", 7,
	  "missing required key 'path' in views[0].zones[0]" },
	/* types */
	{ "server:\n  listen: \"127.0.0.1\"\n" VIEW, 2,
	  "server.listen must be a list of strings" },
	{ "server:\n  listen: [[\"127.0.0.1\"]]\n" VIEW, 2,
	  "server.listen must be a list of strings" },
	{ "server:\n  listen: []\n" VIEW, 2, "server.listen must not be empty" },
	{ "server: [1]\n" VIEW, 1, "server must be a map" },
	{ SERVER "  identity: [a]\n" VIEW, 3, "server.identity must be a string" },
	{ SERVER "  version:\n" VIEW, 3, "server.version must be a string" },
	{ SERVER "  identity: " LONG256 "\n" VIEW, 3,
	  "server.identity must be at most 255 characters" },
	{ SERVER "  hide_version: maybe\n" VIEW, 3,
	  "server.hide_version must be true, false, yes or no" },
	{ SERVER "  rate_limit: {burst: 5}\n" VIEW, 3,
	  "server.rate_limit.qps is required" },
	{ SERVER "  rate_limit: true\n" VIEW, 3,
	  "server.rate_limit must be false or a map with at least qps" },
	{ SERVER "  rate_limit: {qps: 10, tcp_qps: 5}\n" VIEW, 3,
	  "server.rate_limit.tcp_qps must be at least qps (10)" },
	{ SERVER "  rate_limit: {qps: 10, ipv4_prefix: 33}\n" VIEW, 3,
	  "server.rate_limit.ipv4_prefix must be at most 32" },
	{ SERVER "  rate_limit: {qps: 10, qpm: 3}\n" VIEW, 3,
	  "unknown key 'qpm' in server.rate_limit" },
	{ SERVER "  rate_limit:\n    qps: 10\n    allow: [\"10.0.0.1/8\"]\n" VIEW, 5,
	  "server.rate_limit.allow: bad CIDR '10.0.0.1/8'" },
	{ SERVER "  rate_limit: {qps: 10, slip: 101}\n" VIEW, 3,
	  "server.rate_limit.slip must be at most 100" },
	{ SERVER "  rate_limit: {qps: 2000000}\n" VIEW, 3,
	  "server.rate_limit.qps must be at most 1000000" },
	{ SERVER VIEW "    rate_limit: {table_size: 10}\n", 6,
	  "unknown key 'table_size' in views[0].rate_limit" },
	{ SERVER "  tcp_max_connections: 0\n" VIEW, 3,
	  "server.tcp_max_connections must be an integer > 0" },
	{ SERVER "  tcp_max_connections: 12k\n" VIEW, 3,
	  "server.tcp_max_connections must be an integer > 0" },
	{ SERVER "  tcp_max_connections_per_client: 0\n" VIEW, 3,
	  "server.tcp_max_connections_per_client must be an integer > 0" },
	{ SERVER "  tcp_io_timeout: 0s\n" VIEW, 3,
	  "server.tcp_io_timeout: bad duration '0s'" },
	{ SERVER "  log_level: verbose\n" VIEW, 3,
	  "server.log_level: bad level 'verbose'" },
	{ SERVER "  zone_file_max_size: 0\n" VIEW, 3,
	  "server.zone_file_max_size must be > 0" },
	{ SERVER "  zone_file_max_size: lots\n" VIEW, 3,
	  "server.zone_file_max_size: bad size 'lots'" },
	{ SERVER "  zone_file_max_size: 65GiB\n" VIEW, 3,
	  "server.zone_file_max_size: bad size '65GiB' (bytes, or <n>KiB, <n>MiB, "
	  "<n>GiB; at most 64GiB)" },
	{ SERVER "  control_socket: run/vpcdns.sock\n" VIEW, 3,
	  "server.control_socket must be an absolute path or \"\"" },
	{ SERVER "  control_socket: [a]\n" VIEW, 3,
	  "server.control_socket must be a string" },
	{ SERVER
	  "  control_socket: /tmp/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n" VIEW,
	  3, "server.control_socket must be at most 107 characters" },
	{ SERVER "upstreams: [\"127.0.0.1\"]\n" VIEW, 3,
	  "upstreams must be a map of group names to lists of servers" },
	{ SERVER "upstreams:\n  up: \"127.0.0.1\"\n" VIEW, 4,
	  "upstreams.up must be a list of strings" },
	{ SERVER
	  "upstreams:\n  up:\n    servers: [\"127.0.0.1\"]\n    use_0x20: maybe\n" VIEW,
	  6, "upstreams.up.use_0x20 must be true, false, yes or no" },
	{ SERVER "upstreams:\n  up:\n    use_0x20: false\n" VIEW, 4,
	  "missing required key 'servers' in upstreams.up" },
	{ SERVER "upstreams:\n  up:\n    servers: [\"127.0.0.1\"]\n    case: no\n" VIEW,
	  6, "unknown key 'case' in upstreams.up" },
	{ SERVER "upstreams:\n  up:\n    servers: \"127.0.0.1\"\n" VIEW, 5,
	  "upstreams.up.servers must be a list of strings" },
	{ SERVER "upstreams:\n  up:\n    servers: []\n" VIEW, 5,
	  "upstream group 'up' has no servers" },
	{ SERVER "views:\n  - name: v\n    clients: \"10.0.0.0/8\"\n", 5,
	  "views[0].clients must be a list of strings" },
	{ SERVER "views:\n  - name: v\n    clients: []\n", 5,
	  "views[0].clients must not be empty" },
	{ SERVER "views:\n  - name: [v]\n    clients: [\"10.0.0.0/8\"]\n", 4,
	  "views[0].name must be a string" },
	{ SERVER "views:\n  - name: \"\"\n    clients: [\"10.0.0.0/8\"]\n", 4,
	  "views[0].name must not be empty" },
	{ SERVER VIEW "    zones: \"a.zone\"\n", 6, "views[0].zones must be a list" },
	{ SERVER VIEW "    zones: [[\"a.zone\"]]\n", 6,
	  "views[0].zones[0] must be a path or a map with a path" },
	{ SERVER VIEW "    forward: [\".\"]\n", 6,
	  "views[0].forward must be a map of names to upstream groups" },
	{ SERVER UPS VIEW "    forward:\n      \".\": [up]\n", 9,
	  "views[0].forward['.'] must be a group name" },
	/* values */
	{ "server:\n  listen:\n    - 127.0.0.1\n    - 300.1.1.1:53\n" VIEW, 4,
	  "server.listen: bad address '300.1.1.1:53'" },
	{ "server:\n  listen: [\"127.0.0.1\", \"127.0.0.1:53\"]\n" VIEW, 2,
	  "server.listen: duplicate address '127.0.0.1:53' (first at line 2)" },
	{ SERVER "  tcp_idle_timeout: 10x\n" VIEW, 3,
	  "server.tcp_idle_timeout: bad duration '10x'" },
	{ SERVER "  tcp_idle_timeout: 0s\n" VIEW, 3, "bad duration '0s'" },
	{ SERVER "  upstream_timeout: 5w\n" VIEW, 3,
	  "server.upstream_timeout: bad duration '5w'" },
	{ SERVER "  upstream_timeout: -1\n" VIEW, 3, "bad duration '-1'" },
	{ SERVER "  upstream_timeout: 4294968s\n" VIEW, 3, "bad duration '4294968s'" },
	{ SERVER "  upstream_timeout: 1.5s\n" VIEW, 3, "bad duration '1.5s'" },
	{ SERVER "  upstream_timeout: [1s]\n" VIEW, 3,
	  "server.upstream_timeout must be a duration" },
	{ SERVER "  directory: nowhere\n" VIEW, 3,
	  "server.directory: cannot use 'nowhere': No such file or directory" },
	{ SERVER "  directory: a.zone\n" VIEW, 3,
	  "server.directory: cannot use 'a.zone': Not a directory" },
	{ SERVER "upstreams:\n  up:\n    - 127.0.0.1\n    - nameserver.example\n" VIEW,
	  6, "upstreams.up: bad address 'nameserver.example'" },
	{ SERVER "upstreams:\n  up: [\"127.0.0.1:5301\"]\n  empty: []\n" VIEW, 5,
	  "upstream group 'empty' has no servers" },
	{ SERVER "upstreams:\n  self: [\"127.0.0.2\", \"127.0.0.1:5353\"]\n" VIEW, 4,
	  "upstreams.self: '127.0.0.1:5353' is one of our listen addresses" },
	{ SERVER "views:\n  - name: v\n    clients: [\"10.0.0.1/8\"]\n", 5,
	  "views[0].clients: bad CIDR '10.0.0.1/8'" },
	{ SERVER "views:\n  - name: v\n    clients:\n      - 10.0.0.0/8\n      - "
		 "2001:db8::/129\n",
	  7, "views[0].clients: bad CIDR '2001:db8::/129'" },
	{ SERVER
	  "views:\n  - name: v\n    clients: [\"10.0.0.0/8\", \"10.0.0.0/08\"]\n",
	  5, "views[0].clients: '10.0.0.0/08' is listed twice (first at line 5)" },
	{ SERVER VIEW "  - name: v\n    clients: [\"10.1.0.0/16\"]\n", 6,
	  "duplicate view name 'v' (first at line 4)" },
	{ SERVER VIEW
	  "  - name: w\n    clients:\n      - 10.1.0.0/16\n      - 10.0.0.0/8\n",
	  9, "client prefix '10.0.0.0/8' is in two views: 'v' (line 5) and 'w'" },
	{ SERVER VIEW "  - name: w\n    clients: [\"::ffff:10.0.0.0/104\"]\n", 7,
	  "client prefix '::ffff:10.0.0.0/104' is in two views: 'v' (line 5) and 'w'" },
	{ SERVER UPS VIEW "    forward:\n      \".\": nope\n", 9,
	  "unknown upstream group 'nope' in forward rule '.'" },
	{ SERVER UPS VIEW "    forward:\n      \"a..b\": up\n", 9,
	  "views[0].forward: bad name 'a..b'" },
	{ SERVER UPS VIEW
	  "    forward:\n      \"Corp.Example\": up\n      \"corp.example.\": up\n",
	  10,
	  "views[0].forward: duplicate rule for 'corp.example.' (first at line 9)" },
	{ SERVER UPS VIEW "    forward:\n      x: nope\n      X.: up\n", 10,
	  "views[0].forward: duplicate rule for 'X.' (first at line 9)" },
	{ SERVER VIEW "    zones:\n      - path: a.zone\n        fallback: never\n", 8,
	  "views[0].zones[0].fallback must be forward or nxdomain" },
	{ SERVER VIEW
	  "    zones:\n      - path: a.zone\n        origin: \"a..example\"\n",
	  8, "views[0].zones[0].origin: bad name 'a..example'" },
	{ SERVER VIEW
	  "    zones:\n      - path: data/shared\n        origin: \"a.example\"\n",
	  7, "views[0].zones[0]: origin cannot be used with a folder ('data/shared')" },
	/* zones */
	{ SERVER VIEW "    zones: [\"missing.zone\"]\n", 6,
	  "views[0].zones[0]: cannot read zone 'missing.zone': No such file or "
	  "directory" },
	{ SERVER VIEW "    zones:\n      - a.zone\n      - path: missing/\n", 8,
	  "views[0].zones[1]: cannot read zone 'missing/': No such file or directory" },
	{ SERVER VIEW "    zones: [\"a.zone/\"]\n", 6,
	  "cannot read zone 'a.zone/': Not a directory" },
	{ SERVER VIEW "    zones: [\"/dev/null\"]\n", 6,
	  "cannot read zone '/dev/null': not a file or folder" },
	{ SERVER VIEW "    zones:\n      - a.zone\n      - a2.zone\n", 8,
	  "views[0].zones[1]: two zones for 'a.example.' in view 'v'" },
	{ SERVER VIEW "    zones:\n      - data/shared\n      - a.zone\n", 8,
	  "two zones for 'a.example.' in view 'v'" },
	{ SERVER VIEW "    zones:\n      - a.zone\n      - { path: bad.zone, fallback: "
		      "nxdomain }\n",
	  8, "views[0].zones[1]: zone '" },
	/* upstreams over TLS and the server keys that go with them */
	{ SERVER "upstreams:\n  up:\n    - 127.0.0.1\n    - tls://dns.example\n" VIEW,
	  6,
	  "upstreams.up: bad TLS server 'tls://dns.example' "
	  "(tls://<address>[:port][#name])" },
	{ SERVER "upstreams:\n  up: [\"tls://\"]\n" VIEW, 4,
	  "upstreams.up: bad TLS server 'tls://'" },
	{ SERVER "upstreams:\n  up: [\"tls://#dns.example\"]\n" VIEW, 4,
	  "upstreams.up: bad TLS server 'tls://#dns.example'" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1:99999#dns.example\"]\n" VIEW, 4,
	  "bad TLS server 'tls://127.0.0.1:99999#dns.example'" },
	{ SERVER "upstreams:\n  up: [\"TLS://127.0.0.1\"]\n" VIEW, 4,
	  "upstreams.up: bad address 'TLS://127.0.0.1'" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1#\"]\n" VIEW, 4,
	  "upstreams.up: bad TLS name '' in 'tls://127.0.0.1#'" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1#dns example\"]\n" VIEW, 4,
	  "bad TLS name 'dns example'" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1#a..example\"]\n" VIEW, 4,
	  "bad TLS name 'a..example'" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1#127.0.0.1\"]\n" VIEW, 4,
	  "bad TLS name '127.0.0.1' in 'tls://127.0.0.1#127.0.0.1' (a host name; leave "
	  "out '#' to verify the address)" },
	{ SERVER "upstreams:\n  up: [\"tls://127.0.0.1#" LONG16 LONG16 LONG16 LONG16
		 ".example\"]\n" VIEW,
	  4, "bad TLS name '" LONG16 },
	{ SERVER "upstreams:\n  self: [\"tls://127.0.0.1:5353\"]\n" VIEW, 4,
	  "upstreams.self: 'tls://127.0.0.1:5353' is one of our listen addresses" },
	{ SERVER "  query_timeout: 0\n" VIEW, 3,
	  "server.query_timeout: bad duration '0'" },
	{ SERVER "  query_timeout: [3s]\n" VIEW, 3,
	  "server.query_timeout must be a duration" },
	{ SERVER "  upstream_max_inflight: 0\n" VIEW, 3,
	  "server.upstream_max_inflight must be an integer > 0" },
	{ SERVER "  upstream_max_inflight: -5\n" VIEW, 3,
	  "server.upstream_max_inflight must be an integer > 0" },
	{ SERVER "  max_pending: 0\n" VIEW, 3,
	  "server.max_pending must be an integer > 0" },
	{ SERVER "  max_pending_per_fetch: many\n" VIEW, 3,
	  "server.max_pending_per_fetch must be an integer > 0" },
	{ SERVER "  tls_ca_file: [ca.pem]\n" VIEW, 3,
	  "server.tls_ca_file must be a string" },
	{ SERVER "  tls_ca_file: missing.pem\n" VIEW, 3,
	  "server.tls_ca_file: cannot read 'missing.pem': No such file or directory" },
	{ SERVER "  tls_ca_file: a.zone\n" VIEW, 3,
	  "server.tls_ca_file: no PEM certificate in 'a.zone'" },
	{ SERVER "  tls_ca_file:\n    ca.pem\n" VIEW, 4,
	  "server.tls_ca_file: cannot read 'ca.pem'" },
	/* syntax */
	{ SERVER "views: [ { name: v, clients: [\"10.0.0.0/8\"] }\n", 4,
	  "YAML syntax error: " },
	{ SERVER "  identity: a: b\n" VIEW, 3,
	  "YAML syntax error: mapping values are not allowed in this context" },
	{ SERVER "\tidentity: x\n" VIEW, 3,
	  "YAML syntax error: found character that cannot start any token" },
};

static void test_errors(void **state)
{
	fixture_t *f = *state;

	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const err_case_t *c = &err_cases[i];
		int r = load(f, c->yaml);

		if (r != VD_ECONF || !err_has(&f->errs, f->path, c->line, c->needle)) {
			print_message("case %zu: result %d, errors:\n", i, r);
			errs_print(&f->errs);
			fail_msg("expected %s:%lu: ...%s...", f->path, c->line,
				 c->needle);
		}
		assert_null(f->snap);
	}
}

static void test_zone_errors_passed(void **state)
{
	fixture_t *f = *state;
	char real[600];

	assert_int_equal(load(f, SERVER VIEW
			      "    zones:\n      - bad.zone\n"
			      "  - name: w\n    clients: [\"10.1.0.0/16\"]\n"
			      "    zones: [\"bad.zone\"]\n"),
			 VD_ECONF);
	snprintf(real, sizeof(real), "%s/bad.zone", f->dir);
	/* The zone loader's own message, with the zone file's line ... */
	assert_err(&f->errs, real, 4, "");
	/* ... and where the config names it, reported once for both views. */
	assert_err(&f->errs, f->path, 7, "views[0].zones[0]: zone '");
	assert_false(err_has(&f->errs, f->path, 10, "zone '"));
}

/* One pass reports every independent problem. */
static void test_many_errors(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(load(f, "server:\n"
				 "  listen: [\"127.0.0.1:99999\"]\n"
				 "  tcp_idle_timeout: soon\n"
				 "  bogus: 1\n"
				 "upstreams:\n" /* 5 */
				 "  up: []\n"
				 "views:\n"
				 "  - name: v\n"
				 "    clients: [\"10.0.0.1/8\"]\n"
				 "    zones: [\"missing.zone\"]\n" /* 10 */
				 "    forward: { \".\": up, \"x\": nope }\n"
				 "  - name: v\n"
				 "    clients: [\"::1\"]\n"
				 "    extra: true\n"),
			 VD_ECONF);
	assert_err(&f->errs, f->path, 2, "bad address '127.0.0.1:99999'");
	assert_err(&f->errs, f->path, 3, "bad duration 'soon'");
	assert_err(&f->errs, f->path, 4, "unknown key 'bogus' in server");
	assert_err(&f->errs, f->path, 6, "upstream group 'up' has no servers");
	assert_err(&f->errs, f->path, 9, "bad CIDR '10.0.0.1/8'");
	assert_err(&f->errs, f->path, 10, "cannot read zone 'missing.zone'");
	assert_err(&f->errs, f->path, 11,
		   "unknown upstream group 'nope' in forward rule 'x'");
	assert_err(&f->errs, f->path, 12, "duplicate view name 'v' (first at line 8)");
	assert_err(&f->errs, f->path, 14, "unknown key 'extra' in views[1]");
	/* The group exists though it is wrong: "." is not reported again. */
	assert_int_equal(f->errs.count, 9);
}

/* ---- DNS over TLS upstreams and the upstream limits ------------------- */

/* A throw-away self-signed certificate: only its PEM form matters here. */
static const char test_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBiDCCAS+gAwIBAgIUG3+GRCufZyOxbom40esWnajFRQAwCgYIKoZIzj0EAwIw\n"
	"GTEXMBUGA1UEAwwOdnBjZG5zIHRlc3QgQ0EwIBcNMjYxMTI2MDQxMzQ0WhgPMjEy\n"
	"NjExMDIwNDEzNDRaMBkxFzAVBgNVBAMMDnZwY2RucyB0ZXN0IENBMFkwEwYHKoZI\n"
	"zj0CAQYIKoZIzj0DAQcDQgAELcIHAqoJ4Kr39mvcKxgtdYVR4SGI78PiNgeu4wbq\n"
	"PdAf/P6qNFNBqKJrAlZM/th4H5n1bUSFWltGJAV4YnLD36NTMFEwHQYDVR0OBBYE\n"
	"FJZkvTsaspm82AHPGmuGryJiJlCMMB8GA1UdIwQYMBaAFJZkvTsaspm82AHPGmuG\n"
	"ryJiJlCMMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgLAjszWgk\n"
	"1qmDL/cofj49Tof8yYIGqeOhpkyB/UiQJP4CIAZCQ4DiP8x5fVGhh3b5xaHrw/m8\n"
	"I2RC5J0akSJHt3sK\n"
	"-----END CERTIFICATE-----\n";

static void test_tls_upstreams(void **state)
{
	fixture_t *f = *state;
	const vd_upstream_t *u;
	const vd_group_t *g;

	load_ok(f, "server:\n"
		   "  listen: [\"127.0.0.1:5353\"]\n"
		   "upstreams:\n"
		   "  mixed:\n"
		   "    - 127.0.0.1\n" /* 5 */
		   "    - tls://127.0.0.1#dns.example\n"
		   "    - \"tls://127.0.0.2:8853#Resolver-1.Example.\"\n"
		   "    - tls://[::1]\n"
		   "    - tls://[::1]:8853\n"
		   "    - tls://127.0.0.3:853\n" /* 10 */
		   "  plain: [\"127.0.0.3:853\"]\n"
		   "views:\n"
		   "  - name: v\n"
		   "    clients: [\"10.0.0.0/8\"]\n");
	g = &f->snap->groups[0];
	assert_int_equal(g->nservers, 6);
	u = g->servers;
	assert_false(u[0].tls);
	assert_null(u[0].tls_name);
	assert_int_equal(port_of(&u[0].addr), 53);
	/* '#' without a space before it is not a YAML comment */
	assert_true(u[1].tls);
	assert_string_equal(u[1].tls_name, "dns.example");
	assert_string_equal(u[1].text, "tls://127.0.0.1#dns.example");
	assert_int_equal(port_of(&u[1].addr), VD_TLS_PORT);
	assert_true(u[2].tls);
	assert_string_equal(u[2].tls_name, "Resolver-1.Example.");
	assert_int_equal(port_of(&u[2].addr), 8853);
	assert_true(u[3].tls);
	assert_null(u[3].tls_name);
	assert_int_equal(u[3].addr.ss_family, AF_INET6);
	assert_int_equal(port_of(&u[3].addr), VD_TLS_PORT);
	assert_int_equal(port_of(&u[4].addr), 8853);
	assert_true(u[5].tls);
	assert_null(u[5].tls_name);
	/* the same address and port over TLS is another server */
	assert_false(f->snap->groups[1].servers[0].tls);
	assert_true(vd_addr_equal(
		(const struct sockaddr *)&u[5].addr,
		(const struct sockaddr *)&f->snap->groups[1].servers[0].addr));
	assert_int_not_equal(g->cache_id, f->snap->groups[1].cache_id);
}

static void test_upstream_limits(void **state)
{
	fixture_t *f = *state;
	const vd_server_conf_t *s;
	char out[512], want[PATH_MAX + 16], real[PATH_MAX];

	file_write(f->dir, "data/ca.pem", test_ca_pem, out);
	load_ok(f, "server:\n"
		   "  listen: [\"127.0.0.1:5353\"]\n"
		   "  query_timeout: 4500ms\n"
		   "  upstream_max_inflight: 20\n"
		   "  max_pending: 300\n"
		   "  max_pending_per_fetch: 30\n"
		   "  tls_ca_file: data/ca.pem\n"
		   "views:\n"
		   "  - name: v\n"
		   "    clients: [\"10.0.0.0/8\"]\n");
	s = &f->snap->server;
	assert_int_equal(s->query_timeout_ms, 4500);
	assert_int_equal(s->upstream_max_inflight, 20);
	assert_int_equal(s->max_pending, 300);
	assert_int_equal(s->max_pending_per_fetch, 30);
	/* relative to the configuration file, kept absolute */
	assert_non_null(realpath(f->dir, real));
	snprintf(want, sizeof(want), "%s/data/ca.pem", real);
	assert_non_null(s->tls_ca_file);
	assert_string_equal(s->tls_ca_file, want);

	load_ok(f, "server:\n  listen: [\"127.0.0.1:5353\"]\n"
		   "views:\n  - name: v\n    clients: [\"10.0.0.0/8\"]\n");
	s = &f->snap->server;
	assert_int_equal(s->query_timeout_ms, 3000);
	assert_int_equal(s->upstream_max_inflight, 1000);
	assert_int_equal(s->max_pending, 4096);
	assert_int_equal(s->max_pending_per_fetch, 256);
	assert_null(s->tls_ca_file);
}

/* server.zone_file_max_size: default, units, and a zone file over the
 * limit reported with its path before it is parsed. */
static void test_zone_file_max_size(void **state)
{
	fixture_t *f = *state;
	char real[600];

	load_ok(f, SERVER VIEW "    zones: [\"a.zone\"]\n");
	assert_int_equal(f->snap->server.zone_file_max_size, 64ull << 20);
	load_ok(f,
		SERVER "  zone_file_max_size: 2KiB\n" VIEW "    zones: [\"a.zone\"]\n");
	assert_int_equal(f->snap->server.zone_file_max_size, 2048);

	assert_int_equal(load(f, SERVER "  zone_file_max_size: 40\n" VIEW
					"    zones: [\"a.zone\"]\n"),
			 VD_ECONF);
	snprintf(real, sizeof(real), "%s/a.zone", f->dir);
	assert_err(&f->errs, real, 0, "file is ");
	assert_true(err_has(&f->errs, real, 0,
			    "more than the limit of 40 "
			    "(server.zone_file_max_size)"));
	assert_err(&f->errs, f->path, 7, "views[0].zones[0]: zone '");
}

/* server.control_socket: the compile-time default unless the file names
 * a path, or "" for none. */
static void test_control_socket(void **state)
{
	fixture_t *f = *state;

	load_ok(f, SERVER VIEW);
	assert_string_equal(f->snap->server.control_socket, VD_CONTROL_SOCKET);
	assert_false(f->snap->server.control_socket_set);
	load_ok(f, SERVER "  control_socket: /tmp/x/ctl.sock\n" VIEW);
	assert_string_equal(f->snap->server.control_socket, "/tmp/x/ctl.sock");
	assert_true(f->snap->server.control_socket_set);
	load_ok(f, SERVER "  control_socket: \"\"\n" VIEW);
	assert_string_equal(f->snap->server.control_socket, "");
	assert_true(f->snap->server.control_socket_set);
}

/* 64 servers are fine; the 65th is reported once, at its line. */
static void test_group_size_limit(void **state)
{
	fixture_t *f = *state;
	char yaml[8192];
	size_t off;
	int i;

	off = (size_t)snprintf(yaml, sizeof(yaml), "%s", SERVER "upstreams:\n  big:\n");
	for (i = 0; i < VD_GROUP_MAX_SERVERS; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
					"    - 127.0.1.%d\n", i + 1);
	snprintf(yaml + off, sizeof(yaml) - off, "%s", VIEW);
	load_ok(f, yaml);
	assert_int_equal(f->snap->groups[0].nservers, VD_GROUP_MAX_SERVERS);

	off = (size_t)snprintf(yaml, sizeof(yaml), "%s", SERVER "upstreams:\n  big:\n");
	for (i = 0; i < VD_GROUP_MAX_SERVERS + 3; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
					"    - tls://127.0.1.%d#dns.example\n", i + 1);
	snprintf(yaml + off, sizeof(yaml) - off, "%s", VIEW);
	assert_int_equal(load(f, yaml), VD_ECONF);
	/* servers start at line 5: the 65th is on line 69 */
	assert_err(&f->errs, f->path, 5 + VD_GROUP_MAX_SERVERS,
		   "upstreams.big: more than 64 servers");
	assert_int_equal(f->errs.count, 1);
}

/* The service keys: defaults, accounts that exist, 0 for no lameduck,
 * and errors at their lines. */
static void test_service_keys(void **state)
{
	fixture_t *f = *state;
	const vd_server_conf_t *s;

	load_ok(f, SERVER VIEW);
	s = &f->snap->server;
	assert_null(s->user);
	assert_null(s->group);
	assert_int_equal(s->lameduck_ms, 0);
	assert_int_equal(s->shutdown_timeout_ms, 3000);

	load_ok(f, SERVER "  user: root\n  group: root\n  lameduck: 2s\n"
			  "  shutdown_timeout: 500ms\n" VIEW);
	s = &f->snap->server;
	assert_string_equal(s->user, "root");
	assert_string_equal(s->group, "root");
	assert_int_equal(s->lameduck_ms, 2000);
	assert_int_equal(s->shutdown_timeout_ms, 500);
	load_ok(f, SERVER "  lameduck: 0\n" VIEW);
	assert_int_equal(f->snap->server.lameduck_ms, 0);

	assert_int_equal(load(f, SERVER "  user: no-such-user-vd\n" VIEW), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "server.user: no such user 'no-such-user-vd'");
	assert_int_equal(load(f,
			      SERVER "  user: root\n  group: no-such-group-vd\n" VIEW),
			 VD_ECONF);
	assert_err(&f->errs, f->path, 4,
		   "server.group: no such group 'no-such-group-vd'");
	assert_int_equal(load(f, SERVER "  group: root\n" VIEW), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "server.group needs server.user");
	assert_int_equal(load(f, SERVER "  lameduck: soon\n" VIEW), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "server.lameduck: bad duration 'soon'");
	assert_int_equal(load(f, SERVER "  shutdown_timeout: 0s\n" VIEW), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "server.shutdown_timeout: bad duration '0s'");
	assert_int_equal(load(f, SERVER "  user: [a]\n" VIEW), VD_ECONF);
	assert_err(&f->errs, f->path, 3, "server.user must be a string");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_null_args),
		T(test_server),
		T(test_groups),
		T(test_group_options),
		T(test_views),
		T(test_zone_sharing),
		T(test_routing),
		T(test_rate_limit),
		T(test_defaults),
		T(test_durations),
		T(test_larger),
		T(test_example_config),
		T(test_refs_and_listen),
		T(test_system),
		T(test_errors),
		T(test_zone_errors_passed),
		T(test_many_errors),
		T(test_tls_upstreams),
		T(test_upstream_limits),
		T(test_group_size_limit),
		T(test_zone_file_max_size),
		T(test_control_socket),
		T(test_service_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
