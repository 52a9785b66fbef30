/*
 * Running the tools vpcdns-sync drives (the AWS CLI, vpcdns-import, vpcdns
 * --check, vpcdnsctl) with posix_spawn: no shell, so nothing from the
 * configuration is ever interpreted as a command line. stdout goes to a
 * file, stderr to a pipe read to the end; the back-off schedule for
 * throttled AWS calls.
 */
#include "vpcdns/sync.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ERR_KEEP (64 * 1024)

static char *read_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1), chunk[4096];
	ssize_t n;

	while (buf) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep the start (the error) and drain the rest. */
		if (len + (size_t)n > ERR_KEEP)
			n = (ssize_t)(ERR_KEEP - len);
		if (len + (size_t)n > cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

int vd_sync_run(char *const argv[], const char *out_path, char **err, int *status)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 }, rc, ws;
	pid_t pid;

	*err = NULL;
	*status = -1;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -errno;
	rc = posix_spawn_file_actions_init(&fa);
	if (rc) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -rc;
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = strchr(argv[0], '/')
		     ? posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)
		     : posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		if (asprintf(err, "cannot run %s: %s", argv[0], strerror(rc)) < 0)
			*err = NULL;
		return -rc;
	}
	*err = read_fd(pipefd[0]);
	close(pipefd[0]);
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return *err ? 0 : -ENOMEM;
}

bool vd_sync_throttled(const char *err)
{
	return err &&
	       (strstr(err, "RequestLimitExceeded") || strstr(err, "Throttling"));
}

unsigned vd_sync_backoff_ms(unsigned attempt, unsigned base, unsigned max, uint32_t rnd)
{
	unsigned long long d = base;

	for (unsigned i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	/* Half fixed, half random: spread clients that were throttled
	 * together without ever retrying at once. */
	return (unsigned)(d / 2 + (d - d / 2) * (unsigned long long)rnd / UINT32_MAX);
}
