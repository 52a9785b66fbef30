/*
 * Error codes to text. Project codes (below -1000) have their own strings;
 * anything else is taken as -errno, which also covers libuv's UV_E* codes on
 * Unix. strerrordesc_np is used instead of strerror because it returns a
 * static string and never touches a shared buffer, so logging from several
 * threads is safe.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrordesc_np, vasprintf outside the CMake build */
#endif
#include "vpcdns/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vd_require_failed(const char *cond, const char *file, int line)
{
	/* No vd_log: it may be the broken part. One write, then abort so a
	 * core (or the sanitizer's stack) shows where. */
	fprintf(stderr, "vpcdns: internal error: %s:%d: requirement failed: %s\n", file,
		line, cond);
	abort();
}

const char *vd_strerror(int err)
{
	const char *s;

	switch (err) {
	case 0:
		return "success";
	case VD_EMALF:
		return "malformed input";
	case VD_ECONF:
		return "invalid configuration";
	case VD_ENOTFOUND:
		return "not found";
	case VD_ESPACE:
		return "output buffer too small";
	case VD_ETIMEOUT:
		return "timed out";
	case VD_ELIMIT:
		return "limit reached";
	default:
		break;
	}
	if (err < 0 && err > -4096) {
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown error";
}
