// SPDX-License-Identifier: GPL-2.0
/* The redirect program that also hands the driver's RX hints to the socket: see xsk_redirect.c. */
#define XSK_RX_META 1
#define XSK_PROG_NAME xsk_redirect_md
#include "xsk_redirect.c"
