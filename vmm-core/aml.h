/* A small AML (ACPI Machine Language, ACPI 6.x section 20) encoder for the
 * DSDT cellvm-core generates: scopes, devices, names, methods that return a
 * constant, packages and resource templates. Writes into a caller's buffer;
 * an overflow is sticky (aml_buf.err) and checked once at the end. Runs in
 * cellvm-core and in unit tests; no input is untrusted. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct aml_buf {
	uint8_t *p;
	size_t len, cap;
	int err; /* -ENOSPC after an overflow, else 0 */
};

/* An open PkgLength-framed object (scope, device, method, package, buffer):
 * where its PkgLength goes. Close in reverse order of opening. */
typedef size_t aml_open_t;

void aml_init(struct aml_buf *b, uint8_t *p, size_t cap);
void aml_bytes(struct aml_buf *b, const void *data, size_t n);
void aml_byte(struct aml_buf *b, uint8_t v);
/* A name path: "\\_SB_.PCI0", "_HID", "COM1" (segments padded with '_'). */
void aml_name(struct aml_buf *b, const char *path);
/* The smallest integer encoding (Zero, One, Ones, Byte/Word/DWord/QWord). */
void aml_int(struct aml_buf *b, uint64_t v);
void aml_string(struct aml_buf *b, const char *s);
/* EISAID("PNP0A03") as the DWord the compiler makes of it. */
void aml_eisaid(struct aml_buf *b, const char *id);

aml_open_t aml_scope(struct aml_buf *b, const char *path);
aml_open_t aml_device(struct aml_buf *b, const char *name);
/* Method(name, nargs, NotSerialized). */
aml_open_t aml_method(struct aml_buf *b, const char *name, unsigned nargs);
aml_open_t aml_package(struct aml_buf *b, uint8_t nelems);
/* Buffer whose size is the bytes written before aml_close_buffer. */
aml_open_t aml_buffer(struct aml_buf *b);
void aml_close(struct aml_buf *b, aml_open_t at);
void aml_close_buffer(struct aml_buf *b, aml_open_t at);

/* Name(name, <integer>) */
void aml_name_int(struct aml_buf *b, const char *name, uint64_t v);
/* Method(name) { Return (v) } */
void aml_method_return_int(struct aml_buf *b, const char *name, uint64_t v);
/* Method(name, nargs) { } */
void aml_method_empty(struct aml_buf *b, const char *name, unsigned nargs);

/* Resource descriptors (section 6.4), inside an aml_buffer. */
enum { AML_IRQ_EDGE = 1 << 1, AML_IRQ_ACTIVE_LOW = 1 << 2, AML_IRQ_SHARED = 1 << 3 };
void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml_buf *b, unsigned irq);
void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len);
/* Interrupt(ResourceConsumer, flags, ...) { gsi } */
void aml_res_interrupt(struct aml_buf *b, uint8_t flags, uint32_t gsi);
/* WordBusNumber / WordIO (producer, MinFixed, MaxFixed, PosDecode). */
void aml_res_word_bus(struct aml_buf *b, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml_buf *b, uint16_t min, uint16_t max);
/* DWordMemory (producer, MinFixed, MaxFixed, PosDecode, ReadWrite). */
void aml_res_dword_mem(struct aml_buf *b, uint32_t min, uint32_t max, int cacheable);
/* EndTag: closes a resource template. */
void aml_res_end(struct aml_buf *b);

/* A ResourceTemplate: Name(name, Buffer() { ... EndTag }) opened and closed. */
aml_open_t aml_name_resources(struct aml_buf *b, const char *name);
void aml_close_resources(struct aml_buf *b, aml_open_t at);
