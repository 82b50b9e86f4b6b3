package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"strings"
)

// pssHostNamespaces is the Pod Security Standards "Host Namespaces" control (baseline).
//
// Restricted fields:
//
//	spec.hostNetwork
//	spec.hostPID
//	spec.hostIPC
//	Allowed: false, undefined
//
// The verdict is the upstream policy check "hostNamespaces".
func pssHostNamespaces() check.Check {
	ctl := pssControl{upstream: "hostNamespaces", field: ""}
	return check.Check{
		ID:          "pss-host-namespaces",
		Title:       "Host namespaces shared",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "Sharing the host's network, PID or IPC namespace lets the pod see and talk to every process and socket on the node, and bypasses NetworkPolicies.",
		Remediation: "Remove hostNetwork, hostPID and hostIPC from the pod spec, or set them to false.",
		References: []check.Ref{
			pssReference("host-namespaces", "Host Namespaces"),
			check.Ref{Source: "cis", ID: "5.2.3", Title: "CIS Kubernetes Benchmark 5.2.3"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixHostNamespaces,
	}
}

// fixHostNamespaces stops sharing the host's network, PID or IPC namespace.
// Without host networking the pod comes under NetworkPolicies, so generated
// policies are computed again.
func fixHostNamespaces(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	if !strings.HasPrefix(f.Field, o.Pod.SpecPath+".host") {
		return nil
	}
	return one(check.Fix{Message: "Stop sharing the host namespace", Breaking: true, Edits: edits(set(f.Field, "false")), Regenerate: true})
}
