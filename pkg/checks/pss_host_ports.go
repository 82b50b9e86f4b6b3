package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssHostPorts is the Pod Security Standards "Host Ports" control (baseline).
//
// Restricted fields:
//
//	spec.containers[*].ports[*].hostPort
//	spec.initContainers[*].ports[*].hostPort
//	spec.ephemeralContainers[*].ports[*].hostPort
//	Allowed: 0, undefined
//
// The verdict is the upstream policy check "hostPorts".
func pssHostPorts() check.Check {
	ctl := pssControl{upstream: "hostPorts", containerField: hostPortField}
	return check.Check{
		ID:          "pss-host-ports",
		Title:       "Host port used",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "A host port binds the container to a port of the node's own address, which skips Service and NetworkPolicy controls and limits scheduling.",
		Remediation: "Remove hostPort from the container ports and expose the workload through a Service.",
		References: []check.Ref{
			pssReference("host-ports", "Host Ports"),
			check.Ref{Source: "cis", ID: "5.2.12", Title: "CIS Kubernetes Benchmark 5.2.12"},
			nsaPodSecurity,
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixRemoveField,
	}
}

// fixRemoveField removes the field the finding points at (breaking: what
// used it is gone); the host-port and sysctl checks share it.
func fixRemoveField(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	return breaking("Remove "+lastKey(f.Field), del(f.Field))
}
