/*
 * libFuzzer target for the control channel's request parser: any bytes
 * are parsed as a request line. A line is either accepted with a known
 * command (and, for the commands that take one, a valid name) or
 * rejected with a reason; the error writers then format that reason as
 * text and JSON without crashing.
 */
#include <stdlib.h>
#include <string.h>

#include "vpcdns/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static vd_ctl_req_t req;
	char err[256];
	vd_ctl_buf_t out = { 0 };

	int rc = vd_ctl_parse((const char *)data, size, &req, err, sizeof(err));
	if (rc == 0) {
		if (vd_ctl_cmd_name(req.cmd) == NULL)
			abort();
		if ((req.cmd == VD_CTL_FLUSH || req.cmd == VD_CTL_EXPLAIN) &&
		    vd_name_len(req.name) > VD_NAME_MAX)
			abort();
		if (req.cmd == VD_CTL_EXPLAIN && vd_name_len(req.qname) > VD_NAME_MAX)
			abort();
	} else {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort(); /* every rejection says why */
		vd_ctl_write_error(&out, false, err);
		vd_ctl_write_error(&out, true, err);
	}
	vd_ctl_buf_free(&out);
	return 0;
}
