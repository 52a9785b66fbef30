/*
 * vpcdns-sync: one command from AWS to answers. For each configured
 * account (AWS CLI profile) and region it runs the four aws ec2 describe
 * calls through the AWS CLI, retrying throttled calls with back-off and
 * jitter; then vpcdns-import (atomic, --prune, one --source per account
 * and region that fully succeeded, so the VPCs of a failed one keep their
 * last good data), vpcdns --check when configured, and vpcdnsctl reload;
 * and prints what changed and the new generation. A failed check or
 * reload puts the previous import back. Credentials are the AWS CLI's
 * business: this program never reads them. See vpcdns-sync(8).
 */
#include "vpcdns/sync.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PROG "vpcdns-sync"
#define DEFAULT_CONFIG "/etc/vpcdns/sync.yaml"

static const struct {
	const char *call, *key;
} calls[] = {
	{ "describe-vpcs", "Vpcs" },
	{ "describe-vpc-endpoints", "VpcEndpoints" },
	{ "describe-network-interfaces", "NetworkInterfaces" },
	{ "describe-subnets", "Subnets" },
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

/* One account and region: its source name and its four files. */
typedef struct pair {
	const char *profile, *region;
	char source[160];
	char *files[NCALLS];
	bool ok;
} pair_t;

typedef struct sync {
	const vd_sync_conf_t *c;
	char tmp[64];
	char selfdir[PATH_MAX];
	pair_t *pairs;
	size_t npairs;
} sync_t;

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s [-c CONFIG]\n"
		"\n"
		"Fetches the VPC endpoint inventory of every configured account and\n"
		"region with the AWS CLI, imports it (vpcdns-import --prune), checks\n"
		"it (vpcdns --check) and reloads vpcdns (vpcdnsctl reload), then\n"
		"prints what changed and the new generation.\n"
		"\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -h, --help         show this help\n"
		"  --version          show the version\n"
		"\n"
		"Exit status: 0 all synced, 1 any failure (the last good data keeps\n"
		"serving), 2 usage or configuration error. See vpcdns-sync(8).\n",
		PROG, DEFAULT_CONFIG);
}

/* The first line of a tool's error output, for a one-line message. */
static const char *first_line(const char *s, char *buf, size_t len)
{
	while (s && (*s == '\n' || *s == '\r' || *s == ' '))
		s++;
	snprintf(buf, len, "%.*s", s ? (int)strcspn(s, "\r\n") : 0, s ? s : "");
	return *buf ? buf : "(no message)";
}

/* A tool next to this program, else the name for a PATH search. */
static const char *tool(const sync_t *s, const char *conf, const char *name, char *buf,
			size_t len)
{
	if (conf)
		return conf;
	if (snprintf(buf, len, "%s/%s", s->selfdir, name) >= (int)len)
		return name;
	return *s->selfdir && access(buf, X_OK) == 0 ? buf : name;
}

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL) * 2654435761u;
	return r;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The call's output must be a JSON object with the call's key. */
static bool valid_json(const char *path, const char *key, char *why, size_t len)
{
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	bool ok = doc && json_is_object(doc) && json_object_get(doc, key);

	if (!doc)
		snprintf(why, len, "invalid JSON: line %d column %d: %s", je.line,
			 je.column, je.text);
	else if (!ok)
		snprintf(why, len, "unexpected JSON: no %s key", key);
	json_decref(doc);
	return ok;
}

/* One describe call, retried while throttled. Returns 0 or -1 (said). */
static int fetch(const sync_t *s, pair_t *p, size_t k)
{
	const vd_sync_conf_t *c = s->c;
	char *argv[16], *err = NULL, line[512], why[512];
	const char *aws = c->aws ? c->aws : "aws";
	int n = 0, status = -1, rc;

	argv[n++] = (char *)aws;
	argv[n++] = "ec2";
	argv[n++] = (char *)calls[k].call;
	argv[n++] = "--region";
	argv[n++] = (char *)p->region;
	if (p->profile) {
		argv[n++] = "--profile";
		argv[n++] = (char *)p->profile;
	}
	argv[n++] = "--output";
	argv[n++] = "json";
	argv[n++] = "--no-cli-pager";
	argv[n] = NULL;
	for (unsigned attempt = 1;; attempt++) {
		free(err);
		err = NULL;
		rc = vd_sync_run(argv, p->files[k], &err, &status);
		if (rc == 0 && status == 0)
			break;
		if (rc == 0 && vd_sync_throttled(err) && attempt < c->tries) {
			unsigned ms = vd_sync_backoff_ms(attempt, c->base_ms, c->max_ms,
							 rnd32());

			fprintf(stderr,
				"%s: %s: aws ec2 %s: throttled (try %u of %u), again "
				"in "
				"%u ms\n",
				PROG, p->source, calls[k].call, attempt, c->tries, ms);
			sleep_ms(ms);
			continue;
		}
		fprintf(stderr, "%s: %s: aws ec2 %s failed%s%s: %s\n", PROG, p->source,
			calls[k].call,
			rc == 0 && vd_sync_throttled(err) ? " (still throttled after "
							    "every try)"
							  : "",
			rc == 0 ? "" : " to start",
			first_line(err, line, sizeof(line)));
		free(err);
		return -1;
	}
	free(err);
	if (!valid_json(p->files[k], calls[k].key, why, sizeof(why))) {
		fprintf(stderr, "%s: %s: aws ec2 %s: %s\n", PROG, p->source,
			calls[k].call, why);
		return -1;
	}
	return 0;
}

static int make_pairs(sync_t *s)
{
	const vd_sync_conf_t *c = s->c;
	size_t n = 0;

	for (size_t i = 0; i < c->naccounts; i++)
		n += c->accounts[i].nregions;
	s->pairs = calloc(n ? n : 1, sizeof(*s->pairs));
	if (!s->pairs)
		return -ENOMEM;
	for (size_t i = 0; i < c->naccounts; i++) {
		for (size_t r = 0; r < c->accounts[i].nregions; r++) {
			pair_t *p = &s->pairs[s->npairs];

			p->profile = c->accounts[i].profile;
			p->region = c->accounts[i].regions[r];
			/* "profile/region": how the manifest and messages name
			 * it; the default credentials are "default". */
			snprintf(p->source, sizeof(p->source), "%s/%s",
				 p->profile ? p->profile : "default", p->region);
			for (size_t k = 0; k < NCALLS; k++) {
				if (asprintf(&p->files[k], "%s/%zu-%s.json", s->tmp,
					     s->npairs, calls[k].call) < 0) {
					p->files[k] = NULL;
					return -ENOMEM;
				}
			}
			s->npairs++;
		}
	}
	return 0;
}

/* The versioned folder the output link names now ("" when none). */
static void current_version(const char *out, char *buf, size_t len)
{
	char target[PATH_MAX];
	const char *slash = strrchr(out, '/');
	ssize_t n = readlink(out, target, sizeof(target) - 1);

	if (n <= 0) {
		*buf = '\0';
		return;
	}
	target[n] = '\0';
	if (target[0] == '/' || !slash)
		n = snprintf(buf, len, "%s", target);
	else
		n = snprintf(buf, len, "%.*s/%s", (int)(slash - out), out, target);
	if (n < 0 || (size_t)n >= len)
		*buf = '\0';
}

/* Points the output link back at the version it named before. */
static void restore(const char *out, const char *old)
{
	char link[PATH_MAX], *tmp = NULL;
	const char *base = strrchr(old, '/');

	if (!*old) {
		fprintf(stderr,
			"%s: there is no earlier import to restore: %s stays as "
			"imported\n",
			PROG, out);
		return;
	}
	snprintf(link, sizeof(link), "%s", base ? base + 1 : old);
	if (asprintf(&tmp, "%s.restore-%ld", out, (long)getpid()) < 0)
		return;
	unlink(tmp);
	if (symlink(link, tmp) == 0 && rename(tmp, out) == 0)
		fprintf(stderr, "%s: %s points to the previous import again (%s)\n",
			PROG, out, link);
	else
		fprintf(stderr, "%s: cannot restore %s -> %s: %s\n", PROG, out, link,
			strerror(errno));
	unlink(tmp);
	free(tmp);
}

static int run_import(const sync_t *s)
{
	const vd_sync_conf_t *c = s->c;
	char **argv = calloc(8 + s->npairs * (4 + NCALLS), sizeof(char *));
	char *err = NULL, path[PATH_MAX];
	int n = 0, status = -1, rc;

	if (!argv)
		return -1;
	argv[n++] = (char *)tool(s, c->importer, "vpcdns-import", path, sizeof(path));
	argv[n++] = "--prune";
	argv[n++] = "--out";
	argv[n++] = c->output;
	for (size_t i = 0; i < s->npairs; i++) {
		if (!s->pairs[i].ok)
			continue;
		argv[n++] = "--source";
		argv[n++] = (char *)s->pairs[i].source;
		argv[n++] = "--region";
		argv[n++] = (char *)s->pairs[i].region;
		for (size_t k = 0; k < NCALLS; k++)
			argv[n++] = s->pairs[i].files[k];
	}
	rc = vd_sync_run(argv, NULL, &err, &status);
	/* The importer's lines (absent VPCs, warnings, errors) as they are. */
	if (err && *err)
		fputs(err, stderr);
	if (rc != 0 || status != 0)
		fprintf(stderr, "%s: %s failed (exit %d): the previous import stays\n",
			PROG, argv[0], status);
	free(err);
	free(argv);
	return rc == 0 && status == 0 ? 0 : -1;
}

static int run_check(const sync_t *s)
{
	const vd_sync_conf_t *c = s->c;
	char path[PATH_MAX], *err = NULL;
	char *argv[] = { (char *)tool(s, c->vpcdns, "vpcdns", path, sizeof(path)),
			 "--check", "-c", c->vpcdns_config, NULL };
	int status = -1, rc;

	rc = vd_sync_run(argv, NULL, &err, &status);
	if (rc == 0 && status == 0) {
		free(err);
		return 0;
	}
	if (err && *err)
		fputs(err, stderr);
	fprintf(stderr, "%s: %s --check -c %s failed (exit %d)\n", PROG, argv[0],
		c->vpcdns_config, status);
	free(err);
	return -1;
}

/* vpcdnsctl [-s SOCKET] --json reload: {"ok":true,"generation":N} or
 * {"ok":false,"errors":["file:line: reason",...]}. */
static int run_reload(const sync_t *s, long long *gen)
{
	const vd_sync_conf_t *c = s->c;
	char path[PATH_MAX], *out = NULL, *err = NULL, line[512];
	char *argv[8];
	int n = 0, status = -1, rc;
	json_error_t je;
	json_t *doc, *e;
	size_t i;

	argv[n++] = (char *)tool(s, c->vpcdnsctl, "vpcdnsctl", path, sizeof(path));
	if (c->socket) {
		argv[n++] = "-s";
		argv[n++] = c->socket;
	}
	argv[n++] = "--json";
	argv[n++] = "reload";
	argv[n] = NULL;
	if (asprintf(&out, "%s/reload.json", s->tmp) < 0)
		return -1;
	rc = vd_sync_run(argv, out, &err, &status);
	doc = rc == 0 ? json_load_file(out, 0, &je) : NULL;
	unlink(out);
	free(out);
	if (doc && json_is_true(json_object_get(doc, "ok")) &&
	    json_is_integer(json_object_get(doc, "generation")) && status == 0) {
		*gen = json_integer_value(json_object_get(doc, "generation"));
		json_decref(doc);
		free(err);
		return 0;
	}
	fprintf(stderr, "%s: %s reload failed (exit %d)%s%s\n", PROG, argv[0], status,
		doc ? "" : ": ", doc ? "" : first_line(err, line, sizeof(line)));
	json_array_foreach(json_object_get(doc, "errors"), i, e)
	{
		if (json_is_string(e))
			fprintf(stderr, "%s\n", json_string_value(e));
	}
	json_decref(doc);
	free(err);
	return -1;
}

static void print_changes(const char *old, const char *new_dir, long long gen,
			  bool reloaded)
{
	vd_sync_diff_t d;

	if (vd_sync_diff(*old ? old : NULL, new_dir, stdout, &d) != 0) {
		fprintf(stderr, "%s: cannot compare %s with %s\n", PROG, old, new_dir);
		return;
	}
	printf("views: %u added, %u removed; records: %u added, %u removed, %u "
	       "changed",
	       d.views_added, d.views_removed, d.rr_added, d.rr_removed, d.rr_changed);
	if (reloaded)
		printf("; generation %lld\n", gen);
	else
		printf("; not reloaded\n");
}

static int sync_all(sync_t *s)
{
	const vd_sync_conf_t *c = s->c;
	char old[PATH_MAX], now[PATH_MAX];
	size_t good = 0;
	long long gen = 0;
	int failed = 0;

	for (size_t i = 0; i < s->npairs; i++) {
		pair_t *p = &s->pairs[i];

		p->ok = true;
		for (size_t k = 0; k < NCALLS && p->ok; k++)
			p->ok = fetch(s, p, k) == 0;
		if (p->ok)
			good++;
		else
			failed = 1;
	}
	if (!good) {
		fprintf(stderr, "%s: no account and region fetched: nothing imported\n",
			PROG);
		return 1;
	}
	current_version(c->output, old, sizeof(old));
	if (run_import(s) != 0)
		return 1;
	current_version(c->output, now, sizeof(now));
	if (c->vpcdns_config && run_check(s) != 0) {
		restore(c->output, old);
		return 1;
	}
	if (!c->vpcdnsctl || *c->vpcdnsctl) {
		if (run_reload(s, &gen) != 0) {
			restore(c->output, old);
			return 1;
		}
	}
	print_changes(old, now, gen, !c->vpcdnsctl || *c->vpcdnsctl);
	if (failed)
		fprintf(stderr,
			"%s: %zu of %zu account and region pairs failed: their VPCs "
			"keep the data of the last good import\n",
			PROG, s->npairs - good, s->npairs);
	return failed;
}

static void cleanup(sync_t *s)
{
	for (size_t i = 0; i < s->npairs; i++) {
		for (size_t k = 0; k < NCALLS; k++) {
			if (s->pairs[i].files[k])
				unlink(s->pairs[i].files[k]);
			free(s->pairs[i].files[k]);
		}
	}
	free(s->pairs);
	if (*s->tmp)
		rmdir(s->tmp);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *tmpdir = getenv("TMPDIR");
	vd_sync_conf_t *c = NULL;
	sync_t s = { 0 };
	vd_errlist_t errs;
	ssize_t n;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("%s %s\n", PROG, VD_VERSION);
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
	vd_errlist_init(&errs);
	rc = vd_sync_conf_load(config, &c, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	vd_errlist_deinit(&errs);
	if (rc) {
		if (rc == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", PROG);
		return 2;
	}
	s.c = c;
	n = readlink("/proc/self/exe", s.selfdir, sizeof(s.selfdir) - 1);
	s.selfdir[n > 0 ? n : 0] = '\0';
	if (strrchr(s.selfdir, '/'))
		*strrchr(s.selfdir, '/') = '\0';
	snprintf(s.tmp, sizeof(s.tmp), "%s/vpcdns-sync-XXXXXX",
		 tmpdir && *tmpdir && strlen(tmpdir) < 40 ? tmpdir : "/tmp");
	if (!mkdtemp(s.tmp)) {
		fprintf(stderr,
			"%s: cannot create a folder for the AWS output (%s): %s\n",
			PROG, s.tmp, strerror(errno));
		*s.tmp = '\0';
		rc = 1;
	} else if (make_pairs(&s) != 0) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		rc = 1;
	} else {
		rc = sync_all(&s);
	}
	cleanup(&s);
	vd_sync_conf_free(c);
	return rc;
}
