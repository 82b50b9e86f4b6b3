package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysAdmin reports containers that add SYS_ADMIN.
func capSysAdmin() check.Check {
	return capabilityCheck("cap-sys-admin", "SYS_ADMIN", check.Critical,
		"SYS_ADMIN capability added",
		"SYS_ADMIN is the catch-all capability: mount, namespace and cgroup operations, BPF maps and dozens of device ioctls. Most container escapes published start from it.")
}
