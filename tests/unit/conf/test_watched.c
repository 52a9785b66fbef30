/*
 * Unit tests of reloads with the zone folders' watch
 * (vd_conf_reload_watched): a folder the watch shows unchanged gives the
 * previous snapshot's zones, by pointer, without being listed; each kind
 * of change in a folder (a file rewritten, added, deleted, the folder
 * replaced) is seen by the next reload while the other folders stay
 * unchanged; a folder holding a symlinked zone file is never taken on the
 * watch's word (its target changes unseen); a second item naming the
 * folder with another fallback gets zones of its own; server.watch_zones:
 * false turns it off; and a snapshot built without the watch has no
 * records to give.
 *
 * The group setup writes the zone files and waits past the racy window
 * once, so that every load may trust what it reads.
 */
#include "conf_test.h"

#include <time.h>

#include "vpcdns/conf.h"
#include "vpcdns/watch.h"
#include "vpcdns/wire.h"

static char dir[64];

static void zone_write(const char *folder, int n, int last)
{
	char name[64], text[256], out[512];

	snprintf(name, sizeof(name), "%s/z%d.zone", folder, n);
	snprintf(text, sizeof(text),
		 "$ORIGIN z%d.example.\n$TTL 60\n"
		 "@ SOA ns hm 1 3600 600 86400 60\n@ A 10.0.0.%d\n",
		 n, last);
	file_write(dir, name, text, out);
}

static void settle(void)
{
	struct timespec wait = { .tv_sec = 1, .tv_nsec = 200000000 };

	/* Past VD_ZONE_RACY_NS, so a load may trust what it reads. */
	nanosleep(&wait, NULL);
}

static int group_setup(void **state)
{
	(void)state;
	tmpdir_new(dir);
	subdir_new(dir, "f1");
	subdir_new(dir, "f2");
	subdir_new(dir, "f3");
	subdir_new(dir, "target");
	for (int n = 1; n <= 3; n++)
		zone_write("f1", n, n);
	for (int n = 4; n <= 6; n++)
		zone_write("f2", n, n);
	zone_write("f3", 7, 7);
	zone_write("target", 8, 8);
	char from[512], to[512];
	snprintf(from, sizeof(from), "%s/target/z8.zone", dir);
	snprintf(to, sizeof(to), "%s/f3/z8.zone", dir);
	assert_int_equal(symlink(from, to), 0);
	settle();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tmpdir_rm(dir);
	return 0;
}

/* Loads views a and b (their zones lists as YAML flow text; b's NULL:
 * no view b), server lines extra, with prev replaced and watch w. */
static vd_snap_t *load(const char *a, const char *b, const char *extra,
		       const vd_snap_t *prev, vd_watch_t *w)
{
	char text[2048], path[512], vb[512] = "";
	vd_errlist_t errs;
	vd_snap_t *s = NULL;

	if (b)
		snprintf(vb, sizeof(vb),
			 "  - name: b\n    clients: [\"11.0.0.0/8\"]\n"
			 "    forward: {\".\": up}\n    zones: %s\n",
			 b);
	snprintf(text, sizeof(text),
		 "server:\n  listen: [\"127.0.0.1:5353\"]\n  directory: %s\n%s"
		 "upstreams:\n  up: [\"127.0.0.1:5301\"]\n"
		 "views:\n  - name: a\n    clients: [\"10.0.0.0/8\"]\n"
		 "    forward: {\".\": up}\n    zones: %s\n%s",
		 dir, extra ? extra : "", a, vb);
	file_write(dir, "vpcdns.yaml", text, path);
	vd_errlist_init(&errs);
	if (prev)
		assert_int_equal(vd_conf_reload_watched(path, prev, w, &s, &errs), 0);
	else
		assert_int_equal(vd_conf_load_watched(path, w, &s, &errs), 0);
	errs_print(&errs);
	assert_int_equal(errs.count, 0);
	vd_errlist_deinit(&errs);
	return s;
}

static const vd_zone_t *zone_in(const vd_snap_t *s, const char *view, int n)
{
	char text[32];
	uint8_t apex[VD_NAME_MAX];
	size_t len;

	snprintf(text, sizeof(text), "z%d.example.", n);
	assert_int_equal(vd_name_from_text(text, apex, &len), 0);
	return vd_view_zone_at(vd_snap_view(s, view), apex);
}

static const vd_zone_t *zone_of(const vd_snap_t *s, int n)
{
	const vd_zone_t *z = zone_in(s, "a", n);

	assert_non_null(z);
	return z;
}

static vd_watch_t *watch_new(void)
{
	vd_watch_t *w = NULL;

	assert_int_equal(vd_watch_new(&w), 0);
	return w;
}

static void test_unchanged_folders_are_taken(void **state)
{
	vd_watch_t *w = watch_new();

	(void)state;
	vd_snap_t *s1 = load("[f1/, f2/]", NULL, NULL, NULL, w);
	assert_int_equal(s1->nfolders, 2);
	assert_int_equal(s1->nfolders_unchanged, 0);
	assert_int_equal(vd_watch_count(w), 2);
	vd_snap_t *s2 = load("[f1/, f2/]", NULL, NULL, s1, w);
	assert_int_equal(s2->nfolders, 2);
	assert_int_equal(s2->nfolders_unchanged, 2);
	assert_int_equal(s2->nzones, 6);
	assert_int_equal(s2->nzones_reused, 6);
	for (int n = 1; n <= 6; n++)
		assert_ptr_equal(zone_of(s2, n), zone_of(s1, n));
	/* The records outlive the snapshot that made them: a third
	 * generation still takes them, after the first is gone. */
	vd_snap_unref(s1);
	vd_snap_t *s3 = load("[f1/, f2/]", NULL, NULL, s2, w);
	assert_int_equal(s3->nfolders_unchanged, 2);
	assert_ptr_equal(zone_of(s3, 4), zone_of(s2, 4));
	vd_snap_unref(s2);
	assert_int_equal(apex_a(zone_of(s3, 4)), 4);
	vd_snap_unref(s3);
	vd_watch_free(w);
}

static void test_rewritten_file_is_seen(void **state)
{
	vd_watch_t *w = watch_new();

	(void)state;
	vd_snap_t *s1 = load("[f1/, f2/]", NULL, NULL, NULL, w);
	zone_write("f1", 2, 22);
	settle();
	vd_snap_t *s2 = load("[f1/, f2/]", NULL, NULL, s1, w);
	assert_int_equal(s2->nfolders_unchanged, 1);
	assert_int_equal(apex_a(zone_of(s2, 2)), 22);
	/* The other files of the changed folder are still shared (their
	 * stat shows them unchanged), and so is the other folder. */
	assert_ptr_equal(zone_of(s2, 1), zone_of(s1, 1));
	assert_ptr_equal(zone_of(s2, 5), zone_of(s1, 5));
	/* Then unchanged again. */
	vd_snap_t *s3 = load("[f1/, f2/]", NULL, NULL, s2, w);
	assert_int_equal(s3->nfolders_unchanged, 2);
	assert_int_equal(apex_a(zone_of(s3, 2)), 22);
	zone_write("f1", 2, 2);
	settle();
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_watch_free(w);
}

static void test_added_and_deleted_files_are_seen(void **state)
{
	vd_watch_t *w = watch_new();
	char path[512];

	(void)state;
	vd_snap_t *s1 = load("[f1/, f2/]", NULL, NULL, NULL, w);
	assert_null(zone_in(s1, "a", 9));
	zone_write("f2", 9, 9);
	settle();
	vd_snap_t *s2 = load("[f1/, f2/]", NULL, NULL, s1, w);
	assert_int_equal(s2->nfolders_unchanged, 1);
	assert_int_equal(apex_a(zone_of(s2, 9)), 9);
	snprintf(path, sizeof(path), "%s/f2/z9.zone", dir);
	assert_int_equal(unlink(path), 0);
	vd_snap_t *s3 = load("[f1/, f2/]", NULL, NULL, s2, w);
	assert_int_equal(s3->nfolders_unchanged, 1);
	assert_null(zone_in(s3, "a", 9));
	assert_int_equal(s3->nzones, 6);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_watch_free(w);
}

static void test_replaced_folder_is_seen(void **state)
{
	vd_watch_t *w = watch_new();
	char from[512], to[512];

	(void)state;
	subdir_new(dir, "f4");
	zone_write("f4", 10, 10);
	settle();
	vd_snap_t *s1 = load("[f4/]", NULL, NULL, NULL, w);
	assert_int_equal(apex_a(zone_of(s1, 10)), 10);
	/* Another folder renamed into its place, files of the same size. */
	subdir_new(dir, "f4.new");
	zone_write("f4.new", 10, 90);
	snprintf(from, sizeof(from), "%s/f4.new", dir);
	snprintf(to, sizeof(to), "%s/f4", dir);
	char old[512];
	snprintf(old, sizeof(old), "%s/f4.old", dir);
	assert_int_equal(rename(to, old), 0);
	assert_int_equal(rename(from, to), 0);
	settle();
	vd_snap_t *s2 = load("[f4/]", NULL, NULL, s1, w);
	assert_int_equal(s2->nfolders_unchanged, 0);
	assert_int_equal(apex_a(zone_of(s2, 10)), 90);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_watch_free(w);
}

static void test_symlinked_file_is_never_taken(void **state)
{
	vd_watch_t *w = watch_new();

	(void)state;
	vd_snap_t *s1 = load("[f3/]", NULL, NULL, NULL, w);
	assert_int_equal(apex_a(zone_of(s1, 8)), 8);
	vd_snap_t *s2 = load("[f3/]", NULL, NULL, s1, w);
	/* Listed again: its symlink's target is not watched... */
	assert_int_equal(s2->nfolders_unchanged, 0);
	/* ...and changes there, in a folder no view names, are seen. */
	zone_write("target", 8, 88);
	settle();
	vd_snap_t *s3 = load("[f3/]", NULL, NULL, s2, w);
	assert_int_equal(apex_a(zone_of(s3, 8)), 88);
	zone_write("target", 8, 8);
	settle();
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_watch_free(w);
}

static void test_other_fallback_has_its_zones(void **state)
{
	vd_watch_t *w = watch_new();
	const char *nx = "[{path: f1/, fallback: nxdomain}]";

	(void)state;
	vd_snap_t *s1 = load("[f1/]", nx, NULL, NULL, w);
	vd_snap_t *s2 = load("[f1/]", nx, NULL, s1, w);
	assert_int_equal(s2->nfolders, 1);
	assert_int_equal(s2->nfolders_unchanged, 1);
	assert_int_equal(s2->nzones, 6);
	assert_int_equal(s2->nzones_reused, 6);
	for (int n = 1; n <= 3; n++) {
		const vd_zone_t *za = zone_in(s2, "a", n), *zb = zone_in(s2, "b", n);

		assert_ptr_equal(za, zone_in(s1, "a", n));
		assert_ptr_equal(zb, zone_in(s1, "b", n));
		assert_ptr_not_equal(za, zb);
		assert_int_equal(vd_zone_fallback(za), VD_ZONE_FALLBACK_FORWARD);
		assert_int_equal(vd_zone_fallback(zb), VD_ZONE_FALLBACK_NXDOMAIN);
	}
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_watch_free(w);
}

static void test_watch_zones_off(void **state)
{
	vd_watch_t *w = watch_new();
	const char *off = "  watch_zones: false\n";

	(void)state;
	vd_snap_t *s1 = load("[f1/, f2/]", NULL, off, NULL, w);
	vd_snap_t *s2 = load("[f1/, f2/]", NULL, off, s1, w);
	assert_false(s2->server.watch_zones);
	assert_int_equal(s2->nfolders, 2);
	assert_int_equal(s2->nfolders_unchanged, 0);
	/* Still shared, on each file's stat. */
	assert_int_equal(s2->nzones_reused, 6);
	assert_int_equal(vd_watch_count(w), 0);
	/* Turned on again: the first build marks, the next one takes. */
	vd_snap_t *s3 = load("[f1/, f2/]", NULL, NULL, s2, w);
	assert_int_equal(s3->nfolders_unchanged, 0);
	vd_snap_t *s4 = load("[f1/, f2/]", NULL, NULL, s3, w);
	assert_int_equal(s4->nfolders_unchanged, 2);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_snap_unref(s4);
	vd_watch_free(w);
}

/* Records are for the watch that marked them. */
static void test_other_watch_takes_nothing(void **state)
{
	vd_watch_t *w1 = watch_new(), *w2 = watch_new();

	(void)state;
	vd_snap_t *s1 = load("[f1/, f2/]", NULL, NULL, NULL, w1);
	vd_snap_t *s2 = load("[f1/, f2/]", NULL, NULL, s1, w2);
	assert_int_equal(s2->nfolders_unchanged, 0);
	vd_snap_t *s3 = load("[f1/, f2/]", NULL, NULL, s2, NULL);
	assert_int_equal(s3->nfolders_unchanged, 0);
	vd_snap_unref(s1);
	vd_snap_unref(s2);
	vd_snap_unref(s3);
	vd_watch_free(w1);
	vd_watch_free(w2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged_folders_are_taken),
		cmocka_unit_test(test_rewritten_file_is_seen),
		cmocka_unit_test(test_added_and_deleted_files_are_seen),
		cmocka_unit_test(test_replaced_folder_is_seen),
		cmocka_unit_test(test_symlinked_file_is_never_taken),
		cmocka_unit_test(test_other_fallback_has_its_zones),
		cmocka_unit_test(test_watch_zones_off),
		cmocka_unit_test(test_other_watch_takes_nothing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
