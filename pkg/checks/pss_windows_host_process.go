package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssWindowsHostProcess is the Pod Security Standards "HostProcess" control (baseline).
//
// Restricted fields:
//
//	spec.securityContext.windowsOptions.hostProcess
//	spec.containers[*].securityContext.windowsOptions.hostProcess
//	Allowed: false, undefined
//
// The verdict is the upstream policy check "windowsHostProcess".
func pssWindowsHostProcess() check.Check {
	ctl := pssControl{upstream: "windowsHostProcess", field: "securityContext.windowsOptions.hostProcess"}
	return check.Check{
		ID:          "pss-windows-host-process",
		Title:       "Windows HostProcess container",
		Severity:    check.Critical,
		Category:    check.CategoryPSS,
		Description: "A Windows HostProcess container runs directly on the Windows node with host access: the Windows counterpart of a privileged container.",
		Remediation: "Remove windowsOptions.hostProcess or set it to false.",
		References: []check.Ref{
			pssReference("baseline", "HostProcess"),
			check.Ref{Source: "cis", ID: "5.2.10", Title: "CIS Kubernetes Benchmark 5.2.10"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
	}
}
