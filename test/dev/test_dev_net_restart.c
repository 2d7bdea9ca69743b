/* Restarting a crashed cellvm-dev-net under a running driver: the harness
 * plays the core that keeps the crash-recovery records and a driver that
 * never resets. The new process takes the queues over: RX buffers the old
 * one held are filled again, a TX chain it took is returned unsent (at most
 * once), a control command it took is answered. Needs root; skips without
 * /dev/net/tun. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_net.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/harness/vnet.h"

static struct vnet T;
static bool started;
static const uint8_t peer[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static uint8_t frame[2048], got[2048];

static void start(void)
{
	assert_int_equal(vnet_start(&T, &(struct vnet_opts){.inflight = true, .queue_size = 64}),
			 0);
	started = true;
}

static int teardown(void **state)
{
	(void)state;
	if (started)
		(void)vnet_stop(&T);
	started = false;
	free(T.logtext);
	T.logtext = NULL;
	return 0;
}

static void assert_tx_serves(uint8_t seed)
{
	struct net_hdr h = {0};
	size_t len = vnet_frame_udp(frame, peer, T.mac, 80, seed);

	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	assert_int_equal(vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got)), len);
	assert_memory_equal(got, frame, len);
}

static void assert_rx(uint8_t seed)
{
	size_t len = vnet_frame_udp(frame, T.mac, peer, 100, seed);
	uint32_t ulen;
	uint8_t *buf;

	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, NET_HDR_LEN + len);
	assert_memory_equal(buf + NET_HDR_LEN, frame, len);
}

/* The RX buffers the old process held (taken, never used) carry frames for
 * the new one; TX goes on. */
static void test_restart_running(void **state)
{
	(void)state;
	start();
	vnet_rx_post(&T, 0, 16, 2048);
	assert_rx(1);
	assert_tx_serves(1);
	assert_int_equal(vnet_crash_restart(&T, true), 0);
	/* No new buffers posted: all 15 come from the old process's stash. */
	for (uint8_t i = 0; i < 15; i++)
		assert_rx((uint8_t)(10 + i));
	assert_tx_serves(2);
	assert_int_equal(T.core.needs_reset, 0);
}

/* A TX chain the old process took and did not return: returned unsent. */
static void test_restart_tx_inflight(void **state)
{
	struct net_hdr h = {0};
	struct virtq_inflight *rec;
	uint8_t raw[NET_HDR_LEN];
	uint32_t id, len;
	uint16_t head, used;
	size_t flen;

	(void)state;
	start();
	assert_tx_serves(1);
	(void)launcher_stop_device(&T.core.proc, SIGKILL);
	flen = vnet_frame_udp(frame, peer, T.mac, 80, 2);
	net_hdr_encode(&h, raw);
	head = vdrv_chain(
		&T.tx[0],
		(struct vdrv_buf[]){
			{vnet_guest_copy(&T, raw, NET_HDR_LEN), NET_HDR_LEN, false},
			{vnet_guest_copy(&T, frame, (uint32_t)flen), (uint32_t)flen, false}},
		2);
	vdrv_avail_add(&T.tx[0], head);
	rec = &T.core.rec[1];
	used = vdrv_used_idx(&T.tx[0]);
	rec->last_avail = (uint16_t)(used + 1);
	rec->bits[head / 64] |= 1ULL << (head % 64);
	assert_int_equal(vnet_crash_restart(&T, true), 0);
	assert_int_equal(vdrv_wait_used(&T.tx[0], VNET_TIMEOUT_MS), 1);
	assert_int_equal(vdrv_used_next(&T.tx[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	/* Not sent (at most once), and TX goes on. */
	assert_tx_serves(3);
	assert_int_equal(T.core.needs_reset, 0);
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	assert_int_equal(vnet_counter(&T, "tx_drop_restart"), 1);
}

/* A control command the old process took: answered by the new one. */
static void test_restart_ctrl_inflight(void **state)
{
	uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1}, ack = 0xee;
	struct virtq_inflight *rec;
	struct vdrv_buf b[2];
	uint32_t id, len;
	uint16_t head;

	(void)state;
	start();
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1),
			 VIRTIO_NET_OK);
	(void)launcher_stop_device(&T.core.proc, SIGKILL);
	b[0] = (struct vdrv_buf){vnet_guest_copy(&T, cmd, 3), 3, false};
	b[1] = (struct vdrv_buf){vnet_guest_copy(&T, &ack, 1), 1, true};
	head = vdrv_chain(&T.ctrl, b, 2);
	vdrv_avail_add(&T.ctrl, head);
	rec = &T.core.rec[2];
	rec->last_avail = (uint16_t)(vdrv_used_idx(&T.ctrl) + 1);
	rec->bits[head / 64] |= 1ULL << (head % 64);
	assert_int_equal(vnet_crash_restart(&T, true), 0);
	assert_int_equal(vdrv_wait_used(&T.ctrl, VNET_TIMEOUT_MS), 1);
	assert_int_equal(vdrv_used_next(&T.ctrl, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(*(uint8_t *)vdrv_host(&T.mem, b[1].gpa, 1), VIRTIO_NET_OK);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\1", 1),
			 VIRTIO_NET_OK);
	assert_int_equal(T.core.needs_reset, 0);
}

/* A record that does not add up: NeedsReset, the process lives on. */
static void test_restart_bad_record(void **state)
{
	(void)state;
	start();
	vnet_rx_post(&T, 0, 4, 2048);
	assert_rx(1);
	(void)launcher_stop_device(&T.core.proc, SIGKILL);
	T.core.rec[0].last_avail = (uint16_t)(T.core.rec[0].last_avail + 1000);
	assert_int_equal(vnet_crash_restart(&T, true), 0);
	assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
	assert_true(vcore_alive(&T.core));
	assert_int_equal(vnet_recover(&T), 0);
	vnet_rx_post(&T, 0, 4, 2048);
	assert_rx(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_restart_running, teardown),
		cmocka_unit_test_teardown(test_restart_tx_inflight, teardown),
		cmocka_unit_test_teardown(test_restart_ctrl_inflight, teardown),
		cmocka_unit_test_teardown(test_restart_bad_record, teardown),
	};

	vnet_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
