package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capSysRawio reports containers that add SYS_RAWIO.
func capSysRawio() check.Check {
	return capabilityCheck("cap-sys-rawio", "SYS_RAWIO", check.High,
		"SYS_RAWIO capability added",
		"SYS_RAWIO allows raw I/O port and memory access (iopl, /dev/mem): direct access to host hardware and kernel memory.")
}
