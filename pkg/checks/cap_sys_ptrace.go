package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysPtrace reports containers that add SYS_PTRACE.
func capSysPtrace() check.Check {
	return capabilityCheck("cap-sys-ptrace", "SYS_PTRACE", check.High,
		"SYS_PTRACE capability added",
		"SYS_PTRACE lets a process trace and inject code into other processes it can see; with a shared or host PID namespace that includes other containers and the node.")
}
