/*
 * Privilege drop: started as root, vpcdns binds its sockets and then
 * becomes server.user (supplementary groups, then the group, then the
 * user, in that order, so that no step needs a privilege an earlier one
 * gave up), and checks that root cannot be regained. Reloads then read
 * the configuration and zones as that user. Under systemd the unit's
 * User= does this before vpcdns starts, with CAP_NET_BIND_SERVICE as an
 * ambient capability for port 53, and there is nothing left to drop.
 */
#include "daemon_int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Resolves server.user (and server.group) to ids; -1 after logging. */
static int lookup(const vd_server_conf_t *s, uid_t *uid, gid_t *gid)
{
	char buf[4096];
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;

	if (getpwnam_r(s->user, &pw, buf, sizeof(buf), &pres) != 0 || pres == NULL) {
		vd_log(VD_LOG_ERR, "server.user: cannot find user '%s'", s->user);
		return -1;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	if (s->group == NULL)
		return 0;
	if (getgrnam_r(s->group, &gr, buf, sizeof(buf), &gres) != 0 || gres == NULL) {
		vd_log(VD_LOG_ERR, "server.group: cannot find group '%s'", s->group);
		return -1;
	}
	*gid = gr.gr_gid;
	return 0;
}

/* Whether every id is the target's and root is out of reach. */
static bool dropped(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return false;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return false;
	/* uid 0 is the target only when asked for (server.user: root). */
	return uid == 0 || (setuid(0) != 0 && seteuid(0) != 0);
}

int vd_daemon_drop_privileges(const vd_server_conf_t *s)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		if (s->user != NULL && lookup(s, &uid, &gid) == 0 && uid != geteuid())
			vd_log(VD_LOG_WARN,
			       "server.user '%s' ignored: not started as root "
			       "(running as uid %lu)",
			       s->user, (unsigned long)geteuid());
		return 0;
	}
	if (s->user == NULL) {
		vd_log(VD_LOG_WARN, "running as root: set server.user (or run the "
				    "systemd unit, User=vpcdns) to drop privileges "
				    "after binding");
		return 0;
	}
	if (lookup(s, &uid, &gid) != 0)
		return -1;
	if (initgroups(s->user, gid) != 0) {
		vd_log(VD_LOG_ERR, "cannot set the groups of '%s': %s", s->user,
		       strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
		vd_log(VD_LOG_ERR, "cannot switch to user '%s': %s", s->user,
		       strerror(errno));
		return -1;
	}
	if (!dropped(uid, gid)) {
		vd_log(VD_LOG_ERR,
		       "switched to user '%s' but root can be regained; "
		       "stopping",
		       s->user);
		return -1;
	}
	vd_log(VD_LOG_INFO, "running as user %s (uid %lu, gid %lu)", s->user,
	       (unsigned long)uid, (unsigned long)gid);
	return 0;
}
