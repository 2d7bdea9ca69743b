/* AML encoder; see aml.h. Encodings follow ACPI 6.5 section 20.2 (opcodes,
 * PkgLength, name strings) and 6.4 (resource descriptors). */
#include "vmm-core/aml.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define AML_ZERO	 0x00
#define AML_ONE		 0x01
#define AML_ONES	 0xff
#define AML_NAME_OP	 0x08
#define AML_BYTE_PREFIX	 0x0a
#define AML_WORD_PREFIX	 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING	 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP	 0x10
#define AML_BUFFER_OP	 0x11
#define AML_PACKAGE_OP	 0x12
#define AML_METHOD_OP	 0x14
#define AML_DUAL_NAME	 0x2e
#define AML_MULTI_NAME	 0x2f
#define AML_EXT_OP	 0x5b
#define AML_DEVICE_OP	 0x82 /* after AML_EXT_OP */
#define AML_ROOT_CHAR	 0x5c
#define AML_RETURN_OP	 0xa4

void aml_init(struct aml_buf *b, uint8_t *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->err = 0;
}

void aml_bytes(struct aml_buf *b, const void *data, size_t n)
{
	if (b->err || n > b->cap - b->len) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_bytes(b, &v, 1);
}

static void aml_le(struct aml_buf *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(b, (uint8_t)(v >> (8 * i)));
}

void aml_name(struct aml_buf *b, const char *path)
{
	const char *seg[8];
	size_t nseg = 0;

	if (*path == '\\') {
		aml_byte(b, AML_ROOT_CHAR);
		path++;
	}
	while (*path) {
		assert(nseg < 8);
		seg[nseg++] = path;
		while (*path && *path != '.')
			path++;
		if (*path == '.')
			path++;
	}
	if (nseg == 0) {
		aml_byte(b, 0); /* NullName */
		return;
	}
	if (nseg == 2) {
		aml_byte(b, AML_DUAL_NAME);
	} else if (nseg > 2) {
		aml_byte(b, AML_MULTI_NAME);
		aml_byte(b, (uint8_t)nseg);
	}
	for (size_t i = 0; i < nseg; i++) {
		char s[4] = {'_', '_', '_', '_'};
		for (size_t j = 0; j < 4 && seg[i][j] && seg[i][j] != '.'; j++)
			s[j] = seg[i][j];
		aml_bytes(b, s, 4);
	}
}

void aml_int(struct aml_buf *b, uint64_t v)
{
	if (v == 0) {
		aml_byte(b, AML_ZERO);
	} else if (v == 1) {
		aml_byte(b, AML_ONE);
	} else if (v == UINT64_MAX) {
		aml_byte(b, AML_ONES);
	} else if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		aml_byte(b, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		aml_le(b, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(b, AML_DWORD_PREFIX);
		aml_le(b, v, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		aml_le(b, v, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	aml_byte(b, AML_STRING);
	aml_bytes(b, s, strlen(s) + 1);
}

void aml_eisaid(struct aml_buf *b, const char *id)
{
	/* Three letters in 5 bits each (A = 1), then four hex digits; the
	 * DWord is stored big-endian, as iasl's EISAID() makes it. */
	uint32_t v;
	uint32_t hex = 0;

	assert(strlen(id) == 7);
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		hex = hex << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
	}
	v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
	    (uint32_t)(id[2] - '@') << 16 | hex;
	aml_byte(b, AML_DWORD_PREFIX);
	aml_byte(b, (uint8_t)(v >> 24));
	aml_byte(b, (uint8_t)(v >> 16));
	aml_byte(b, (uint8_t)(v >> 8));
	aml_byte(b, (uint8_t)v);
}

/* The PkgLength placeholder: one byte, grown at close when the object is
 * longer than 63 bytes. */
static aml_open_t aml_open(struct aml_buf *b)
{
	aml_open_t at = b->len;

	aml_byte(b, 0);
	return at;
}

void aml_close(struct aml_buf *b, aml_open_t at)
{
	size_t body, total, n;

	if (b->err)
		return;
	body = b->len - at - 1;
	n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	total = body + n;
	if (n > 1) {
		if (n - 1 > b->cap - b->len) {
			b->err = -ENOSPC;
			return;
		}
		memmove(b->p + at + n, b->p + at + 1, body);
		b->len += n - 1;
		b->p[at] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			b->p[at + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	} else {
		b->p[at] = (uint8_t)total;
	}
}

aml_open_t aml_scope(struct aml_buf *b, const char *path)
{
	aml_open_t at;

	aml_byte(b, AML_SCOPE_OP);
	at = aml_open(b);
	aml_name(b, path);
	return at;
}

aml_open_t aml_device(struct aml_buf *b, const char *name)
{
	aml_open_t at;

	aml_byte(b, AML_EXT_OP);
	aml_byte(b, AML_DEVICE_OP);
	at = aml_open(b);
	aml_name(b, name);
	return at;
}

aml_open_t aml_method(struct aml_buf *b, const char *name, unsigned nargs)
{
	aml_open_t at;

	aml_byte(b, AML_METHOD_OP);
	at = aml_open(b);
	aml_name(b, name);
	aml_byte(b, (uint8_t)(nargs & 7)); /* NotSerialized, SyncLevel 0 */
	return at;
}

aml_open_t aml_package(struct aml_buf *b, uint8_t nelems)
{
	aml_open_t at;

	aml_byte(b, AML_PACKAGE_OP);
	at = aml_open(b);
	aml_byte(b, nelems);
	return at;
}

aml_open_t aml_buffer(struct aml_buf *b)
{
	aml_open_t at;

	aml_byte(b, AML_BUFFER_OP);
	at = aml_open(b);
	/* BufferSize as a WordConst, filled in at close. */
	aml_byte(b, AML_WORD_PREFIX);
	aml_le(b, 0, 2);
	return at;
}

void aml_close_buffer(struct aml_buf *b, aml_open_t at)
{
	size_t size;

	if (b->err)
		return;
	size = b->len - at - 4;
	if (size > 0xffff) {
		b->err = -ENOSPC;
		return;
	}
	b->p[at + 2] = (uint8_t)size;
	b->p[at + 3] = (uint8_t)(size >> 8);
	aml_close(b, at);
}

void aml_name_int(struct aml_buf *b, const char *name, uint64_t v)
{
	aml_byte(b, AML_NAME_OP);
	aml_name(b, name);
	aml_int(b, v);
}

void aml_method_return_int(struct aml_buf *b, const char *name, uint64_t v)
{
	aml_open_t m = aml_method(b, name, 0);

	aml_byte(b, AML_RETURN_OP);
	aml_int(b, v);
	aml_close(b, m);
}

void aml_method_empty(struct aml_buf *b, const char *name, unsigned nargs)
{
	aml_close(b, aml_method(b, name, nargs));
}

void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t align, uint8_t len)
{
	aml_byte(b, 0x47); /* small item 8, length 7 */
	aml_byte(b, 1);	   /* Decode16 */
	aml_le(b, base, 2);
	aml_le(b, base, 2);
	aml_byte(b, align);
	aml_byte(b, len);
}

void aml_res_irq_noflags(struct aml_buf *b, unsigned irq)
{
	aml_byte(b, 0x22); /* small item 4, length 2: edge, active high, exclusive */
	aml_le(b, 1U << irq, 2);
}

void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len)
{
	aml_byte(b, 0x86);
	aml_le(b, 9, 2);
	aml_byte(b, 1); /* ReadWrite */
	aml_le(b, base, 4);
	aml_le(b, len, 4);
}

void aml_res_interrupt(struct aml_buf *b, uint8_t flags, uint32_t gsi)
{
	aml_byte(b, 0x89);
	aml_le(b, 6, 2);
	aml_byte(b, (uint8_t)(flags | 1)); /* ResourceConsumer */
	aml_byte(b, 1);
	aml_le(b, gsi, 4);
}

/* Address space descriptors: producer, positive decode, min and max fixed. */
#define AML_ADDR_FLAGS 0x0c

static void aml_res_word(struct aml_buf *b, uint8_t type, uint8_t tflags, uint16_t min,
			 uint16_t max)
{
	aml_byte(b, 0x88);
	aml_le(b, 13, 2);
	aml_byte(b, type);
	aml_byte(b, AML_ADDR_FLAGS);
	aml_byte(b, tflags);
	aml_le(b, 0, 2); /* granularity */
	aml_le(b, min, 2);
	aml_le(b, max, 2);
	aml_le(b, 0, 2); /* translation */
	aml_le(b, (uint32_t)max - min + 1, 2);
}

void aml_res_word_bus(struct aml_buf *b, uint16_t min, uint16_t max)
{
	aml_res_word(b, 2, 0, min, max);
}

void aml_res_word_io(struct aml_buf *b, uint16_t min, uint16_t max)
{
	aml_res_word(b, 1, 3 /* EntireRange */, min, max);
}

void aml_res_dword_mem(struct aml_buf *b, uint32_t min, uint32_t max, int cacheable)
{
	aml_byte(b, 0x87);
	aml_le(b, 23, 2);
	aml_byte(b, 0); /* memory */
	aml_byte(b, AML_ADDR_FLAGS);
	aml_byte(b, (uint8_t)(1 | (cacheable ? 2 : 0))); /* ReadWrite, (Non)Cacheable */
	aml_le(b, 0, 4);
	aml_le(b, min, 4);
	aml_le(b, max, 4);
	aml_le(b, 0, 4);
	aml_le(b, (uint64_t)max - min + 1, 4);
}

void aml_res_end(struct aml_buf *b)
{
	aml_byte(b, 0x79);
	aml_byte(b, 0); /* checksum 0: "treat as correct" */
}

aml_open_t aml_name_resources(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	aml_name(b, name);
	return aml_buffer(b);
}

void aml_close_resources(struct aml_buf *b, aml_open_t at)
{
	aml_res_end(b);
	aml_close_buffer(b, at);
}
