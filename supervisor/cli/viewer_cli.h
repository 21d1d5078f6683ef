/* SPDX-License-Identifier: MIT */
/* vgpuvm viewer: remote-viewer on a running VM's SPICE display. */
#pragma once

int cmd_viewer(int argc, char **argv);
