package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"strings"
)

// pssHostProbesLifecycle is the Pod Security Standards "Host Probes / Lifecycle Hooks" control (baseline).
//
// Restricted fields:
//
//	spec.containers[*].livenessProbe.httpGet.host (and tcpSocket.host)
//	spec.containers[*].readinessProbe, startupProbe: the same
//	spec.containers[*].lifecycle.postStart, preStop: httpGet.host, tcpSocket.host
//	Allowed: undefined, "" (policy 1.34+)
//
// The verdict is the upstream policy check "hostProbesAndHostLifecycle".
func pssHostProbesLifecycle() check.Check {
	ctl := pssControl{upstream: "hostProbesAndHostLifecycle", containerField: hostProbeField}
	return check.Check{
		ID:          "pss-host-probes-lifecycle",
		Title:       "Probe or lifecycle handler targets another host",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "A host in a probe or lifecycle handler makes the kubelet, from the node's network, connect wherever the manifest says: a server-side request forgery path.",
		Remediation: "Remove the host field from probes and lifecycle handlers so they target the pod itself.",
		References: []check.Ref{
			pssReference("baseline", "Host Probes / Lifecycle Hooks"),
			nsaPodSecurity,
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixProbeHost,
	}
}

// fixProbeHost removes the host of a probe or lifecycle handler, which then
// reaches the pod's own IP (breaking: it probed something else).
func fixProbeHost(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	if !strings.HasSuffix(f.Field, ".host") {
		return nil
	}
	return breaking("Remove the host from the probe or handler", del(f.Field))
}
