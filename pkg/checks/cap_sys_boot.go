package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysBoot reports containers that add SYS_BOOT.
func capSysBoot() check.Check {
	return capabilityCheck("cap-sys-boot", "SYS_BOOT", check.High,
		"SYS_BOOT capability added",
		"SYS_BOOT allows reboot and kexec_load, which can restart the node into another kernel.")
}
