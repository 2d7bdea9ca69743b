/* The broker configuration's keys of what each VM takes from the host
 * (uid_pool, cgroup, vm_memory_overhead, vm_pids_max, vm_cpu_weight) and of
 * its boots (boot_concurrency, boot_concurrency_per_tenant,
 * process_ready_timeout_ms): their
 * defaults and their parsing, apart from broker_host.c so that the config
 * parser (broker_tenant.c) links without the cgroup code (the vmdef fuzz
 * target). The operator's file: trusted, but checked. See docs/broker.md. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/parse.h"

/* Above /etc/login.defs' default SUB_UID_MAX (600100000) and systemd-nspawn's
 * container ranges (up to 0x6FFFFFFF), below its foreign range (0x7FFE0000)
 * and below 2^31 (ids some programs take for signed). */
#define HOST_ID_START	     0x70000000U
#define HOST_ID_COUNT	     65536U
#define HOST_ID_MIN	     65536U /* never a system id, never nobody */
#define HOST_ID_END	     0x80000000U
#define HOST_MEMORY_OVERHEAD (256ULL << 20)
#define HOST_CPU_WEIGHT	     100
/* Boots in flight at once: a thread each, mostly waiting for Ready. */
#define HOST_BOOT_CONCURRENCY 4

void broker_host_config_defaults(struct broker_host_config *c)
{
	*c = (struct broker_host_config){.id_start = HOST_ID_START,
					 .id_count = HOST_ID_COUNT,
					 .memory_overhead = HOST_MEMORY_OVERHEAD,
					 .cpu_weight = HOST_CPU_WEIGHT,
					 .boot_concurrency = HOST_BOOT_CONCURRENCY,
					 .ready_timeout_ms = LAUNCHER_READY_TIMEOUT_MS};
	snprintf(c->cgroup, sizeof(c->cgroup), "auto");
}

int broker_host_config_set(struct broker_host_config *c, const char *key, const char *val)
{
	if (strcmp(key, "uid_pool") == 0) {
		char start[16], count[16], extra;
		uint32_t s, n;

		if (sscanf(val, "%15s %15s %c", start, count, &extra) != 2 ||
		    parse_u32(start, HOST_ID_MIN, HOST_ID_END - 1, &s) < 0 ||
		    parse_u32(count, 1, HOST_ID_END - HOST_ID_MIN, &n) < 0 ||
		    (uint64_t)s + n > HOST_ID_END)
			return -EINVAL;
		c->id_start = s;
		c->id_count = n;
	} else if (strcmp(key, "cgroup") == 0) {
		if ((strcmp(val, "auto") != 0 && strcmp(val, "off") != 0 && val[0] != '/') ||
		    strlen(val) >= sizeof(c->cgroup))
			return -EINVAL;
		snprintf(c->cgroup, sizeof(c->cgroup), "%s", val);
	} else if (strcmp(key, "vm_memory_overhead") == 0) {
		if (parse_size(val, &c->memory_overhead) < 0 || c->memory_overhead < (16ULL << 20))
			return -EINVAL;
	} else if (strcmp(key, "vm_pids_max") == 0) {
		if (parse_u32(val, 1, 1U << 22, &c->pids_max) < 0)
			return -EINVAL;
	} else if (strcmp(key, "vm_cpu_weight") == 0) {
		if (parse_u32(val, 1, 10000, &c->cpu_weight) < 0)
			return -EINVAL;
	} else if (strcmp(key, "boot_concurrency") == 0) {
		if (parse_u32(val, 1, BROKER_BOOT_CONCURRENCY_MAX, &c->boot_concurrency) < 0)
			return -EINVAL;
	} else if (strcmp(key, "boot_concurrency_per_tenant") == 0) {
		/* 0: the default, boot_concurrency - 1 (broker_launch.c) */
		if (parse_u32(val, 0, BROKER_BOOT_CONCURRENCY_MAX,
			      &c->boot_concurrency_per_tenant) < 0)
			return -EINVAL;
	} else if (strcmp(key, "process_ready_timeout_ms") == 0) {
		if (parse_u32(val, LAUNCHER_READY_TIMEOUT_MIN, LAUNCHER_READY_TIMEOUT_MAX,
			      &c->ready_timeout_ms) < 0)
			return -EINVAL;
	} else {
		return -ENOENT;
	}
	return 0;
}
