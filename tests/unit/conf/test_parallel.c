/*
 * Unit tests of loading many zones at once: a build naming hundreds of
 * zone files loads them on several threads (one per CPU, more than
 * enough entries to split), yet reports exactly as a one-by-one load
 * would: each bad file's own "file:line" messages followed by the view
 * item that named it, in the order the config lists them, once however
 * many views share the file; every good zone reaches every view that
 * names it, shared by pointer; and a duplicate apex in one view names
 * both files. Under ThreadSanitizer this also checks that the loading
 * threads share nothing unguarded.
 */
#include "conf_test.h"

#include <sys/resource.h>

#include "vpcdns/conf.h"
#include "vpcdns/view.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

#define NZONES 300

static char dir[64];

static void zone_write(int n, const char *extra)
{
	char name[64], text[512], out[512];

	snprintf(name, sizeof(name), "many/z%03d.zone", n);
	snprintf(text, sizeof(text),
		 "$ORIGIN z%03d.example.\n$TTL 60\n"
		 "@ SOA ns hm 1 3600 600 86400 60\n@ A 10.0.%d.%d\n%s",
		 n, n / 250, n % 250 + 1, extra);
	file_write(dir, name, text, out);
}

static int setup(void **state)
{
	(void)state;
	tmpdir_new(dir);
	subdir_new(dir, "many");
	for (int n = 0; n < NZONES; n++)
		zone_write(n, "");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_rm(dir);
	return 0;
}

static int load(const char *third_zones, vd_snap_t **s, vd_errlist_t *errs)
{
	char text[2048], path[512];

	snprintf(text, sizeof(text),
		 "server:\n  listen: [\"127.0.0.1:5353\"]\n  directory: %s\n"
		 "upstreams:\n  up: [\"127.0.0.1:5301\"]\n"
		 "views:\n"
		 "  - name: a\n    clients: [\"10.1.0.0/16\"]\n"
		 "    forward: {\".\": up}\n    zones: [many/]\n"
		 "  - name: b\n    clients: [\"10.2.0.0/16\"]\n"
		 "    forward: {\".\": up}\n    zones: [many/]\n"
		 "  - name: c\n    clients: [\"10.3.0.0/16\"]\n"
		 "    forward: {\".\": up}\n    zones: %s\n",
		 dir, third_zones);
	file_write(dir, "vpcdns.yaml", text, path);
	vd_errlist_init(errs);
	return vd_conf_load(path, s, errs);
}

/* Index of the first message starting with prefix, or -1. */
static int find(const vd_errlist_t *e, const char *prefix)
{
	for (size_t i = 0; i < e->count; i++)
		if (strncmp(e->msgs[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

static void test_all_zones_in_every_view(void **state)
{
	vd_errlist_t errs;
	vd_snap_t *s = NULL;
	uint8_t apex[VD_NAME_MAX];
	size_t len;

	(void)state;
	assert_int_equal(load("[many/z007.zone]", &s, &errs), 0);
	assert_int_equal(errs.count, 0);
	const vd_view_t *a = vd_snap_view(s, "a"), *b = vd_snap_view(s, "b");
	assert_int_equal(vd_view_nzones(a), NZONES);
	assert_int_equal(vd_view_nzones(b), NZONES);
	assert_int_equal(vd_view_nzones(vd_snap_view(s, "c")), 1);
	/* In folder order, each loaded once and shared by both views. */
	for (size_t i = 0; i < NZONES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "z%03zu.example.", i);
		assert_int_equal(vd_name_from_text(name, apex, &len), 0);
		assert_true(vd_name_equal(vd_zone_apex(vd_view_zone(a, i)), apex));
		assert_ptr_equal(vd_view_zone(a, i), vd_view_zone(b, i));
	}
	assert_ptr_equal(vd_view_zone(vd_snap_view(s, "c"), 0), vd_view_zone(a, 7));
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

static void test_errors_in_config_order_once(void **state)
{
	char want[512];
	vd_errlist_t errs;
	vd_snap_t *s = NULL;
	int i10, i10v, i250, i250v, dup;

	(void)state;
	zone_write(10, "bad line here\n");
	zone_write(250, "@ CNAME elsewhere.example.\n");
	assert_int_equal(load("[many/z001.zone, {path: many/z001.zone, origin: "
			      "z001.example.}]",
			      &s, &errs),
			 VD_ECONF);
	assert_null(s);
	snprintf(want, sizeof(want), "%s/many/z010.zone:5: ", dir);
	i10 = find(&errs, want);
	snprintf(want, sizeof(want), "%s/vpcdns.yaml:", dir);
	i10v = -1;
	for (size_t i = 0; i < errs.count; i++)
		if (strstr(errs.msgs[i], "views[0].zones[0]: zone '") &&
		    strstr(errs.msgs[i], "z010.zone' has errors"))
			i10v = (int)i;
	snprintf(want, sizeof(want), "%s/many/z250.zone:5: ", dir);
	i250 = find(&errs, want);
	i250v = -1;
	dup = -1;
	for (size_t i = 0; i < errs.count; i++) {
		if (strstr(errs.msgs[i], "z250.zone' has errors"))
			i250v = (int)i;
		if (strstr(errs.msgs[i], "views[2].zones[1]: two zones for "
					 "'z001.example.' in view 'c'"))
			dup = (int)i;
	}
	/* Each file's messages, then the item naming it, in config order;
	 * view b names the same files and adds nothing. */
	assert_true(i10 >= 0 && i10v == i10 + 1);
	assert_true(i250 > i10v && i250v == i250 + 1);
	assert_true(dup > i250v);
	assert_int_equal(errs.count, 5);
	vd_errlist_deinit(&errs);
	zone_write(10, "");
	zone_write(250, "");
}

/* Under a low descriptor limit (a shell's 1024, or less, with a
 * thousand zone folders), a build holds at most one folder open per
 * loading thread, so every file can still be opened: 80 folders of one
 * zone each under a soft limit of 64. (Keeping every scanned folder open
 * for the loads fails here: the zone files cannot be opened.) */
static void test_many_folders_low_fd_limit(void **state)
{
	char text[16384], path[512], name[64], ztext[256];
	struct rlimit old, low;
	vd_errlist_t errs;
	vd_snap_t *s = NULL;
	size_t off;

	(void)state;
	off = (size_t)snprintf(text, sizeof(text),
			       "server:\n  listen: [\"127.0.0.1:5353\"]\n"
			       "  directory: %s\n"
			       "upstreams:\n  up: [\"127.0.0.1:5301\"]\nviews:\n",
			       dir);
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		subdir_new(dir, name);
		snprintf(name, sizeof(name), "f%02d/x.zone", i);
		snprintf(ztext, sizeof(ztext),
			 "$ORIGIN x%02d.example.\n@ 60 SOA ns hm 1 3600 600 86400 60\n"
			 "@ 60 A 10.9.0.%d\n",
			 i, i + 1);
		file_write(dir, name, ztext, path);
		off += (size_t)snprintf(
			text + off, sizeof(text) - off,
			"  - name: v%02d\n    clients: [\"10.%d.0.0/16\"]\n"
			"    forward: {\".\": up}\n    zones: [f%02d/]\n",
			i, i + 10, i);
	}
	file_write(dir, "vpcdns.yaml", text, path);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	vd_errlist_init(&errs);
	int r = vd_conf_load(path, &s, &errs);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	assert_int_equal(r, 0);
	assert_int_equal(errs.count, 0);
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "v%02d", i);
		assert_int_equal(vd_view_nzones(vd_snap_view(s, name)), 1);
	}
	vd_snap_unref(s);
	vd_errlist_deinit(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_zones_in_every_view),
		cmocka_unit_test(test_errors_in_config_order_once),
		cmocka_unit_test(test_many_folders_low_fd_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
