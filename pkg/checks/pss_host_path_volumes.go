package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssHostPathVolumes is the Pod Security Standards "HostPath Volumes" control (baseline).
//
// Restricted fields:
//
//	spec.volumes[*].hostPath
//	Allowed: undefined
//
// The verdict is the upstream policy check "hostPathVolumes".
func pssHostPathVolumes() check.Check {
	ctl := pssControl{upstream: "hostPathVolumes", field: ""}
	return check.Check{
		ID:          "pss-host-path-volumes",
		Title:       "HostPath volume mounted",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "A hostPath volume mounts a folder of the node into the pod: container runtime sockets, kubelet credentials and host configuration are a path away.",
		Remediation: "Replace the hostPath volume with an emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim.",
		References: []check.Ref{
			pssReference("hostpath-volumes", "HostPath Volumes"),
			check.Ref{Source: "cis", ID: "5.2.11", Title: "CIS Kubernetes Benchmark 5.2.11"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   removeVolume,
	}
}
