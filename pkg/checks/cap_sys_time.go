package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysTime reports containers that add SYS_TIME.
func capSysTime() check.Check {
	return capabilityCheck("cap-sys-time", "SYS_TIME", check.Medium,
		"SYS_TIME capability added",
		"SYS_TIME sets the system clock, which is shared by every container on the node and breaks certificate validation and audit timestamps.")
}
