/*
 * Unit tests of the zone folders' watch: a folder marked and left alone
 * stays unchanged across drains; every kind of change in it (a file
 * written, its mode changed, one created, deleted, renamed in or out) and
 * to it (replaced by another folder at the same path) makes it changed;
 * a change in one folder leaves another unchanged; a mark is only good
 * for the watch that made it; a folder marked again after a change is
 * unchanged from then on; and prune stops watching folders not marked
 * since the last prune, which then count as changed; and events lost to
 * an overflowed queue make every earlier mark count as changed; and
 * folders on network file systems are not watched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/vfs.h>

#include "watch_int.h"

static char root[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/vdwatch-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return 0;
}

/* root/name as a new folder; its path in out (256 bytes). */
static void folder(const char *name, char *out)
{
	snprintf(out, 256, "%s/%s", root, name);
	assert_int_equal(mkdir(out, 0755), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void stat_of(const char *dir, struct stat *st)
{
	assert_int_equal(stat(dir, st), 0);
}

/* A watch with folder dir marked, holding one file "a.zone". */
static vd_watch_t *marked(const char *dir, vd_watch_mark_t *m, struct stat *st)
{
	vd_watch_t *w = NULL;

	write_file(dir, "a.zone", "one\n");
	assert_int_equal(vd_watch_new(&w), 0);
	assert_int_equal(vd_watch_drain(w), 0);
	stat_of(dir, st);
	assert_int_equal(vd_watch_mark(w, dir, st, m), 0);
	return w;
}

static bool unchanged_now(vd_watch_t *w, const vd_watch_mark_t *m, const char *dir)
{
	struct stat st;

	assert_int_equal(vd_watch_drain(w), 0);
	if (stat(dir, &st) < 0)
		return false;
	return vd_watch_unchanged(w, m, &st);
}

static void test_left_alone_is_unchanged(void **state)
{
	char dir[256];
	vd_watch_mark_t m;
	struct stat st;
	vd_watch_t *w;

	(void)state;
	folder("alone", dir);
	w = marked(dir, &m, &st);
	assert_true(unchanged_now(w, &m, dir));
	/* Reading is not a change. */
	assert_int_equal(access(dir, R_OK), 0);
	assert_true(unchanged_now(w, &m, dir));
	assert_true(unchanged_now(w, &m, dir));
	assert_int_equal(vd_watch_count(w), 1);
	vd_watch_free(w);
}

/* One change of each kind, each to a freshly marked folder. */
static void test_every_change_is_seen(void **state)
{
	const char *kinds[] = { "write",     "chmod",	   "create",  "delete",
				"rename-in", "rename-out", "truncate" };
	char other[256];

	(void)state;
	folder("elsewhere", other);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char dir[256], name[32], a[512], b[512];
		vd_watch_mark_t m;
		struct stat st;
		vd_watch_t *w;

		snprintf(name, sizeof(name), "kind%zu", k);
		folder(name, dir);
		w = marked(dir, &m, &st);
		assert_true(unchanged_now(w, &m, dir));
		snprintf(a, sizeof(a), "%s/a.zone", dir);
		if (strcmp(kinds[k], "write") == 0) {
			write_file(dir, "a.zone", "two\n");
		} else if (strcmp(kinds[k], "chmod") == 0) {
			assert_int_equal(chmod(a, 0600), 0);
		} else if (strcmp(kinds[k], "create") == 0) {
			write_file(dir, "b.zone", "new\n");
		} else if (strcmp(kinds[k], "delete") == 0) {
			assert_int_equal(unlink(a), 0);
		} else if (strcmp(kinds[k], "rename-in") == 0) {
			write_file(other, "in.zone", "moved\n");
			snprintf(b, sizeof(b), "%s/in.zone", other);
			assert_int_equal(rename(b, a), 0);
		} else if (strcmp(kinds[k], "rename-out") == 0) {
			snprintf(b, sizeof(b), "%s/out%zu.zone", other, k);
			assert_int_equal(rename(a, b), 0);
		} else {
			assert_int_equal(truncate(a, 0), 0);
		}
		if (unchanged_now(w, &m, dir))
			fail_msg("a %s in the folder was not seen", kinds[k]);
		/* Marked again, the folder is unchanged from there on. */
		stat_of(dir, &st);
		assert_int_equal(vd_watch_mark(w, dir, &st, &m), 0);
		assert_true(unchanged_now(w, &m, dir));
		vd_watch_free(w);
	}
}

static void test_replaced_folder_is_changed(void **state)
{
	char dir[256], moved[512];
	vd_watch_mark_t m;
	struct stat st;
	vd_watch_t *w;

	(void)state;
	folder("replaced", dir);
	w = marked(dir, &m, &st);
	snprintf(moved, sizeof(moved), "%s.old", dir);
	assert_int_equal(rename(dir, moved), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(dir, "a.zone", "one\n");
	assert_false(unchanged_now(w, &m, dir));
	/* The new folder, marked, is watched on its own. */
	stat_of(dir, &st);
	assert_int_equal(vd_watch_mark(w, dir, &st, &m), 0);
	assert_true(unchanged_now(w, &m, dir));
	vd_watch_free(w);
}

static void test_deleted_folder_is_changed(void **state)
{
	char dir[256], file[512];
	vd_watch_mark_t m;
	struct stat st;
	vd_watch_t *w;

	(void)state;
	folder("deleted", dir);
	w = marked(dir, &m, &st);
	snprintf(file, sizeof(file), "%s/a.zone", dir);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(vd_watch_drain(w), 0);
	/* Even asked with the old folder's stat. */
	assert_false(vd_watch_unchanged(w, &m, &st));
	/* The kernel dropped the watch. */
	assert_int_equal(vd_watch_count(w), 0);
	vd_watch_free(w);
}

static void test_folders_are_apart(void **state)
{
	char d1[256], d2[256];
	vd_watch_mark_t m1, m2;
	struct stat st;
	vd_watch_t *w;

	(void)state;
	folder("apart1", d1);
	folder("apart2", d2);
	w = marked(d1, &m1, &st);
	write_file(d2, "a.zone", "one\n");
	stat_of(d2, &st);
	assert_int_equal(vd_watch_mark(w, d2, &st, &m2), 0);
	write_file(d2, "a.zone", "two\n");
	assert_true(unchanged_now(w, &m1, d1));
	assert_false(unchanged_now(w, &m2, d2));
	assert_int_equal(vd_watch_count(w), 2);
	vd_watch_free(w);
}

static void test_mark_of_another_watch(void **state)
{
	char dir[256];
	vd_watch_mark_t m;
	struct stat st;
	vd_watch_t *w, *other = NULL;

	(void)state;
	folder("another", dir);
	w = marked(dir, &m, &st);
	assert_int_equal(vd_watch_new(&other), 0);
	stat_of(dir, &st);
	assert_false(vd_watch_unchanged(other, &m, &st));
	assert_true(vd_watch_unchanged(w, &m, &st));
	vd_watch_free(other);
	vd_watch_free(w);
}

static void test_prune(void **state)
{
	char d1[256], d2[256];
	vd_watch_mark_t m1, m2;
	struct stat st1, st2;
	vd_watch_t *w;

	(void)state;
	folder("prune1", d1);
	folder("prune2", d2);
	w = marked(d1, &m1, &st1);
	stat_of(d2, &st2);
	assert_int_equal(vd_watch_mark(w, d2, &st2, &m2), 0);
	/* Both marked since the start: both kept. */
	vd_watch_prune(w);
	assert_int_equal(vd_watch_count(w), 2);
	/* Only d1 is asked about (found unchanged) before the next prune. */
	assert_true(unchanged_now(w, &m1, d1));
	vd_watch_prune(w);
	assert_int_equal(vd_watch_count(w), 1);
	assert_false(unchanged_now(w, &m2, d2));
	/* Nothing asked about d1 since: it goes too. */
	vd_watch_prune(w);
	assert_int_equal(vd_watch_count(w), 0);
	assert_false(unchanged_now(w, &m1, d1));
	vd_watch_free(w);
}

/* Many folders: the table grows and every one is still found. */
static void test_many_folders(void **state)
{
	enum { N = 300 };
	vd_watch_mark_t *m = calloc(N, sizeof(*m));
	vd_watch_t *w = NULL;
	char dir[256], name[32];
	struct stat st;

	(void)state;
	assert_non_null(m);
	assert_int_equal(vd_watch_new(&w), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "many%d", i);
		folder(name, dir);
		stat_of(dir, &st);
		assert_int_equal(vd_watch_mark(w, dir, &st, &m[i]), 0);
	}
	assert_int_equal(vd_watch_count(w), N);
	snprintf(dir, sizeof(dir), "%s/many%d", root, 137);
	write_file(dir, "x.zone", "x\n");
	for (int i = 0; i < N; i++) {
		snprintf(dir, sizeof(dir), "%s/many%d", root, i);
		assert_int_equal(unchanged_now(w, &m[i], dir), i != 137);
	}
	free(m);
	vd_watch_free(w);
}

/* More events than the kernel queues: they are lost, so every mark made
 * before counts as changed, even that of a folder that saw none. */
static void test_overflow_changes_everything(void **state)
{
	char quiet[256], busy[256], path[512];
	vd_watch_mark_t mq, mb;
	long max = 0;
	struct stat st;
	vd_watch_t *w;
	FILE *f;

	(void)state;
	f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (!f || fscanf(f, "%ld", &max) != 1 || max > 100000) {
		if (f)
			fclose(f);
		skip(); /* too many events to make in a unit test */
	}
	fclose(f);
	folder("quiet", quiet);
	folder("busy", busy);
	w = marked(quiet, &mq, &st);
	stat_of(busy, &st);
	assert_int_equal(vd_watch_mark(w, busy, &st, &mb), 0);
	/* Each creation and deletion is an event of its own. */
	for (long i = 0; i <= max / 2 + 1; i++) {
		snprintf(path, sizeof(path), "%s/f%ld", busy, i);
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(unlink(path), 0);
	}
	assert_false(unchanged_now(w, &mq, quiet));
	assert_false(unchanged_now(w, &mb, busy));
	/* Marked again after the loss, a folder is unchanged again. */
	stat_of(quiet, &st);
	assert_int_equal(vd_watch_mark(w, quiet, &st, &mq), 0);
	assert_true(unchanged_now(w, &mq, quiet));
	vd_watch_free(w);
}

/* Network file systems are not watched; local ones, and the one this
 * test runs on, are. */
static void test_remote_file_systems(void **state)
{
	static const unsigned long remote[] = { 0x6969 /* NFS */, 0xff534d42 /* CIFS */,
						0xfe534d42 /* SMB2 */,
						0x65735546 /* FUSE */,
						0x00c36400 /* Ceph */ };
	static const unsigned long local[] = { 0xef53 /* ext4 */, 0x58465342 /* XFS */,
					       0x9123683e /* Btrfs */,
					       0x01021994 /* tmpfs */ };
	struct statfs fs;

	(void)state;
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		assert_true(vd_watch_fs_remote(remote[i]));
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		assert_false(vd_watch_fs_remote(local[i]));
	assert_int_equal(statfs(root, &fs), 0);
	assert_false(vd_watch_fs_remote((unsigned long)fs.f_type));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_left_alone_is_unchanged),
		cmocka_unit_test(test_every_change_is_seen),
		cmocka_unit_test(test_replaced_folder_is_changed),
		cmocka_unit_test(test_deleted_folder_is_changed),
		cmocka_unit_test(test_folders_are_apart),
		cmocka_unit_test(test_mark_of_another_watch),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_many_folders),
		cmocka_unit_test(test_overflow_changes_everything),
		cmocka_unit_test(test_remote_file_systems),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
