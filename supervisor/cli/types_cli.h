/* SPDX-License-Identifier: MIT */
/* `vgpuvm types`: every mdev parent of the host, its types, and the mdevs that exist now. */
#pragma once

int cmd_types(int argc, char **argv);
