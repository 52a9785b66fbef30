/*
 * Unit tests of view_files: views read from per-VPC files named by paths
 * and glob patterns, paths inside a view file relative to its own folder,
 * per-entry defaults and the merge rule, include patterns, duplicate
 * names and prefixes across files (both places named), errors inside a
 * view file reported at that file's line, empty zone folders, and the
 * vpc_id / account_id / region metadata with their accessors.
 */
#include "conf_test.h"

#include <errno.h>
#include <limits.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"

typedef struct fixture {
	char dir[64];
	char real[PATH_MAX]; /* dir resolved: view file names start with it */
	char path[512];	     /* dir/vpcdns.yaml */
	vd_errlist_t errs;
	vd_snap_t *snap;
} fixture_t;

#define HEAD                                        \
	"server:\n  listen: [\"127.0.0.1:5353\"]\n" \
	"upstreams:\n  up: [\"127.0.0.1:5301\"]\n  corp: [\"127.0.0.1:5302\"]\n"

static const char ZONE_EC2[] = "$ORIGIN ec2.us-east-1.amazonaws.com.\n$TTL 60\n"
			       "@ SOA ns hm 1 3600 600 86400 60\n@ A 10.0.1.10\n";
static const char ZONE_SQS[] = "$ORIGIN sqs.us-east-1.amazonaws.com.\n$TTL 60\n"
			       "@ SOA ns hm 1 3600 600 86400 60\n@ A 10.1.1.10\n";

/* endpoints/<vpc>/view.yaml with zones/ and subnets.yaml beside it, as
 * vpcdns-import writes them; zone NULL: an empty zones/ folder. */
static void vpc_write(const fixture_t *f, const char *vpc, const char *view,
		      const char *zone)
{
	char rel[256], out[512];

	snprintf(rel, sizeof(rel), "endpoints/%s", vpc);
	subdir_new(f->dir, rel);
	snprintf(rel, sizeof(rel), "endpoints/%s/zones", vpc);
	subdir_new(f->dir, rel);
	if (zone) {
		snprintf(rel, sizeof(rel), "endpoints/%s/zones/service.zone", vpc);
		file_write(f->dir, rel, zone, out);
	}
	snprintf(rel, sizeof(rel), "endpoints/%s/subnets.yaml", vpc);
	file_write(f->dir, rel,
		   "subnets:\n  - cidr: 10.0.1.0/24\n    az_id: use1-az1\n", out);
	snprintf(rel, sizeof(rel), "endpoints/%s/view.yaml", vpc);
	file_write(f->dir, rel, view, out);
}

static const char VIEW_A[] = "- name: vpc-a\n"
			     "  clients: [\"10.0.0.0/16\"]\n"
			     "  zones: [\"zones/\"]\n"
			     "  subnets: subnets.yaml\n"
			     "  vpc_id: vpc-0123456789abcdef0\n"
			     "  account_id: \"111122223333\"\n"
			     "  region: us-east-1\n";
static const char VIEW_B_NOZONES[] = "- name: vpc-b\n"
				     "  clients: [\"10.1.0.0/16\"]\n";
static const char VIEW_B[] = "- name: vpc-b\n"
			     "  clients: [\"10.1.0.0/16\"]\n"
			     "  zones: [\"zones/\"]\n"
			     "  explain: true\n";

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tmpdir_new(f->dir);
	assert_non_null(realpath(f->dir, f->real));
	vd_errlist_init(&f->errs);
	snprintf(f->path, sizeof(f->path), "%s/vpcdns.yaml", f->dir);
	subdir_new(f->dir, "endpoints");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_snap_unref(f->snap);
	vd_errlist_deinit(&f->errs);
	tmpdir_rm(f->dir);
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
	assert_int_equal(f->errs.count, 0);
}

static void load_fails(fixture_t *f, const char *text)
{
	assert_int_equal(load(f, text), VD_ECONF);
	assert_null(f->snap);
}

/* The full name of a file under the test folder, as messages show it. */
static const char *at(const fixture_t *f, const char *rel)
{
	static char buf[2][PATH_MAX + 256];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", f->real, rel);
	return buf[k];
}

static int match(const vd_snap_t *s, const char *addr)
{
	struct sockaddr_storage ss;

	assert_int_equal(vd_addr_parse(addr, 53, &ss), 0);
	return vd_view_table_match(s->view_table, (struct sockaddr *)&ss);
}

static const vd_view_t *view(const fixture_t *f, const char *name)
{
	const vd_view_t *v = vd_snap_view(f->snap, name);

	assert_non_null(v);
	return v;
}

static int route_group(const vd_view_t *v, const char *name)
{
	uint8_t wire[VD_NAME_MAX];
	const vd_view_route_t *e;
	size_t len;

	assert_int_equal(vd_name_from_text(name, wire, &len), 0);
	e = vd_view_route(v, wire, UINT_MAX);
	return e ? vd_view_route_group(e) : -2;
}

/* ---- arguments and shapes ---------------------------------------------- */

static void test_bad_shapes(void **state)
{
	fixture_t *f = *state;
	char out[512];

	load_fails(f, HEAD "view_files: endpoints/x.yaml\n");
	assert_err(&f->errs, f->path, 6, "view_files must be a list");
	load_fails(f, HEAD "view_files:\n  - [a]\n  - { defaults: {} }\n"
			   "  - { path: x, other: 1 }\n");
	assert_err(&f->errs, f->path, 7, "view_files[0] must be a path");
	assert_err(&f->errs, f->path, 8,
		   "missing required key 'path' in view_files[1]");
	assert_err(&f->errs, f->path, 9, "unknown key 'other' in view_files[2]");
	/* A plain path that does not exist is an error, named at both ends. */
	load_fails(f, HEAD "view_files: [endpoints/none.yaml]\n");
	assert_err(&f->errs, at(f, "endpoints/none.yaml"), 0, "cannot open");
	assert_err(&f->errs, f->path, 6,
		   "view_files[0]: cannot read '" /* the full path */);
	/* A file holds a list of views; an empty file is an error. */
	file_write(f->dir, "endpoints/map.yaml", "views:\n  - name: x\n", out);
	file_write(f->dir, "endpoints/empty.yaml", "# nothing\n", out);
	load_fails(f, HEAD "view_files: [endpoints/map.yaml, endpoints/empty.yaml]\n");
	assert_err(&f->errs, at(f, "endpoints/map.yaml"), 1,
		   "a view file holds a list of views");
	assert_err(&f->errs, at(f, "endpoints/empty.yaml"), 1,
		   "empty file: expected a list of views");
	/* No views at all and no view_files: views is still required. */
	load_fails(f, HEAD);
	assert_err(&f->errs, f->path, 1, "missing required key 'views'");
}

/* ---- globs and relative paths ------------------------------------------ */

static void test_glob(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *a, *b;

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	vpc_write(f, "vpc-b", VIEW_B, ZONE_SQS);
	load_ok(f, HEAD "views:\n  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			"view_files: [\"endpoints/*/view.yaml\"]\n");
	/* vpcdns.yaml's views first, then the files in name order. */
	assert_int_equal(f->snap->nviews, 3);
	assert_string_equal(vd_view_name(f->snap->views[1]), "vpc-a");
	assert_string_equal(vd_view_name(f->snap->views[2]), "vpc-b");
	assert_int_equal(match(f->snap, "10.0.3.4"), 1);
	assert_int_equal(match(f->snap, "10.1.3.4"), 2);
	assert_int_equal(match(f->snap, "192.168.1.1"), 0);
	/* zones/ and subnets.yaml are found beside each view file. */
	a = view(f, "vpc-a");
	b = view(f, "vpc-b");
	assert_int_equal(vd_view_nzones(a), 1);
	assert_int_equal(vd_view_nzones(b), 1);
	assert_true(vd_zone_path(vd_view_zone(a, 0)) != NULL);
	assert_non_null(strstr(vd_zone_path(vd_view_zone(a, 0)),
			       "endpoints/vpc-a/zones/service.zone"));
	assert_non_null(strstr(vd_zone_path(vd_view_zone(b, 0)),
			       "endpoints/vpc-b/zones/service.zone"));
	assert_string_equal(vd_view_az_id(a, 0), "use1-az1");
}

static void test_glob_follows_folders(void **state)
{
	fixture_t *f = *state;
	static const char conf[] = HEAD "view_files: [\"endpoints/*/view.yaml\"]\n";

	char out[512];

	/* No match: an empty organisation, no views, not an error; nor is a
	 * folder on the way that does not exist, or an empty list. */
	load_ok(f, conf);
	assert_int_equal(f->snap->nviews, 0);
	assert_int_equal(match(f->snap, "10.0.0.1"), -1);
	file_write(f->dir, "none.yaml", "[]\n", out);
	load_ok(f, HEAD "view_files: [\"nowhere/*/view.yaml\", none.yaml]\n");
	assert_int_equal(f->snap->nviews, 0);
	/* Each load expands the pattern again. */
	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	load_ok(f, conf);
	assert_int_equal(f->snap->nviews, 1);
	vpc_write(f, "vpc-b", VIEW_B, ZONE_SQS);
	load_ok(f, conf);
	assert_int_equal(f->snap->nviews, 2);
	assert_int_equal(match(f->snap, "10.1.0.1"), 1);
}

/* optional: true lets a plain path be missing (the importer's output
 * before the first import); without it a missing file is an error. */
static void test_optional_file(void **state)
{
	fixture_t *f = *state;
	char out[512];

	load_ok(f, HEAD "views:\n  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			"view_files:\n  - {path: later/views.yaml, optional: true}\n");
	assert_int_equal(f->snap->nviews, 1);
	load_fails(f,
		   HEAD "views:\n  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			"view_files:\n  - {path: later/views.yaml}\n");
	subdir_new(f->dir, "later");
	file_write(f->dir, "later/views.yaml", VIEW_B_NOZONES, out);
	load_ok(f, HEAD "views:\n  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			"view_files:\n  - {path: later/views.yaml, optional: true}\n");
	assert_int_equal(f->snap->nviews, 2);
	load_fails(f,
		   HEAD "view_files:\n  - {path: later/views.yaml, optional: maybe}\n");
}

/* A VPC with no interface endpoint left: an empty zones/ folder, or no
 * zones at all; its view forwards everything. */
static void test_view_without_endpoints(void **state)
{
	fixture_t *f = *state;

	vpc_write(f, "vpc-a", VIEW_A, NULL);
	vpc_write(f, "vpc-c",
		  "- name: vpc-c\n  clients: [\"10.2.0.0/16\"]\n"
		  "  forward: {\".\": up}\n",
		  NULL);
	load_ok(f, HEAD "view_files: [\"endpoints/*/view.yaml\"]\n");
	assert_int_equal(vd_view_nzones(view(f, "vpc-a")), 0);
	assert_int_equal(route_group(view(f, "vpc-c"), "ec2.us-east-1.amazonaws.com."),
			 0);
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *a, *b;

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	vpc_write(f, "vpc-b",
		  "- name: vpc-b\n  clients: [\"10.1.0.0/16\"]\n"
		  "  explain: true\n  forward: {corp.example: corp}\n",
		  NULL);
	load_ok(f, HEAD "view_files:\n"
			"  - path: \"endpoints/*/view.yaml\"\n"
			"    defaults:\n"
			"      forward: {\".\": up, \"corp.example\": corp}\n"
			"      az_affinity: only\n"
			"      explain: false\n"
			"      region: eu-west-1\n");
	a = view(f, "vpc-a");
	b = view(f, "vpc-b");
	/* Keys the view leaves out come from the defaults ... */
	assert_int_equal(vd_view_az_affinity(a), VD_AZ_ONLY);
	assert_false(vd_view_explain(a));
	assert_int_equal(route_group(a, "www.example.com."), 0);
	assert_int_equal(route_group(a, "git.corp.example."), 1);
	/* ... a key the view sets wins whole: forward is not merged. */
	assert_true(vd_view_explain(b));
	assert_int_equal(route_group(b, "git.corp.example."), 1);
	assert_int_equal(route_group(b, "www.example.com."), -2);
	assert_string_equal(vd_view_region(a), "us-east-1");
	assert_string_equal(vd_view_region(b), "eu-west-1");
}

static void test_defaults_errors(void **state)
{
	fixture_t *f = *state;

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	vpc_write(f, "vpc-b", VIEW_B, ZONE_SQS);
	load_fails(f, HEAD "view_files:\n"
			   "  - path: \"endpoints/*/view.yaml\"\n"
			   "    defaults:\n"
			   "      name: x\n"
			   "      clients: [\"10.9.0.0/16\"]\n"
			   "      az_affinity: sometimes\n"
			   "      forward: {\".\": nope}\n");
	assert_err(&f->errs, f->path, 9,
		   "unknown key 'name' in view_files[0].defaults");
	assert_err(&f->errs, f->path, 10,
		   "unknown key 'clients' in view_files[0].defaults");
	/* A bad default is reported once, at its own line, for every view. */
	assert_err(&f->errs, f->path, 11,
		   "views[0].az_affinity: bad value 'sometimes'");
	assert_err(&f->errs, f->path, 12, "unknown upstream group 'nope'");
	assert_int_equal(f->errs.count, 4);
	load_fails(f, HEAD "view_files:\n  - path: \"endpoints/*/view.yaml\"\n"
			   "    defaults: [explain]\n");
	assert_err(&f->errs, f->path, 8, "view_files[0].defaults must be a map");
}

/* ---- duplicates and errors inside view files ----------------------------- */

static void test_duplicates_name_both_files(void **state)
{
	fixture_t *f = *state;
	char out[512];

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	file_write(f->dir, "endpoints/other.yaml",
		   "# a copy\n- name: vpc-a\n  clients: [\"10.9.0.0/16\"]\n"
		   "- name: vpc-z\n  clients: [\"10.0.0.0/16\"]\n",
		   out);
	load_fails(f, HEAD "view_files:\n  - \"endpoints/*/view.yaml\"\n"
			   "  - endpoints/other.yaml\n");
	{
		char want[PATH_MAX + 64];

		snprintf(want, sizeof(want), "view 'vpc-a' already defined at %s:1",
			 at(f, "endpoints/vpc-a/view.yaml"));
		assert_err(&f->errs, at(f, "endpoints/other.yaml"), 2, want);
		snprintf(want, sizeof(want),
			 "client prefix '10.0.0.0/16' is in two views: 'vpc-a' (%s:2) "
			 "and 'vpc-z'",
			 at(f, "endpoints/vpc-a/view.yaml"));
		assert_err(&f->errs, at(f, "endpoints/other.yaml"), 5, want);
	}
	/* With vpcdns.yaml's own views too. */
	load_fails(f, HEAD "views:\n  - name: vpc-a\n    clients: [\"10.5.0.0/16\"]\n"
			   "view_files: [\"endpoints/*/view.yaml\"]\n");
	{
		char want[PATH_MAX + 64];

		snprintf(want, sizeof(want), "view 'vpc-a' already defined at %s:7",
			 f->path);
		assert_err(&f->errs, at(f, "endpoints/vpc-a/view.yaml"), 1, want);
	}
	/* One file matched twice. */
	load_fails(f, HEAD "view_files:\n  - \"endpoints/*/view.yaml\"\n"
			   "  - endpoints/vpc-a/view.yaml\n");
	assert_err(&f->errs, f->path, 8, "is read already by view_files[0] (line 7)");
}

static void test_errors_in_view_file(void **state)
{
	fixture_t *f = *state;
	const char *file;

	vpc_write(f, "vpc-a",
		  "- name: vpc-a\n"
		  "  clients: [\"10.0.0.1/16\"]\n"
		  "  zones: [\"zones/\", missing.zone]\n"
		  "  subnets: nosuch.yaml\n"
		  "  forward: {\".\": nope}\n"
		  "  bogus: 1\n"
		  "  vpc_id: vpc-12\n"
		  "  account_id: \"12345\"\n"
		  "  region: useast1\n"
		  "  include: [nobody]\n"
		  "  rate_limit: [1]\n"
		  "  firewall: grp\n",
		  ZONE_EC2);
	load_fails(f, HEAD "view_files: [\"endpoints/*/view.yaml\"]\n");
	file = at(f, "endpoints/vpc-a/view.yaml");
	assert_err(&f->errs, file, 2, "views[0].clients: bad CIDR '10.0.0.1/16'");
	assert_err(&f->errs, file, 3,
		   "views[0].zones[1]: cannot read zone 'missing.zone'");
	assert_err(&f->errs, file, 4, "cannot use subnets file 'nosuch.yaml'");
	assert_err(&f->errs, file, 5, "unknown upstream group 'nope'");
	assert_err(&f->errs, file, 6, "unknown key 'bogus' in views[0]");
	assert_err(&f->errs, file, 7, "views[0].vpc_id: bad value 'vpc-12'");
	assert_err(&f->errs, file, 8, "views[0].account_id: bad value '12345'");
	assert_err(&f->errs, file, 9, "views[0].region: bad value 'useast1'");
	assert_err(&f->errs, file, 10, "view 'vpc-a' includes unknown view 'nobody'");
	assert_err(&f->errs, file, 11, "rate_limit must be false or a map");
	assert_err(&f->errs, file, 12, "firewall must be a list of rule group names");
	/* A YAML error in a view file. */
	vpc_write(f, "vpc-b", "- name: vpc-b\n  clients: [\"10.1.0.0/16\"\n", NULL);
	load_fails(f, HEAD "view_files: [\"endpoints/vpc-b/view.yaml\"]\n");
	assert_err(&f->errs, at(f, "endpoints/vpc-b/view.yaml"), 3,
		   "YAML syntax error");
}

/* ---- include patterns --------------------------------------------------- */

static void test_include_patterns(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *onprem;

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	vpc_write(f, "vpc-b", VIEW_B, ZONE_SQS);
	load_ok(f, HEAD "views:\n"
			"  - name: onprem\n"
			"    clients: [\"192.168.0.0/16\"]\n"
			"    include: [\"vpc-*\", vpc-a, \"test-*\"]\n"
			"    forward: {\".\": up}\n"
			"view_files: [\"endpoints/*/view.yaml\"]\n");
	onprem = view(f, "onprem");
	/* Every match once, in view order; no match is not an error. */
	assert_int_equal(vd_view_nincludes(onprem), 2);
	assert_string_equal(vd_view_name(vd_view_include(onprem, 0)), "vpc-a");
	assert_string_equal(vd_view_name(vd_view_include(onprem, 1)), "vpc-b");
	assert_int_equal(route_group(onprem, "ec2.us-east-1.amazonaws.com."), -1);
	assert_int_equal(route_group(onprem, "sqs.us-east-1.amazonaws.com."), -1);
	/* A view matching its own pattern does not include itself. */
	load_ok(f, HEAD "views:\n  - name: vpc-hub\n    clients: [\"10.9.0.0/16\"]\n"
			"    include: [\"vpc-*\"]\n"
			"view_files: [\"endpoints/*/view.yaml\"]\n");
	assert_int_equal(vd_view_nincludes(view(f, "vpc-hub")), 2);
}

/* ---- metadata ----------------------------------------------------------- */

static void test_metadata(void **state)
{
	fixture_t *f = *state;
	const vd_view_t *a;

	vpc_write(f, "vpc-a", VIEW_A, ZONE_EC2);
	load_ok(f, HEAD "views:\n  - name: onprem\n    clients: [\"192.168.0.0/16\"]\n"
			"    vpc_id: vpc-0a1b2c3d\n    account_id: \"000000000000\"\n"
			"    region: us-gov-west-1\n"
			"view_files: [endpoints/vpc-a/view.yaml]\n");
	a = view(f, "vpc-a");
	assert_string_equal(vd_view_vpc_id(a), "vpc-0123456789abcdef0");
	assert_string_equal(vd_view_account_id(a), "111122223333");
	assert_string_equal(vd_view_region(a), "us-east-1");
	assert_string_equal(vd_view_vpc_id(view(f, "onprem")), "vpc-0a1b2c3d");
	assert_string_equal(vd_view_region(view(f, "onprem")), "us-gov-west-1");
	load_ok(f, HEAD "views:\n  - name: plain\n    clients: [\"10.0.0.0/8\"]\n");
	assert_null(vd_view_vpc_id(view(f, "plain")));
	assert_null(vd_view_account_id(view(f, "plain")));
	assert_null(vd_view_region(view(f, "plain")));
	load_fails(f, HEAD "views:\n  - name: v\n    clients: [\"10.0.0.0/8\"]\n"
			   "    vpc_id: VPC-0A1B2C3D\n    account_id: 1111222233334\n"
			   "    region: [us-east-1]\n");
	assert_err(&f->errs, f->path, 9, "views[0].vpc_id: bad value 'VPC-0A1B2C3D'");
	assert_err(&f->errs, f->path, 10, "views[0].account_id: bad value");
	assert_err(&f->errs, f->path, 11, "views[0].region must be a string");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_bad_shapes),
		T(test_glob),
		T(test_glob_follows_folders),
		T(test_optional_file),
		T(test_view_without_endpoints),
		T(test_defaults),
		T(test_defaults_errors),
		T(test_duplicates_name_both_files),
		T(test_errors_in_view_file),
		T(test_include_patterns),
		T(test_metadata),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
