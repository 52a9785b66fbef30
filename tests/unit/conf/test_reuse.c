/*
 * Unit tests of zone reuse across reloads (vd_conf_reload): a zone whose
 * file and options did not change is the previous snapshot's object, by
 * pointer; a file rewritten (new size, or same size with its mtime put
 * back), replaced by rename, or loaded with other options is read again
 * (and, holding the same data in the same options, shares the zone);
 * a file changed just before the load that read it is never trusted (the
 * racy guard); and the previous snapshot can be freed first (ASan checks
 * the shared zones stay valid).
 *
 * The group setup writes the zone files and waits past the racy window
 * once, so that the first load of each test reads files it may trust.
 */
#include "conf_test.h"

#include <fcntl.h>
#include <time.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"

static char dir[64];

static void zone_text(char *buf, size_t len, int n, int last)
{
	snprintf(buf, len,
		 "$ORIGIN z%d.example.\n$TTL 60\n"
		 "@ SOA ns hm 1 3600 600 86400 60\n@ A 10.0.0.%d\n",
		 n, last);
}

static void zone_write(int n, int last)
{
	char name[32], text[256], out[512];

	snprintf(name, sizeof(name), "z%d.zone", n);
	zone_text(text, sizeof(text), n, last);
	file_write(dir, name, text, out);
}

static int group_setup(void **state)
{
	struct timespec wait = { .tv_sec = 1, .tv_nsec = 200000000 };

	(void)state;
	tmpdir_new(dir);
	for (int n = 1; n <= 9; n++)
		zone_write(n, n);
	/* Past VD_ZONE_RACY_NS, so the first loads may be trusted. */
	nanosleep(&wait, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tmpdir_rm(dir);
	return 0;
}

/* Loads a config of one view "a" whose zones list is zones (YAML flow
 * list text), with prev as the snapshot it replaces. */
static vd_snap_t *load(const char *zones, const vd_snap_t *prev)
{
	char text[2048], path[512];
	vd_errlist_t errs;
	vd_snap_t *s = NULL;

	snprintf(text, sizeof(text),
		 "server:\n  listen: [\"127.0.0.1:5353\"]\n  directory: %s\n"
		 "upstreams:\n  up: [\"127.0.0.1:5301\"]\n"
		 "views:\n  - name: a\n    clients: [\"10.0.0.0/8\"]\n"
		 "    forward: {\".\": up}\n    zones: %s\n",
		 dir, zones);
	file_write(dir, "vpcdns.yaml", text, path);
	vd_errlist_init(&errs);
	assert_int_equal(vd_conf_reload(path, prev, &s, &errs), 0);
	assert_int_equal(errs.count, 0);
	vd_errlist_deinit(&errs);
	return s;
}

static const vd_zone_t *zone_of(const vd_snap_t *s, int n)
{
	char text[32];
	uint8_t apex[VD_NAME_MAX];
	size_t len;
	const vd_zone_t *z;

	snprintf(text, sizeof(text), "z%d.example.", n);
	assert_int_equal(vd_name_from_text(text, apex, &len), 0);
	z = vd_view_zone_at(vd_snap_view(s, "a"), apex);
	assert_non_null(z);
	return z;
}

static void test_unchanged_is_shared(void **state)
{
	(void)state;
	vd_snap_t *s1 = load("[z1.zone, z2.zone]", NULL);
	assert_int_equal(s1->nzones, 2);
	assert_int_equal(s1->nzones_reused, 0);
	vd_snap_t *s2 = load("[z1.zone, z2.zone]", s1);
	assert_ptr_equal(zone_of(s2, 1), zone_of(s1, 1));
	assert_ptr_equal(zone_of(s2, 2), zone_of(s1, 2));
	assert_int_equal(s2->nzones, 2);
	assert_int_equal(s2->nzones_reused, 2);
	/* The old snapshot goes first; the new one keeps the zones. */
	vd_snap_unref(s1);
	assert_int_equal(apex_a(zone_of(s2, 1)), 1);
	assert_int_equal(apex_a(zone_of(s2, 2)), 2);
	/* And a third generation still shares them. */
	vd_snap_t *s3 = load("[z1.zone, z2.zone]", s2);
	assert_ptr_equal(zone_of(s3, 1), zone_of(s2, 1));
	vd_snap_unref(s2);
	assert_int_equal(apex_a(zone_of(s3, 1)), 1);
	vd_snap_unref(s3);
}

static void test_rewritten_is_read(void **state)
{
	(void)state;
	vd_snap_t *s1 = load("[z3.zone, z4.zone]", NULL);
	zone_write(3, 133); /* longer: a new size and mtime */
	vd_snap_t *s2 = load("[z3.zone, z4.zone]", s1);
	assert_ptr_not_equal(zone_of(s2, 3), zone_of(s1, 3));
	assert_int_equal(apex_a(zone_of(s2, 3)), 133);
	assert_ptr_equal(zone_of(s2, 4), zone_of(s1, 4));
	assert_int_equal(s2->nzones_reused, 1);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
}

/* The same bytes under a new inode: identity, not content, decides
 * whether the file is read; read, it holds the same data, so the zone
 * already in use stands for it (one copy, not two). */
static void test_renamed_over_is_read(void **state)
{
	char text[256], tmp[512], path[512];

	(void)state;
	vd_snap_t *s1 = load("[z5.zone]", NULL);
	zone_text(text, sizeof(text), 5, 5);
	file_write(dir, "z5.zone.new", text, tmp);
	snprintf(path, sizeof(path), "%s/z5.zone", dir);
	assert_int_equal(rename(tmp, path), 0);
	vd_snap_t *s2 = load("[z5.zone]", s1);
	assert_int_equal(s2->nzones_reused, 0);
	assert_ptr_equal(zone_of(s2, 5), zone_of(s1, 5));
	assert_int_equal(apex_a(zone_of(s2, 5)), 5);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
}

/* Rewritten in place with the same size and its mtime set back (as
 * cp -p or rsync -t would): the ctime still tells. */
static void test_mtime_put_back_is_read(void **state)
{
	struct timespec times[2];
	char path[512];
	struct stat st;

	(void)state;
	vd_snap_t *s1 = load("[z6.zone]", NULL);
	snprintf(path, sizeof(path), "%s/z6.zone", dir);
	assert_int_equal(stat(path, &st), 0);
	zone_write(6, 7); /* same length */
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	vd_snap_t *s2 = load("[z6.zone]", s1);
	assert_ptr_not_equal(zone_of(s2, 6), zone_of(s1, 6));
	assert_int_equal(apex_a(zone_of(s2, 6)), 7);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
}

static void test_new_options_read(void **state)
{
	(void)state;
	vd_snap_t *s1 = load("[{path: z7.zone, fallback: forward}]", NULL);
	vd_snap_t *s2 = load("[{path: z7.zone, fallback: nxdomain}]", s1);
	assert_ptr_not_equal(zone_of(s2, 7), zone_of(s1, 7));
	assert_int_equal(vd_zone_fallback(zone_of(s2, 7)), VD_ZONE_FALLBACK_NXDOMAIN);
	vd_snap_t *s3 =
		load("[{path: z7.zone, fallback: nxdomain, origin: z7.example.}]", s2);
	assert_ptr_not_equal(zone_of(s3, 7), zone_of(s2, 7));
	/* Unchanged options again: shared. */
	vd_snap_t *s4 =
		load("[{path: z7.zone, fallback: nxdomain, origin: z7.example.}]", s3);
	assert_ptr_equal(zone_of(s4, 7), zone_of(s3, 7));
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_snap_unref(s4);
}

/* Written just before the load that read it: a second write in the same
 * timestamp tick could have followed unseen, so the next load reads it
 * again even though nothing seems to have changed. */
static void test_racy_file_is_read_again(void **state)
{
	(void)state;
	zone_write(8, 8);
	vd_snap_t *s1 = load("[z8.zone, z9.zone]", NULL);
	vd_snap_t *s2 = load("[z8.zone, z9.zone]", s1);
	/* z8 read again (only z9 reused); the same data: one copy. */
	assert_int_equal(s2->nzones_reused, 1);
	assert_ptr_equal(zone_of(s2, 8), zone_of(s1, 8));
	assert_ptr_equal(zone_of(s2, 9), zone_of(s1, 9));
	vd_snap_unref(s1);
	vd_snap_unref(s2);
}

/* A build that fails leaves the snapshot it read from intact. */
static void test_failed_build_keeps_prev(void **state)
{
	char path[512];
	vd_errlist_t errs;
	vd_snap_t *bad = NULL;

	(void)state;
	vd_snap_t *s1 = load("[z9.zone]", NULL);
	file_write(dir, "vpcdns.yaml", "views: 1\n", path);
	vd_errlist_init(&errs);
	assert_int_equal(vd_conf_reload(path, s1, &bad, &errs), VD_ECONF);
	assert_null(bad);
	vd_errlist_deinit(&errs);
	assert_int_equal(apex_a(zone_of(s1, 9)), 9);
	vd_snap_t *s2 = load("[z9.zone]", s1);
	assert_ptr_equal(zone_of(s2, 9), zone_of(s1, 9));
	vd_snap_unref(s1);
	vd_snap_unref(s2);
}

/* Two views "a" and "b" (b with zones z1 and z2, a with the given
 * zones and forward rule target), replacing prev. */
static vd_snap_t *load2(const char *a_zones, const char *b_rule, const char *b_az,
			const vd_snap_t *prev)
{
	char text[2048], path[512];
	vd_errlist_t errs;
	vd_snap_t *s = NULL;

	snprintf(text, sizeof(text),
		 "server:\n  listen: [\"127.0.0.1:5353\"]\n  directory: %s\n"
		 "upstreams:\n  up: [\"127.0.0.1:5301\"]\n  up2: [\"127.0.0.1:5302\"]\n"
		 "views:\n  - name: a\n    clients: [\"10.0.0.0/8\"]\n"
		 "    forward: {\".\": up}\n    zones: %s\n"
		 "  - name: b\n    clients: [\"10.1.0.0/16\", \"192.168.0.0/16\"]\n"
		 "    forward: {\".\": up, \"corp.example.\": %s}\n"
		 "    subnets: [{cidr: 10.1.0.0/16, az_id: %s}]\n"
		 "    zones: [z1.zone, z2.zone]\n",
		 dir, a_zones, b_rule, b_az);
	file_write(dir, "vpcdns2.yaml", text, path);
	vd_errlist_init(&errs);
	assert_int_equal(vd_conf_reload(path, prev, &s, &errs), 0);
	assert_int_equal(errs.count, 0);
	vd_errlist_deinit(&errs);
	return s;
}

/* Where a view's routing map sends www.z1.example. (the entry lives
 * with the map: the same pointer means the same map). */
static const void *route_of(const vd_snap_t *s, const char *view)
{
	uint8_t name[VD_NAME_MAX];
	size_t len;

	assert_int_equal(vd_name_from_text("www.z1.example.", name, &len), 0);
	const void *r = vd_view_route(vd_snap_view(s, view), name, 128);
	assert_non_null(r);
	return r;
}

/* A view whose zones, rules and subnets did not change keeps the routing
 * map and tables of the snapshot replaced; any change to them builds new
 * ones; and the shared tables outlive the snapshot that built them. */
static void test_unchanged_view_keeps_its_tables(void **state)
{
	(void)state;
	vd_snap_t *s1 = load2("[z3.zone]", "up2", "use1-az1", NULL);
	assert_int_equal(s1->nviews_shared, 0);
	vd_snap_t *s2 = load2("[z3.zone]", "up2", "use1-az1", s1);
	assert_int_equal(s2->nviews_shared, 2);
	assert_ptr_equal(route_of(s2, "b"), route_of(s1, "b"));
	/* a's zones change (one more): a is built again, b is not. */
	vd_snap_t *s3 = load2("[z3.zone, z4.zone]", "up2", "use1-az1", s2);
	assert_int_equal(s3->nviews_shared, 1);
	assert_ptr_equal(route_of(s3, "b"), route_of(s1, "b"));
	assert_ptr_not_equal(route_of(s3, "a"), route_of(s2, "a"));
	/* b's forward rule goes elsewhere; then b's subnet changes AZ. */
	vd_snap_t *s4 = load2("[z3.zone, z4.zone]", "up", "use1-az1", s3);
	assert_int_equal(s4->nviews_shared, 1);
	assert_ptr_not_equal(route_of(s4, "b"), route_of(s3, "b"));
	vd_snap_t *s5 = load2("[z3.zone, z4.zone]", "up", "use1-az2", s4);
	assert_int_equal(s5->nviews_shared, 1);
	assert_ptr_not_equal(route_of(s5, "b"), route_of(s4, "b"));
	/* The snapshots that built them go first: the tables stay (ASan). */
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s4);
	assert_non_null(route_of(s3, "b"));
	assert_non_null(route_of(s5, "a"));
	vd_snap_unref(s3);
	vd_snap_unref(s5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged_is_shared),
		cmocka_unit_test(test_rewritten_is_read),
		cmocka_unit_test(test_renamed_over_is_read),
		cmocka_unit_test(test_mtime_put_back_is_read),
		cmocka_unit_test(test_new_options_read),
		cmocka_unit_test(test_racy_file_is_read_again),
		cmocka_unit_test(test_failed_build_keeps_prev),
		cmocka_unit_test(test_unchanged_view_keeps_its_tables),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
