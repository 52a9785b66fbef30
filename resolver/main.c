/*
 * vpcdns: the command line. Without -c the configuration is the build's
 * default (vpcdns/paths.h). --check loads and validates a configuration
 * as a reload would and exits; otherwise the daemon module loads it,
 * starts the workers and serves until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/conf.h"
#include "vpcdns/daemon.h"
#include "vpcdns/paths.h"
#include "vpcdns/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vpcdns [-c FILE] [-v]\n"
		"       vpcdns --check [-c FILE]\n"
		"\n"
		"  -c, --config FILE  configuration file (YAML); default:\n"
		"                     " VD_DEFAULT_CONF_FILE "\n"
		"  -k, --check        load and validate the configuration and every\n"
		"                     zone as a reload would, print errors, and exit\n"
		"  -v, --verbose      log at debug level\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         print this help and exit\n"
		"\n"
		"Signals: SIGHUP reloads, SIGUSR1 logs statistics, SIGTERM and "
		"SIGINT stop.\n"
		"\n"
		"Default paths (fixed at build time):\n"
		"  configuration      " VD_DEFAULT_CONF_FILE "\n"
		"  control socket     " VD_DEFAULT_CTL_SOCKET "\n"
		"  state directory    " VD_DEFAULT_STATE_DIR "\n");
}

static int check_only(const char *path)
{
	vd_errlist_t errs, warns;
	vd_snap_t *snap = NULL;
	vd_errlist_init(&errs);
	vd_errlist_init(&warns);
	int rc = vd_conf_check(path, &snap, &errs, &warns);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	for (size_t i = 0; i < warns.count; i++)
		fprintf(stderr, "%s\n", warns.msgs[i]);
	if (rc == 0) {
		size_t zones = 0;
		for (size_t i = 0; i < snap->nviews; i++)
			zones += vd_view_nzones(snap->views[i]);
		printf("%s: ok (%zu views, %zu upstream groups, %zu zone uses)\n", path,
		       snap->nviews, snap->ngroups, zones);
	}
	vd_snap_unref(snap);
	vd_errlist_deinit(&errs);
	vd_errlist_deinit(&warns);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	vd_daemon_opts_t o;
	vd_daemon_t *d = NULL;
	bool check = false;
	int c;

	memset(&o, 0, sizeof(o));
	o.conf_path = VD_DEFAULT_CONF_FILE;
	while ((c = getopt_long(argc, argv, "c:kvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.conf_path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'v':
			o.verbose = true;
			vd_log_set_level(VD_LOG_DEBUG);
			break;
		case 'V':
			printf("vpcdns %s\n", VD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_only(o.conf_path);

	signal(SIGPIPE, SIG_IGN);
	if (vd_daemon_new(&o, &d) != 0)
		return 1;
	vd_daemon_run(d);
	vd_daemon_free(d);
	vd_log(VD_LOG_INFO, "stopped");
	return 0;
}
