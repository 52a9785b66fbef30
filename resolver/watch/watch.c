/*
 * The zone folders' watch (vpcdns/watch.h): one inotify instance, and per
 * watch descriptor the folder it is on and the event count at the folder's
 * last event. Events are counted, never kept: a build only asks whether
 * a folder saw any since its mark, so one number per folder answers it
 * however many events arrive. The descriptors are kept in an open
 * addressing table (a daemon watching a thousand folders looks one up per
 * folder per build).
 */
#include "watch_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Anything that can change what a folder lists or what its files hold,
 * and anything that happens to the folder itself. IN_ONLYDIR: a path
 * that is no longer a folder is not watched. */
#define WATCH_EVENTS                                                      \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | \
	 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

typedef struct went {
	int wd;	    /* 0: empty slot (inotify descriptors start at 1) */
	bool alive; /* false once the kernel dropped the watch */
	bool used;  /* marked or found unchanged since the last prune */
	uint64_t dev, ino;
	uint64_t last; /* the count at the folder's last event */
} went_t;

struct vd_watch {
	int fd;
	uint64_t id;
	uint64_t seq;	   /* events and other happenings counted so far */
	uint64_t lost_seq; /* the count when events were last lost */
	went_t *slots;	   /* malloc'd; mask + 1 of them, at most half used */
	size_t mask, n;
};

static atomic_uint_fast64_t next_id = 1;

int vd_watch_new(vd_watch_t **out)
{
	vd_watch_t *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->slots = calloc(64, sizeof(*w->slots));
	if (w->fd < 0 || !w->slots) {
		err = w->fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	w->mask = 63;
	w->id = atomic_fetch_add(&next_id, 1);
	*out = w;
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w->slots);
	free(w);
	return err;
}

void vd_watch_free(vd_watch_t *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w->slots);
	free(w);
}

static size_t slot_of(int wd, size_t mask)
{
	return ((uint32_t)wd * 0x9e3779b1u) & mask;
}

static went_t *find(const vd_watch_t *w, int wd)
{
	for (size_t i = slot_of(wd, w->mask);; i = (i + 1) & w->mask) {
		if (w->slots[i].wd == wd)
			return &w->slots[i];
		if (!w->slots[i].wd)
			return NULL;
	}
}

/* Puts e (not in the table) in slots of mask + 1. */
static void put(went_t *slots, size_t mask, const went_t *e)
{
	size_t i = slot_of(e->wd, mask);

	while (slots[i].wd)
		i = (i + 1) & mask;
	slots[i] = *e;
}

static int grow(vd_watch_t *w)
{
	size_t mask = w->mask * 2 + 1;
	went_t *slots;

	if ((w->n + 1) * 2 <= w->mask + 1)
		return 0;
	slots = calloc(mask + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= w->mask; i++)
		if (w->slots[i].wd)
			put(slots, mask, &w->slots[i]);
	free(w->slots);
	w->slots = slots;
	w->mask = mask;
	return 0;
}

/* Removes entry e: the entries after it in its run move up, so every
 * probe still finds them. */
static void drop(vd_watch_t *w, went_t *e)
{
	size_t i = (size_t)(e - w->slots);

	w->slots[i].wd = 0;
	w->n--;
	for (size_t j = (i + 1) & w->mask; w->slots[j].wd; j = (j + 1) & w->mask) {
		went_t moved = w->slots[j];

		w->slots[j].wd = 0;
		put(w->slots, w->mask, &moved);
	}
}

static void on_event(vd_watch_t *w, const struct inotify_event *ev)
{
	went_t *e;

	if (ev->mask & IN_Q_OVERFLOW) {
		w->lost_seq = ++w->seq;
		return;
	}
	e = find(w, ev->wd);
	if (!e)
		return;
	e->last = ++w->seq;
	/* The kernel removed the watch (folder deleted, file system
	 * unmounted): the descriptor may be given to another folder. */
	if (ev->mask & IN_IGNORED)
		drop(w, e);
}

int vd_watch_drain(vd_watch_t *w)
{
	/* Aligned for struct inotify_event, as inotify(7) asks. */
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;

			w->lost_seq = ++w->seq;
			return err;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev =
				(const struct inotify_event *)p;

			on_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

bool vd_watch_fs_remote(unsigned long f_type)
{
	static const unsigned long remote[] = {
		0x6969,	    /* NFS */
		0x517b,	    /* SMB */
		0xff534d42, /* CIFS */
		0xfe534d42, /* SMB2 */
		0x65735546, /* FUSE */
		0x01021997, /* 9P */
		0x00c36400, /* Ceph */
		0x5346414f, /* AFS */
		0x6b414653, /* kAFS */
		0x73757245, /* Coda */
		0x7461636f, /* OCFS2 */
		0x01161970, /* GFS2 */
	};

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (f_type == remote[i])
			return true;
	return false;
}

static bool remote_fs(const char *dir)
{
	struct statfs fs;

	/* Cannot tell: not watched. */
	return statfs(dir, &fs) < 0 || vd_watch_fs_remote((unsigned long)fs.f_type);
}

int vd_watch_mark(vd_watch_t *w, const char *dir, const struct stat *st,
		  vd_watch_mark_t *out)
{
	went_t *e;
	int wd;

	memset(out, 0, sizeof(*out));
	if (remote_fs(dir))
		return -EOPNOTSUPP;
	if (grow(w) < 0)
		return -ENOMEM;
	wd = inotify_add_watch(w->fd, dir, WATCH_EVENTS);
	if (wd < 0)
		return -errno;
	e = find(w, wd);
	if (e && (e->dev != (uint64_t)st->st_dev || e->ino != (uint64_t)st->st_ino)) {
		/* The descriptor of a folder the kernel dropped, whose
		 * IN_IGNORED is not read yet, now on another one: marks of
		 * the old folder must not match. */
		e->dev = (uint64_t)st->st_dev;
		e->ino = (uint64_t)st->st_ino;
		e->last = ++w->seq;
	}
	if (!e) {
		went_t fresh = { .wd = wd,
				 .dev = (uint64_t)st->st_dev,
				 .ino = (uint64_t)st->st_ino,
				 .last = w->seq };
		put(w->slots, w->mask, &fresh);
		w->n++;
		e = find(w, wd);
	}
	e->used = true;
	*out = (vd_watch_mark_t){
		.watch = w->id, .seq = w->seq, .dev = e->dev, .ino = e->ino, .wd = wd
	};
	return 0;
}

bool vd_watch_unchanged(vd_watch_t *w, const vd_watch_mark_t *m, const struct stat *st)
{
	went_t *e;

	if (m->watch != w->id || m->wd <= 0 || w->lost_seq > m->seq)
		return false;
	if (m->dev != (uint64_t)st->st_dev || m->ino != (uint64_t)st->st_ino)
		return false;
	e = find(w, m->wd);
	if (!e || e->dev != m->dev || e->ino != m->ino || e->last > m->seq)
		return false;
	e->used = true;
	return true;
}

size_t vd_watch_count(const vd_watch_t *w)
{
	return w ? w->n : 0;
}

void vd_watch_prune(vd_watch_t *w)
{
	int *stale = malloc((w->n ? w->n : 1) * sizeof(*stale));
	size_t n = 0;

	if (!stale)
		return; /* kept until the next prune */
	/* Collected first: dropping an entry moves others in the table. */
	for (size_t i = 0; i <= w->mask; i++) {
		went_t *e = &w->slots[i];

		if (e->wd && !e->used)
			stale[n++] = e->wd;
		e->used = false;
	}
	for (size_t i = 0; i < n; i++) {
		inotify_rm_watch(w->fd, stale[i]); /* its IN_IGNORED finds no entry */
		drop(w, find(w, stale[i]));
	}
	free(stale);
}
