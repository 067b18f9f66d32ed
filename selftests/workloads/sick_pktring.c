// SPDX-License-Identifier: GPL-2.0
/*
 * sick_pktring: maps an AF_PACKET receive ring (PACKET_RX_RING), as
 * tcpdump does: a socket mapped at file offset 0. Protocol 0 receives no
 * packet, so a read() of that socket would block forever. Says "ready"
 * once the ring is mapped, then sleeps until killed.
 */
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "wl.h"

int main(int argc, char *argv[])
{
	struct tpacket_req req = {
		.tp_block_size = 4096,
		.tp_block_nr = 4,
		.tp_frame_size = 2048,
		.tp_frame_nr = 8,
	};
	struct wl_opts o;
	void *ring;
	int fd;

	wl_parse(argc, argv, "", "", &o);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		wl_die("socket(AF_PACKET)");
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		wl_die("PACKET_RX_RING");
	ring = mmap(NULL, req.tp_block_size * req.tp_block_nr,
		    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		wl_die("mmap ring");
	wl_say("ready");
	wl_hold_forever();
	return 0;
}
