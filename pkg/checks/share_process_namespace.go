package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// shareProcessNamespace: no pod sets spec.shareProcessNamespace: true.
//
// Field: spec.shareProcessNamespace (in a workload, its pod template's).
// With one process namespace for the whole pod, every container sees the
// others' processes, can signal them (as the same user) and reads their
// environment and files through /proc/<pid>/environ and /proc/<pid>/root,
// so a compromised sidecar reads the main container's secrets and tokens.
// The Pod Security Standards do not restrict it. Unset and false pass.
func shareProcessNamespace() check.Check {
	return check.Check{
		ID:          "share-process-namespace",
		Title:       "Containers share one process namespace",
		Severity:    check.Medium,
		Category:    check.CategoryContainer,
		Description: "With shareProcessNamespace: true every container of the pod sees the processes of the others, can signal them, and reads their environment and files through /proc/<pid>/environ and /proc/<pid>/root: one compromised container, a sidecar included, gets the secrets and tokens of all. The Pod Security Standards do not restrict it.",
		Remediation: "Remove shareProcessNamespace (it defaults to false); debug a running pod with kubectl debug --target instead.",
		References: []check.Ref{
			k8sDocs("Share process namespace between containers in a pod", "https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/"),
			ref("mitre", "T1552", "MITRE ATT&CK T1552: Unsecured Credentials", "https://attack.mitre.org/techniques/T1552/"),
		},
		Scope: podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			if s := o.Pod.Spec.ShareProcessNamespace; s == nil || !*s {
				return nil
			}
			return []check.Finding{check.NewFinding(o, o.Pod.SpecPath+".shareProcessNamespace",
				"the pod's "+itoa(len(o.Pod.Spec.Containers)+len(o.Pod.Spec.InitContainers))+" container(s) share one process namespace")}
		},
		// Breaking: a sidecar that signals the main process (a config
		// reloader) or a process reaper relies on seeing it.
		Fix: func(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
			return breaking("Stop sharing the process namespace between containers", set(f.Field, "false"))
		},
	}
}
