package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capBPF reports containers that add BPF.
func capBPF() check.Check {
	return capabilityCheck("cap-bpf", "BPF", check.High,
		"BPF capability added",
		"BPF allows loading eBPF programs and maps, which can observe and alter kernel behaviour and have been a steady source of kernel privilege escalations.")
}
