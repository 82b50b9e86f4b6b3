package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysModule reports containers that add SYS_MODULE.
func capSysModule() check.Check {
	return capabilityCheck("cap-sys-module", "SYS_MODULE", check.Critical,
		"SYS_MODULE capability added",
		"SYS_MODULE allows loading kernel modules: code running in the host kernel, which is a full node compromise.")
}
