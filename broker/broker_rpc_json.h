/* Conversions between the RPC API's messages and the REST API's JSON in
 * cellvm-broker (broker_rpc_json.c), for the RPC service (broker_api_rpc.c). */
#pragma once
#include "api.pb-c.h"
#include "broker/broker.h"

/* A VM's VmInfo. Strings point into json, which the caller puts after sending. */
struct rpc_info {
	Cellvm__Api__VmInfo info;
	Cellvm__Api__VmDefinition def;
	Cellvm__Api__DeviceInfo devs[LAUNCHER_MAX_DEVICES], *pdevs[LAUNCHER_MAX_DEVICES];
	char *disks[DISK_MAX];
	char diskbuf[DISK_MAX][PATH_MAX + 64];
	Cellvm__Api__NetDefinition nets[BROKER_NET_MAX], *pnets[BROKER_NET_MAX];
	char sndbuf[128]; /* the definition's snd in --snd syntax */
	json_object *json;
};

/* A VM's CountersReply, the same way. */
struct rpc_counters_info {
	Cellvm__Api__CountersReply reply;
	Cellvm__Api__DeviceCounters devs[LAUNCHER_MAX_DEVICES], *pdevs[LAUNCHER_MAX_DEVICES];
	json_object *json;
};

/* Fill *ri (*rc) from the REST JSON of vm's info (counters). */
void broker_rpc_json_fill_info(struct rpc_info *ri, const struct broker_vm *vm);
void broker_rpc_json_fill_counters(struct rpc_counters_info *rc, const struct broker_vm *vm);
/* UNTRUSTED(client): d as the REST body of a create (a new JSON object, the
 * caller puts it), for broker_vmdef_from_json to check like a POST /vm.create. */
/* The string member key of o, or "" when it is absent (valid while o is). */
const char *broker_rpc_json_str(json_object *o, const char *key);
json_object *broker_rpc_json_create_body(const Cellvm__Api__VmDefinition *d);
