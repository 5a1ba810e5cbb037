// SPDX-License-Identifier: GPL-2.0-or-later
/* Does not compile, on purpose (tests/integration/70-pacman.sh). */
#include <linux/module.h>

static int __init dkms_broken_init(void)
{
	return this_is_not_declared;
}
module_init(dkms_broken_init);
MODULE_LICENSE("GPL");
