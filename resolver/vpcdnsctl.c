/*
 * vpcdnsctl: the control channel's client. Checks the command line with
 * the server's own parser, sends it as one request line on the control
 * socket, waits (bounded by --timeout) for the response and prints its
 * body: to stdout on success, to stderr on failure (JSON always to
 * stdout). Exit status: 0 success, 1 the command failed, 2 usage error,
 * 3 the server could not be reached or did not answer.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vpcdns/conf.h"
#include "vpcdns/ctl.h"
#include "vpcdns/util.h"

#define RESPONSE_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vpcdnsctl [-s SOCKET] [--json] [--timeout SECS] COMMAND "
		"[ARGS]\n"
		"\n"
		"Commands:\n%s"
		"\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -j, --json          print the response as one JSON object\n"
		"  -t, --timeout SECS  give up after SECS seconds (default 30 for\n"
		"                      reload, 5 otherwise)\n"
		"  -h, --help          print this help and exit\n"
		"  -V, --version       print the version and exit\n"
		"\n"
		"Exit status: 0 success, 1 the command failed, 2 usage error,\n"
		"3 the server could not be reached.\n",
		vd_ctl_usage(), VD_CONTROL_SOCKET);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for fd to be ready for events until deadline; 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_s();
		struct pollfd p = { .fd = fd, .events = events };
		if (left <= 0)
			return -ETIMEDOUT;
		int n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *path, double deadline, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int rc = -errno;
		if (rc != -EINPROGRESS && rc != -EAGAIN) {
			close(fd);
			return rc;
		}
		if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0) {
			close(fd);
			return rc;
		}
	}
	*out = fd;
	return 0;
}

/* Sends the request and reads the whole response into *resp. */
static int exchange(int fd, const char *req, double deadline, char **resp, size_t *len)
{
	size_t off = 0, cap = 4096, n = strlen(req);
	char *buf;
	int rc;

	while (off < n) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (w < 0 && (rc = wait_fd(fd, POLLOUT, deadline)) != 0)
			return rc;
		if (w > 0)
			off += (size_t)w;
	}
	buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	for (off = 0;;) {
		if (off + 1 == cap) {
			char *p = cap < RESPONSE_MAX ? realloc(buf, cap * 2) : NULL;
			if (p == NULL) {
				free(buf);
				return -EMSGSIZE;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + off, cap - 1 - off, 0);
		if (r == 0)
			break;
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || (rc = wait_fd(fd, POLLIN, deadline)) != 0) {
			rc = errno == EAGAIN ? rc : -errno;
			free(buf);
			return rc;
		}
	}
	buf[off] = '\0';
	*resp = buf;
	*len = off;
	return 0;
}

/* The request line: the words as given, --json added when asked. */
static int build_request(int argc, char **argv, bool json, char *line, size_t cap)
{
	size_t off = 0;
	int n;

	for (int i = 0; i < argc; i++) {
		n = snprintf(line + off, cap - off, "%s%s", i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
	}
	n = snprintf(line + off, cap - off, "%s\n", json ? " --json" : "");
	return n < 0 || (size_t)n >= cap - off ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = VD_CONTROL_SOCKET;
	char line[VD_CTL_REQUEST_MAX + 1], err[256], *resp = NULL, *end;
	double timeout = 0;
	bool json = false;
	vd_ctl_req_t *req;
	size_t len = 0;
	int c, fd = -1, rc;

	/* "+": options stop at the command, whose own words (explain's
	 * --client) go to the server's parser. */
	while ((c = getopt_long(argc, argv, "+s:jt:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end != '\0' || !(timeout > 0) || timeout > 86400) {
				fprintf(stderr, "vpcdnsctl: bad --timeout '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vpcdnsctl %s\n", VD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	req = malloc(sizeof(*req));
	if (req == NULL)
		return 1;
	if (build_request(argc - optind, argv + optind, json, line, sizeof(line)) !=
		    0 ||
	    vd_ctl_parse(line, strlen(line), req, err, sizeof(err)) != 0) {
		fprintf(stderr, "vpcdnsctl: %s\n", err[0] ? err : "request too long");
		free(req);
		return 2;
	}
	json = req->json; /* also when given after the command */
	if (timeout == 0)
		timeout = req->cmd == VD_CTL_RELOAD ? 30 : 5;
	free(req);

	double deadline = now_s() + timeout;
	rc = connect_to(path, deadline, &fd);
	if (rc != 0) {
		fprintf(stderr, "vpcdnsctl: cannot connect to %s: %s\n", path,
			vd_strerror(rc));
		return 3;
	}
	rc = exchange(fd, line, deadline, &resp, &len);
	close(fd);
	if (rc != 0) {
		fprintf(stderr, "vpcdnsctl: %s: %s\n", path,
			rc == -ETIMEDOUT ? "no answer in time (--timeout)"
					 : vd_strerror(rc));
		return 3;
	}
	/* The status line, then the body. */
	char *body = strchr(resp, '\n');
	bool ok = strncmp(resp, "ok\n", 3) == 0;
	if (body == NULL || (!ok && strncmp(resp, "error\n", 6) != 0)) {
		fprintf(stderr, "vpcdnsctl: %s: malformed response\n", path);
		free(resp);
		return 3;
	}
	body++;
	fputs(body, ok || json ? stdout : stderr);
	free(resp);
	return ok ? 0 : 1;
}
