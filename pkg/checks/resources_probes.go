package checks

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// probeCheck reports regular containers of long-running workloads (not Jobs,
// CronJobs or run-to-completion Pods) that define no such probe.
func probeCheck(id, probe string, get func(*corev1.Container) *corev1.Probe, title, why string) check.Check {
	return check.Check{
		ID:          id,
		Title:       title,
		Severity:    check.Info,
		Category:    check.CategoryResources,
		Description: why,
		Remediation: "Define " + probe + " against an endpoint or command that reflects the container's health.",
		References:  []check.Ref{k8sDocs("Liveness, readiness and startup probes", "https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/")},
		Scope:       podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			if !longRunning(o) {
				return nil
			}
			return perContainer(o, func(c object.Container) []check.Finding {
				if c.Init || c.Ephemeral || get(c.Container) != nil {
					return nil
				}
				return []check.Finding{check.NewFinding(o, c.Path+"."+probe, "container \""+c.Name+"\" defines no "+probe)}
			})
		},
	}
}

func livenessProbeMissing() check.Check {
	return probeCheck("liveness-probe-missing", "livenessProbe", func(c *corev1.Container) *corev1.Probe { return c.LivenessProbe },
		"No liveness probe", "Without a liveness probe a hung process keeps its pod Running forever; the kubelet never restarts it.")
}

func readinessProbeMissing() check.Check {
	return probeCheck("readiness-probe-missing", "readinessProbe", func(c *corev1.Container) *corev1.Probe { return c.ReadinessProbe },
		"No readiness probe", "Without a readiness probe a Service sends traffic to the pod as soon as it starts, before it can answer, and keeps sending it when the pod cannot.")
}
