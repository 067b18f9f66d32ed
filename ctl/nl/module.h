/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_MODULE_H
#define KHOLMESCTL_MODULE_H

int kh_module_explain(void);

#endif
