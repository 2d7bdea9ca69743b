/* seccomp rules of cellvm-dev-gpu (SANDBOX_DEV_GPU), on top of
 * policy_base.c, which already holds most of what it calls after
 * sandbox_enter(): the epoll loop over its core link; reads and writes of
 * eventfds (its interrupts, the capture ring's subscribers); memory for the
 * guest's resources (mmap without PROT_EXEC, munmap, brk, within the
 * per-VM budget); clock_gettime for the ring's frame timestamps (the vDSO
 * first). Guest RAM and the capture ring are mapped before the sandbox. It
 * opens nothing.
 *
 * Host presentation (dev-procs/gpu/present.c, only with --gpu ...,present=)
 * adds the DRM node the launcher opened: everything about it is found,
 * created and mapped before the sandbox (resources, connectors, dumb
 * buffers and their framebuffers, the mmap of the dumb buffers, the first
 * mode set), so inside only the four ioctls that show a frame or move the
 * cursor remain, each by its request number; read() of the node's events
 * (flip completions) is base's read. The device is DRM master through the
 * launcher's open, and these are what a master may do with a CRTC it
 * already drives; creating buffers, other ioctls, and any other device's
 * ioctls stay killed. */
#include <libdrm/drm.h>

#include "sandbox/policy.h"

/* clang-format off */
static const struct sb_rule gpu_rules[] = {
	SB_ALLOW_ARG(ioctl, 1, DRM_IOCTL_MODE_PAGE_FLIP),	/* present: show the back buffer at the next vblank */
	SB_ALLOW_ARG(ioctl, 1, DRM_IOCTL_MODE_SETCRTC),	/* present: the same on devices without page flips */
	SB_ALLOW_ARG(ioctl, 1, DRM_IOCTL_MODE_CURSOR2),	/* present: the guest's cursor image and hotspot */
	SB_ALLOW_ARG(ioctl, 1, DRM_IOCTL_MODE_CURSOR),	/* present: move or hide the cursor */
};
/* clang-format on */

SB_POLICY(policy_gpu, "gpu", gpu_rules);
