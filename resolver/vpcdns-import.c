/*
 * vpcdns-import: turns the AWS CLI's description of a VPC's endpoints into
 * the zone files and view configuration vpcdns serves. Reads the JSON
 * files named on the command line (or stdin), builds every output in
 * memory, and writes only when the whole input was good; errors go to
 * stderr, one a line, and leave the output directory untouched. The work
 * is done by the import module; this file is the command line around it.
 */
#include "vpcdns/import.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "vpcdns-import"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s [--vpc VPC-ID]... [--prune] -o DIR\n"
		"         [[--source NAME] [--region REGION] [FILE|-]...]...\n"
		"\n"
		"Reads the JSON printed by aws ec2 describe-vpcs, "
		"describe-vpc-endpoints,\n"
		"describe-network-interfaces and describe-subnets (FILEs, or stdin for "
		"-\n"
		"or no FILE) and writes, for each VPC, zone files of its interface\n"
		"endpoints' names, its subnets with their Availability Zones and a "
		"view,\n"
		"under DIR/<vpc-id>/, and every view in DIR/views.yaml. DIR is a "
		"symbolic\n"
		"link to a versioned folder (DIR.v<N>) replaced atomically.\n"
		"\n"
		"  --vpc VPC-ID     write only this VPC (repeatable; default: every "
		"VPC\n"
		"                   of describe-vpcs and every VPC with an available\n"
		"                   interface endpoint)\n"
		"  --prune          remove VPCs of the previous import that are not in "
		"the\n"
		"                   input (only those whose source is in this import)\n"
		"  --source NAME    the FILEs after it come from NAME (e.g. "
		"profile/region)\n"
		"  --region REGION  the FILEs after it are of this AWS region\n"
		"  -o, --out DIR    output link (created if missing)\n"
		"  -h, --help       show this help\n"
		"  --version        show the version\n"
		"\n"
		"Exit status: 0 written, 1 input or output error (nothing written on "
		"an\n"
		"input error), 2 usage error. See vpcdns-import(1).\n",
		PROG);
}

static void note(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s: %s\n", PROG, msg);
}

static void print_errors(const vd_errlist_t *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
}

/* Length of dir without its trailing slashes (but "/" stays). */
static int out_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return (int)n;
}

static void print_summaries(const vd_import_t *im, const char *out)
{
	const vd_import_summary_t *s;
	size_t n;

	s = vd_import_summaries(im, &n);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr,
			"%s: %s: %u endpoint%s, %u zone%s, %u record%s, %u subnet%s",
			PROG, s[i].vpc, s[i].endpoints, s[i].endpoints == 1 ? "" : "s",
			s[i].zones, s[i].zones == 1 ? "" : "s", s[i].records,
			s[i].records == 1 ? "" : "s", s[i].subnets,
			s[i].subnets == 1 ? "" : "s");
		if (s[i].skipped)
			fprintf(stderr, " (%u skipped)", s[i].skipped);
		fprintf(stderr, " -> %.*s/%s/\n", out_len(out), out, s[i].vpc);
	}
	fprintf(stderr, "%s: %.*s -> %s\n", PROG, out_len(out), out,
		vd_import_version_dir(im));
}

/* A FILE with the --source and --region in effect before it. */
typedef struct input {
	const char *file, *source, *region;
} input_t;

typedef struct opts {
	const char *out;
	input_t *in;
	int nin;
	const char *source, *region; /* in effect */
} opts_t;

/* Returns -1 to continue, or the exit status. */
static int parse_args(int argc, char **argv, vd_import_t *im, opts_t *o)
{
	static const struct option longopts[] = {
		{ "vpc", required_argument, NULL, 'V' },
		{ "prune", no_argument, NULL, 'P' },
		{ "source", required_argument, NULL, 'S' },
		{ "region", required_argument, NULL, 'R' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '-' first: FILEs come back in order, so --source and --region
	 * apply to the FILEs after them. */
	o->in = calloc((size_t)argc + 1, sizeof(*o->in));
	if (!o->in) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "-ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			o->in[o->nin++] = (input_t){ optarg, o->source, o->region };
			break;
		case 'P':
			vd_import_set_prune(im, true);
			break;
		case 'S':
			o->source = optarg;
			if (vd_import_set_origin(im, o->source, NULL) != 0) {
				fprintf(stderr,
					"%s: --source %s: not a source name "
					"(printable, "
					"no spaces, quotes or backslashes)\n",
					PROG, optarg);
				return 2;
			}
			break;
		case 'R':
			o->region = optarg;
			if (vd_import_set_origin(im, NULL, o->region) != 0) {
				fprintf(stderr, "%s: --region %s: not a region name\n",
					PROG, optarg);
				return 2;
			}
			break;
		case 'V':
			if (vd_import_add_vpc(im, optarg) != 0) {
				fprintf(stderr, "%s: --vpc %s: not a VPC ID (vpc-…)\n",
					PROG, optarg);
				return 2;
			}
			break;
		case 'o':
			o->out = optarg;
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
	if (!o->out || !*o->out) {
		fprintf(stderr, "%s: --out DIR is required\n", PROG);
		usage(stderr);
		return 2;
	}
	for (; optind < argc; optind++)
		o->in[o->nin++] = (input_t){ argv[optind], o->source, o->region };
	if (o->nin == 0)
		o->in[o->nin++] = (input_t){ "-", o->source, o->region };
	return -1;
}

static int run(vd_import_t *im, const opts_t *o, vd_errlist_t *errs)
{
	int rc = 0;

	for (int i = 0; i < o->nin; i++) {
		if (vd_import_set_origin(im, o->in[i].source, o->in[i].region) != 0 ||
		    vd_import_load_file(im, o->in[i].file, errs) != 0)
			rc = -1;
	}
	if (rc == 0)
		rc = vd_import_build(im, o->out, note, NULL, errs);
	if (rc != 0) {
		print_errors(errs);
		if (!errs->count)
			fprintf(stderr, "%s: %s\n", PROG, vd_strerror(rc));
		fprintf(stderr, "%s: %zu error%s; nothing written\n", PROG, errs->count,
			errs->count == 1 ? "" : "s");
		return 1;
	}
	if (vd_import_write(im, note, NULL, errs) != 0) {
		print_errors(errs);
		return 1;
	}
	print_summaries(im, o->out);
	return 0;
}

int main(int argc, char **argv)
{
	opts_t o = { 0 };
	vd_errlist_t errs;
	vd_import_t *im;
	int rc;

	im = vd_import_new();
	if (!im) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		return 1;
	}
	vd_errlist_init(&errs);
	rc = parse_args(argc, argv, im, &o);
	if (rc < 0)
		rc = run(im, &o, &errs);
	vd_errlist_deinit(&errs);
	vd_import_free(im);
	free(o.in);
	return rc;
}
