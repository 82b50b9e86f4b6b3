package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capPerfmon reports containers that add PERFMON.
func capPerfmon() check.Check {
	return capabilityCheck("cap-perfmon", "PERFMON", check.Medium,
		"PERFMON capability added",
		"PERFMON grants performance monitoring and, with BPF, tracing programs that can read kernel and other processes' memory.")
}
