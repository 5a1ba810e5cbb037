// SPDX-License-Identifier: GPL-2.0-or-later
/* The smallest useful DKMS module: says hello when loaded, goodbye when removed. */
#include <linux/init.h>
#include <linux/module.h>

static int __init dkms_hello_init(void)
{
	pr_info("dkms_hello: loaded\n");
	return 0;
}

static void __exit dkms_hello_exit(void)
{
	pr_info("dkms_hello: unloaded\n");
}

module_init(dkms_hello_init);
module_exit(dkms_hello_exit);
MODULE_DESCRIPTION("Example module shipped with dkms-ng");
MODULE_VERSION("0.1");
MODULE_LICENSE("GPL");
