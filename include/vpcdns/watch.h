/*
 * watch: which zone folders changed since a given moment, as the kernel
 * reports it (inotify). A build marks a folder (vd_watch_mark) before it
 * lists the folder and reads its files; a later build drains the events
 * queued since (vd_watch_drain) and asks whether the folder saw any
 * (vd_watch_unchanged). A folder that saw none still holds exactly the
 * files, with exactly the contents, the marking build read: the build may
 * take them from the snapshot it replaces without a stat.
 *
 * Whatever the watch cannot vouch for counts as a change: an event of any
 * kind in the folder or on it, an overflowed event queue, a read error, a
 * watch the kernel dropped (the folder deleted or unmounted), a folder
 * replaced by another at the same path, a mark made by another watch.
 * Folders on network file systems are not watched (vd_watch_mark fails):
 * changes made by other hosts raise no event here.
 *
 * What a folder's watch cannot see: a file changed through a hard link in
 * another folder, or written through a shared mapping. server.watch_zones
 * turns the watch off for setups that change zone files that way.
 *
 * Threads: a watch is used by one thread at a time (the daemon runs one
 * build at a time); it takes no lock. Ownership: vd_watch_new's watch
 * belongs to the caller, who frees it after the last build using it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct vd_watch vd_watch_t;

/* What was true when a folder was marked: which watch, which folder
 * (device and inode), and the watch's event count then. */
typedef struct vd_watch_mark {
	uint64_t watch; /* the watch's own number: marks of another never match */
	uint64_t seq;
	uint64_t dev, ino;
	int wd;
} vd_watch_mark_t;

/* A new watch (an inotify instance, non-blocking). 0 or -errno. */
int vd_watch_new(vd_watch_t **out);
void vd_watch_free(vd_watch_t *w); /* NULL is ok */

/* Reads every event queued so far and records, per folder, the count at
 * its last one. 0, or -errno after a read error (then every mark made
 * before counts as changed). */
int vd_watch_drain(vd_watch_t *w);

/* Watches folder dir, whose stat is st, from now on, and fills *out. Call
 * before listing the folder and reading its files. 0, or -errno (the
 * folder is not watched: -EOPNOTSUPP on a network file system, -ENOSPC
 * past the system's inotify watch limit). */
int vd_watch_mark(vd_watch_t *w, const char *dir, const struct stat *st,
		  vd_watch_mark_t *out);

/* Whether nothing happened in or to the folder marked m, which stat st
 * shows now, up to the last vd_watch_drain. A folder found unchanged
 * counts as marked again (vd_watch_prune keeps it). */
bool vd_watch_unchanged(vd_watch_t *w, const vd_watch_mark_t *m, const struct stat *st);

/* Folders watched now (each counts against fs.inotify.max_user_watches). */
size_t vd_watch_count(const vd_watch_t *w);

/* Stops watching every folder not marked since the last call (or since
 * the watch was made): the daemon calls it after a build is in use, so
 * folders no configuration names any more stop costing a kernel watch.
 * Marks of those folders then count as changed. */
void vd_watch_prune(vd_watch_t *w);
