/*
 * Unit tests of what the link pass builds after every view is read:
 * includes (hub and spoke, own zones winning, cycles and unknown names),
 * subnets with AZ IDs (inline and from a file), per-record AZs of
 * endpoint RRsets, the reverse map of regional vpce names, and the cache
 * section.
 */
#include "conf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"

static char dir[64];

static const char *ZONE_HUB = "$ORIGIN ec2.us-east-1.amazonaws.com.\n$TTL 60\n"
			      "@ SOA ns hm 1 3600 600 86400 60\n"
			      "@ A 10.0.1.10\n@ A 10.0.2.10\n@ A 10.0.3.10\n";
static const char *ZONE_SPOKE = "$ORIGIN ec2.us-east-1.amazonaws.com.\n$TTL 60\n"
				"@ SOA ns hm 1 3600 600 86400 60\n@ A 10.9.9.9\n";
static const char *ZONE_VPCE =
	"$ORIGIN vpce.amazonaws.com.\n$TTL 60\n"
	"@ SOA ns hm 1 3600 600 86400 60\n"
	"vpce-0123456789abcdef0-abcd1234.ec2.us-east-1 A 10.0.1.10\n"
	"vpce-0123456789abcdef0-abcd1234.ec2.us-east-1 A 10.0.2.10\n"
	"vpce-0123456789abcdef0-abcd1234-us-east-1a.ec2.us-east-1 A 10.0.1.10\n"
	"vpce-0123456789abcdef0-abcd1234.ec2.us-east-1 AAAA 2001:db8::10\n";
static const char *ZONE_S3 =
	"$ORIGIN s3.us-east-1.amazonaws.com.\n$TTL 60\n"
	"@ SOA ns hm 1 3600 600 86400 60\n@ A 10.0.1.20\n@ A 10.0.2.20\n";

static int setup(void **state)
{
	(void)state;
	char p[512];
	tmpdir_new(dir);
	file_write(dir, "hub.zone", ZONE_HUB, p);
	file_write(dir, "spoke.zone", ZONE_SPOKE, p);
	file_write(dir, "vpce.zone", ZONE_VPCE, p);
	file_write(dir, "s3.zone", ZONE_S3, p);
	file_write(dir, "subnets.yaml",
		   "# written by vpcdns-import\nsubnets:\n"
		   "  - cidr: 10.0.1.0/24\n    az_id: use1-az1\n    az: us-east-1a\n"
		   "    subnet_id: subnet-1\n"
		   "  - cidr: 10.0.2.0/24\n    az_id: use1-az2\n"
		   "  - cidr: 10.0.3.0/24\n    az_id: use1-az4\n",
		   p);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_rm(dir);
	return 0;
}

static int load(const char *text, vd_snap_t **snap, vd_errlist_t *errs, char *path)
{
	file_write(dir, "c.yaml", text, path);
	vd_errlist_init(errs);
	return vd_conf_load(path, snap, errs);
}

#define HEAD                                        \
	"server:\n  listen: [\"127.0.0.1:5399\"]\n" \
	"upstreams:\n  up: [\"127.0.0.1:5301\"]\n"

static const vd_view_route_t *route(const vd_view_t *v, const char *name)
{
	static uint8_t wire[VD_NAME_MAX];
	size_t len;
	assert_int_equal(vd_name_from_text(name, wire, &len), 0);
	return vd_view_route(v, wire, UINT32_MAX);
}

static struct sockaddr_storage ip(const char *text)
{
	struct sockaddr_storage ss;
	assert_int_equal(vd_addr_parse(text, 53, &ss), 0);
	return ss;
}

static void test_null(void **state)
{
	(void)state;
	uint8_t a[16] = { 0 };
	assert_int_equal(vd_view_client_az(NULL, NULL), -1);
	assert_null(vd_view_rrset_azs(NULL, NULL));
	assert_null(vd_view_ptr(NULL, AF_INET, a));
}

static void test_include_own_zones_win(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];
	int rc = load(HEAD "views:\n"
			   "  - name: hub\n    clients: [\"10.0.0.0/16\"]\n"
			   "    zones: [hub.zone, vpce.zone, s3.zone]\n"
			   "  - name: spoke\n    clients: [\"10.1.0.0/16\"]\n"
			   "    zones: [spoke.zone]\n    include: [hub]\n"
			   "    forward: {\".\": up}\n"
			   "  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			   "    include: [spoke]\n",
		      &s, &errs, path);
	errs_print(&errs);
	assert_int_equal(rc, 0);
	const vd_view_t *hub = vd_snap_view(s, "hub");
	const vd_view_t *spoke = vd_snap_view(s, "spoke");
	const vd_view_t *onprem = vd_snap_view(s, "onprem");
	assert_non_null(hub);
	assert_int_equal(vd_view_nincludes(spoke), 1);
	/* spoke's own ec2 zone wins over the hub's; s3 comes from the hub. */
	assert_ptr_equal(
		vd_view_route_zone(route(spoke, "ec2.us-east-1.amazonaws.com")),
		vd_view_zone(spoke, 0));
	assert_ptr_equal(vd_view_route_zone(route(spoke, "s3.us-east-1.amazonaws.com")),
			 vd_view_zone(hub, 2));
	assert_int_equal(vd_view_route_group(route(spoke, "example.org")), 0);
	/* Transitive: onprem -> spoke -> hub, and spoke's zone wins there too. */
	assert_int_equal(vd_view_nincludes(onprem), 2);
	assert_ptr_equal(
		vd_view_route_zone(route(onprem, "ec2.us-east-1.amazonaws.com")),
		vd_view_zone(spoke, 0));
	assert_ptr_equal(
		vd_view_route_zone(route(onprem, "s3.us-east-1.amazonaws.com")),
		vd_view_zone(hub, 2));
	/* Forward rules are not inherited. */
	assert_null(route(onprem, "example.org"));
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

/* Two VPCs' endpoint names share the vpce.amazonaws.com apex: a view
 * including both finds each name in the zone that holds it. */
static void test_include_same_apex(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];
	file_write(dir, "vpce2.zone",
		   "$ORIGIN vpce.amazonaws.com.\n$TTL 60\n"
		   "@ SOA ns hm 1 3600 600 86400 60\n"
		   "vpce-0fedcba9876543210-wxyz9876.ec2.us-east-1 A 10.1.1.10\n",
		   path);
	int rc = load(HEAD "views:\n"
			   "  - name: vpc1\n    clients: [\"10.0.0.0/16\"]\n    zones: "
			   "[vpce.zone]\n"
			   "  - name: vpc2\n    clients: [\"10.1.0.0/16\"]\n    zones: "
			   "[vpce2.zone]\n"
			   "  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			   "    include: [vpc1, vpc2]\n",
		      &s, &errs, path);
	errs_print(&errs);
	assert_int_equal(rc, 0);
	const vd_view_t *onprem = vd_snap_view(s, "onprem");
	const char *names[2] = {
		"vpce-0123456789abcdef0-abcd1234.ec2.us-east-1.vpce.amazonaws.com",
		"vpce-0fedcba9876543210-wxyz9876.ec2.us-east-1.vpce.amazonaws.com"
	};
	for (int i = 0; i < 2; i++) {
		const vd_view_route_t *e = route(onprem, names[i]);
		uint8_t lc[VD_NAME_MAX];
		size_t len;
		vd_name_from_text(names[i], lc, &len);
		vd_name_lower(lc, lc);
		const vd_rrset_t *rs = NULL;
		const vd_zone_t *z = NULL;
		bool wild;
		assert_non_null(e);
		assert_int_equal(vd_view_route_lookup(e, lc, VD_T_A, &rs, &wild, &z),
				 VD_ZL_ANSWER);
		assert_ptr_equal(
			z, vd_view_zone(vd_snap_view(s, i == 0 ? "vpc1" : "vpc2"), 0));
	}
	/* Both reverse maps are there too. */
	uint8_t a1[16] = { 10, 0, 1, 10 }, a2[16] = { 10, 1, 1, 10 };
	assert_non_null(vd_view_ptr(onprem, AF_INET, a1));
	assert_non_null(vd_view_ptr(onprem, AF_INET, a2));
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

static void test_include_errors(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];
	assert_int_equal(load(HEAD "views:\n"
				   "  - name: a\n    clients: [\"10.0.0.0/16\"]\n"
				   "    include: [nope, a]\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, path, 8, "view 'a' includes unknown view 'nope'");
	assert_err(&errs, path, 8, "view 'a' includes itself");
	vd_errlist_deinit(&errs);

	assert_int_equal(
		load(HEAD
		     "views:\n"
		     "  - name: a\n    clients: [\"10.0.0.0/16\"]\n    include: [b]\n"
		     "  - name: b\n    clients: [\"10.1.0.0/16\"]\n    include: [c]\n"
		     "  - name: c\n    clients: [\"10.2.0.0/16\"]\n    include: [a]\n",
		     &s, &errs, path),
		VD_ECONF);
	assert_err(&errs, path, 14, "include cycle: view 'c' includes 'a'");
	vd_errlist_deinit(&errs);

	assert_int_equal(
		load(HEAD
		     "views:\n"
		     "  - name: a\n    clients: [\"10.0.0.0/16\"]\n    include: b\n"
		     "  - name: b\n    clients: [\"10.1.0.0/16\"]\n",
		     &s, &errs, path),
		VD_ECONF);
	assert_err(&errs, path, 8, "include must be a list of view names");
	vd_errlist_deinit(&errs);
}

static void test_subnets_and_azs(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];
	int rc = load(
		HEAD
		"views:\n"
		"  - name: hub\n    clients: [\"10.0.0.0/16\"]\n"
		"    zones: [hub.zone, vpce.zone]\n    subnets: subnets.yaml\n"
		"    az_affinity: only\n"
		"  - name: spoke\n    clients: [\"10.1.0.0/16\"]\n    include: [hub]\n"
		"    subnets:\n      - { cidr: 10.1.3.0/24, az_id: use1-az4 }\n"
		"    explain: false\n",
		&s, &errs, path);
	errs_print(&errs);
	assert_int_equal(rc, 0);
	const vd_view_t *hub = vd_snap_view(s, "hub");
	const vd_view_t *spoke = vd_snap_view(s, "spoke");
	assert_int_equal(vd_view_az_affinity(hub), VD_AZ_ONLY);
	assert_int_equal(vd_view_az_affinity(spoke), VD_AZ_PREFER);
	assert_true(vd_view_explain(hub));
	assert_false(vd_view_explain(spoke));

	struct sockaddr_storage c = ip("10.0.2.77");
	int az = vd_view_client_az(hub, (struct sockaddr *)&c);
	assert_true(az >= 0);
	assert_string_equal(vd_view_az_id(hub, az), "use1-az2");
	c = ip("10.0.9.1");
	assert_int_equal(vd_view_client_az(hub, (struct sockaddr *)&c), -1);

	const vd_rrset_t *ec2 =
		vd_view_route_zone(route(hub, "ec2.us-east-1.amazonaws.com")) ? NULL
									      : NULL;
	(void)ec2;
	/* The hub's A RRset: 10.0.1.10 az1, 10.0.2.10 az2, 10.0.3.10 az4, in
	 * the zone's stored order (canonical). Found through the zone. */
	uint8_t apex[VD_NAME_MAX];
	size_t alen;
	vd_name_from_text("ec2.us-east-1.amazonaws.com", apex, &alen);
	const vd_rrset_t *rs = NULL;
	bool wild;
	assert_int_equal(vd_zone_lookup(vd_view_zone(hub, 0), apex, VD_T_A, &rs, &wild),
			 VD_ZL_ANSWER);
	const uint8_t *azs = vd_view_rrset_azs(hub, rs);
	assert_non_null(azs);
	for (unsigned i = 0; i < rs->count; i++) {
		char want[16];
		snprintf(want, sizeof(want), "use1-az%c",
			 rs->rdata[i][2] == 1	? '1'
			 : rs->rdata[i][2] == 2 ? '2'
						: '4');
		assert_string_equal(vd_view_az_id(hub, azs[i]), want);
	}
	/* The precomputed order for a client in each AZ: its record first,
	 * then the two others. */
	const vd_az_rrset_t *e = vd_view_rrset_az(hub, rs);
	assert_non_null(e);
	for (size_t k = 0; k < vd_view_naz(hub); k++) {
		const uint16_t *row = e->order + k * rs->count;
		assert_int_equal(e->nown[k], 1);
		assert_int_equal(azs[row[0]], k);
		assert_true(row[1] != row[0] && row[2] != row[0] && row[1] != row[2]);
	}
	/* The spoke sees the hub's addresses by the hub's subnets, and its
	 * own client subnet by its own: the same AZ ID matches across them. */
	const uint8_t *sazs = vd_view_rrset_azs(spoke, rs);
	assert_non_null(sazs);
	c = ip("10.1.3.5");
	int saz = vd_view_client_az(spoke, (struct sockaddr *)&c);
	assert_true(saz >= 0);
	assert_string_equal(vd_view_az_id(spoke, saz), "use1-az4");
	unsigned same = 0;
	for (unsigned i = 0; i < rs->count; i++)
		same += sazs[i] == saz;
	assert_int_equal(same, 1);
	/* A client of the hub's subnets is no client of the spoke's AZ map. */
	c = ip("10.0.1.5");
	assert_int_equal(vd_view_client_az(spoke, (struct sockaddr *)&c), -1);
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

static void test_ptr(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512], text[VD_NAME_TEXT];
	assert_int_equal(load(HEAD "views:\n"
				   "  - name: hub\n    clients: [\"10.0.0.0/16\"]\n"
				   "    zones: [vpce.zone, s3.zone]\n"
				   "  - name: other\n    clients: [\"10.5.0.0/16\"]\n",
			      &s, &errs, path),
			 0);
	const vd_view_t *hub = vd_snap_view(s, "hub");
	uint8_t a[16] = { 10, 0, 1, 10 };
	const uint8_t *n = vd_view_ptr(hub, AF_INET, a);
	assert_non_null(n);
	vd_name_to_text(n, text, sizeof(text));
	/* The regional name, not the zonal one that shares the address. */
	assert_string_equal(
		text,
		"vpce-0123456789abcdef0-abcd1234.ec2.us-east-1.vpce.amazonaws.com.");
	uint8_t v6[16];
	inet_pton(AF_INET6, "2001:db8::10", v6);
	assert_non_null(vd_view_ptr(hub, AF_INET6, v6));
	uint8_t s3[16] = { 10, 0, 1, 20 }; /* a private DNS name, not vpce */
	assert_null(vd_view_ptr(hub, AF_INET, s3));
	assert_null(vd_view_ptr(vd_snap_view(s, "other"), AF_INET, a));
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

/* vpc_id, account_id and region: optional strings kept for query logs;
 * a view without them has NULL. */
static void test_view_meta(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];

	assert_int_equal(load(HEAD "views:\n"
				   "  - name: a\n    clients: [\"10.0.0.0/16\"]\n"
				   "    vpc_id: vpc-0a1b2c3d4e5f60718\n"
				   "    account_id: \"111122223333\"\n"
				   "    region: us-east-1   # from --region\n"
				   "  - name: b\n    clients: [\"10.1.0.0/16\"]\n",
			      &s, &errs, path),
			 0);
	assert_int_equal(s->nviews, 2);
	assert_string_equal(vd_view_vpc_id(s->views[0]), "vpc-0a1b2c3d4e5f60718");
	assert_string_equal(vd_view_account_id(s->views[0]), "111122223333");
	assert_string_equal(vd_view_region(s->views[0]), "us-east-1");
	assert_null(vd_view_vpc_id(s->views[1]));
	assert_null(vd_view_account_id(s->views[1]));
	assert_null(vd_view_region(s->views[1]));
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

static void test_subnet_errors(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512], sub[512];
	assert_int_equal(load(HEAD
			      "views:\n"
			      "  - name: a\n    clients: [\"10.0.0.0/16\"]\n"
			      "    subnets:\n      - { cidr: 10.0.1.0/24 }\n"
			      "      - { cidr: 10.0.300.0/24, az_id: x }\n"
			      "      - { cidr: 10.0.2.0/24, az_id: x, colour: red }\n"
			      "    az_affinity: sometimes\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, path, 9, "a subnet needs 'az_id'");
	assert_err(&errs, path, 10, "bad subnet CIDR '10.0.300.0/24'");
	assert_err(&errs, path, 11, "unknown key in a subnet: 'colour'");
	assert_err(&errs, path, 12, "bad value 'sometimes' (prefer, only or off)");
	vd_errlist_deinit(&errs);

	file_write(dir, "bad-subnets.yaml",
		   "subnets:\n  - cidr: 10.0.1.0/24\n"
		   "    az_id: use1-az1\n  - cidr: 10.0.1.0/24\n    az_id: use1-az2\n",
		   sub);
	assert_int_equal(load(HEAD "views:\n"
				   "  - name: a\n    clients: [\"10.0.0.0/16\"]\n"
				   "    subnets: bad-subnets.yaml\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, "bad-subnets.yaml", 4,
		   "subnet listed with AZ 'use1-az1' and 'use1-az2'");
	vd_errlist_deinit(&errs);

	/* A list may mix files and inline subnets. */
	assert_int_equal(
		load(HEAD
		     "views:\n"
		     "  - name: a\n    clients: [\"10.0.0.0/16\", \"127.0.0.0/8\"]\n"
		     "    subnets: [subnets.yaml, {cidr: 127.0.0.5/32, az_id: "
		     "use1-az2}]\n",
		     &s, &errs, path),
		0);
	struct sockaddr_storage c = ip("127.0.0.5");
	const vd_view_t *a = vd_snap_view(s, "a");
	assert_string_equal(vd_view_az_id(a,
					  vd_view_client_az(a, (struct sockaddr *)&c)),
			    "use1-az2");
	c = ip("10.0.3.1");
	assert_string_equal(vd_view_az_id(a,
					  vd_view_client_az(a, (struct sockaddr *)&c)),
			    "use1-az4");
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);

	assert_int_equal(load(HEAD "views:\n"
				   "  - name: a\n    clients: [\"10.0.0.0/16\"]\n"
				   "    subnets: missing.yaml\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, path, 8, "cannot use subnets file 'missing.yaml'");
	vd_errlist_deinit(&errs);
}

static void test_cache_section(void **state)
{
	(void)state;
	vd_snap_t *s = NULL;
	vd_errlist_t errs;
	char path[512];
	assert_int_equal(
		load(HEAD "cache:\n  size: 8MiB\n  min_ttl: 5s\n  max_ttl: 2h\n"
			  "  max_negative_ttl: 10m\n  stale_max: 0\n  prefetch: no\n"
			  "views:\n  - name: a\n    clients: [\"10.0.0.0/16\"]\n",
		     &s, &errs, path),
		0);
	assert_int_equal(s->cache.size, 8u << 20);
	assert_int_equal(s->cache.min_ttl, 5);
	assert_int_equal(s->cache.max_ttl, 7200);
	assert_int_equal(s->cache.max_negative_ttl, 600);
	assert_int_equal(s->cache.stale_max, 0);
	assert_false(s->cache.prefetch);
	uint64_t id = s->groups[0].cache_id;
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);

	/* Defaults; the same group gets the same identity across loads, and
	 * another server list another one. */
	assert_int_equal(load(HEAD
			      "views:\n  - name: a\n    clients: [\"10.0.0.0/16\"]\n",
			      &s, &errs, path),
			 0);
	assert_int_equal(s->cache.size, 64u << 20);
	assert_int_equal(s->cache.max_ttl, 86400);
	assert_int_equal(s->cache.max_negative_ttl, 3600);
	assert_int_equal(s->cache.stale_max, 86400);
	assert_true(s->cache.prefetch);
	assert_true(s->groups[0].cache_id == id);
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
	assert_int_equal(load("server:\n  listen: [\"127.0.0.1:5399\"]\n"
			      "upstreams:\n  up: [\"127.0.0.1:5302\"]\n"
			      "views:\n  - name: a\n    clients: [\"10.0.0.0/16\"]\n",
			      &s, &errs, path),
			 0);
	assert_true(s->groups[0].cache_id != id);
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);

	assert_int_equal(load(HEAD
			      "cache:\n  size: lots\n  min_ttl: 2h\n  max_ttl: 1h\n"
			      "  ttl: 3\n"
			      "views:\n  - name: a\n    clients: [\"10.0.0.0/16\"]\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, path, 6, "cache.size: bad size 'lots'");
	assert_err(&errs, path, 5,
		   "cache.min_ttl (7200s) exceeds cache.max_ttl (3600s)");
	assert_err(&errs, path, 9, "unknown key 'ttl' in cache");
	vd_errlist_deinit(&errs);

	/* max_ttl 0 would cache negative answers only; sub-second TTLs do
	 * not exist. Both are errors that say what to write instead. */
	assert_int_equal(load(HEAD
			      "cache:\n  max_ttl: 0\n  min_ttl: 1500ms\n"
			      "views:\n  - name: a\n    clients: [\"10.0.0.0/16\"]\n",
			      &s, &errs, path),
			 VD_ECONF);
	assert_err(&errs, path, 6,
		   "cache.max_ttl must be at least 1s (to turn the cache off, set "
		   "cache.size: 0)");
	assert_err(&errs, path, 7,
		   "cache.min_ttl: '1500ms' is not a whole number of seconds");
	vd_errlist_deinit(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_include_own_zones_win),
		cmocka_unit_test(test_include_same_apex),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_subnets_and_azs),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_subnet_errors),
		cmocka_unit_test(test_view_meta),
		cmocka_unit_test(test_cache_section),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
