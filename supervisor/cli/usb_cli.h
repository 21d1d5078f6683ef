/* SPDX-License-Identifier: MIT */
/* `vgpuvm usb`: host USB devices for a running VM. */
#pragma once

int cmd_usb(int argc, char **argv);
