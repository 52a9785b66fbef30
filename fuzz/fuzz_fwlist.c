/*
 * libFuzzer target for the DNS firewall's list reader: every input is
 * parsed as a domain list. A parse either fails with at least one
 * "file:line: reason" message or gives a list whose lookups (names
 * carved from the input itself, and the root) never crash, and which
 * matches each name it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "vpcdns/fw.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Looks up every line of the input that is a plain name. */
static void probe(const vd_fw_list_t *l, const uint8_t *data, size_t size)
{
	char text[300];
	uint8_t wire[VD_NAME_MAX];
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		size_t n = i - start;
		if (n > 0 && n < sizeof(text)) {
			memcpy(text, data + start, n);
			text[n] = 0;
			/* Lines the reader trims or cuts are skipped. */
			if (strpbrk(text, "*# \t\r\v\f") == NULL &&
			    vd_name_from_text(text, wire, NULL) == 0 && wire[0] != 0) {
				vd_name_lower(wire, wire);
				if (!vd_fw_list_match(l, wire))
					abort(); /* a listed name must match */
			}
		}
		start = i + 1;
	}
	vd_fw_list_match(l, (const uint8_t *)"");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vd_errlist_t errs;
	vd_fw_list_t *l = NULL;

	vd_errlist_init(&errs);
	int rc = vd_fw_list_parse((const char *)data, size, "fuzz.list", &l, &errs);
	if (rc != 0 && errs.count == 0)
		abort(); /* every failure says why */
	if (rc == 0) {
		probe(l, data, size);
		vd_fw_list_free(l);
	}
	vd_errlist_deinit(&errs);
	return 0;
}
