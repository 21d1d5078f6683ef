/* SPDX-License-Identifier: MIT */
/*
 * Bytes from QEMU's monitor: the QMP client (and its reader) fed the input in pieces, and a second reader with a small
 * line limit, so that oversized lines and the resynchronisation after them are reached with small inputs.
 * The first byte sets the piece size and the small limit.
 */
#include <string.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "tests/fuzz/fuzz.h"
#include "util/macro.h"

/* Looks at everything a message offers, as the supervisor does, and checks what the reader promises about it. */
static void use(const struct qmp_msg *m)
{
	fuzz_assert(m->root);
	fuzz_assert(qmp_msg_type_to_string(m->type));
	if (m->type == QMP_MSG_EVENT || m->type == QMP_MSG_COMMAND) {
		const char *key = m->type == QMP_MSG_EVENT				? "event"
				  : json_object_object_get_ex(m->root, "execute", NULL) ? "execute"
											: "exec-oob";
		json_object *v = json_object_object_get(m->root, key);

		/* A name is whole: strcmp() on it sees all of it ("status\u0000x" is not "status"). */
		fuzz_assert(m->name && strlen(m->name) == (size_t)json_object_get_string_len(v));
	}
	if (m->type == QMP_MSG_ERROR)
		fuzz_assert(m->error_class && m->error_desc);
	if (m->data)
		(void)json_object_to_json_string_ext(m->data, JSON_C_TO_STRING_PLAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_client *c = NULL;
	struct qmp_reader *r = NULL;
	size_t piece, line_max;
	uint64_t id;

	if (size < 1)
		return 0;
	piece = 1 + data[0] % 64;
	line_max = 16 + (size_t)data[0] * 4;
	data++;
	size--;

	fuzz_assert(qmp_client_new(&c) == 0);
	fuzz_assert(qmp_reader_new(line_max, &r) == 0);
	/* Two commands in flight, so that replies with ids 1 and 2 are matched and others dropped. */
	fuzz_assert(qmp_client_send(c, "qmp_capabilities", NULL, (void *)1, &id) == 0 && id == 1);
	fuzz_assert(qmp_client_send(c, "query-status", NULL, (void *)2, &id) == 0 && id == 2);
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		int k;

		fuzz_assert(qmp_client_feed(c, data + off, n) == 0);
		for (;;) {
			_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
			void *cookie = NULL;

			k = qmp_client_next(c, &m, &cookie);
			if (k == 0)
				break;
			if (k < 0) {
				fuzz_assert(k == -EBADMSG || k == -EMSGSIZE);
				fuzz_assert(*qmp_client_error(c));
				continue;
			}
			use(m);
			fuzz_assert(!cookie || m->type == QMP_MSG_RETURN || m->type == QMP_MSG_ERROR);
		}

		fuzz_assert(qmp_reader_feed(r, data + off, n) == 0);
		for (;;) {
			_cleanup_qmp_msg_ struct qmp_msg *m = NULL;

			k = qmp_reader_next(r, &m);
			if (k == 0)
				break;
			if (k < 0) {
				fuzz_assert(k == -EBADMSG || k == -EMSGSIZE);
				continue;
			}
			use(m);
		}
		/* Once every complete line is taken out, only the line still arriving is held, and never more than
		 * the limit: the memory bound the reader promises. */
		fuzz_assert(qmp_reader_buffered(r) <= line_max);
	}
	fuzz_assert(qmp_client_pending(c) <= 2);
	qmp_reader_free(r);
	qmp_client_free(c);
	return 0;
}
