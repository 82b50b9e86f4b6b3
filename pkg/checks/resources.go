package checks

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// qosClass computes the pod's QoS class the way the kubelet does:
// Guaranteed when every container has CPU and memory limits and requests
// equal to them (requests default to limits), BestEffort when no container
// requests or limits CPU or memory, Burstable otherwise.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	set, guaranteed := false, true
	for _, c := range spec.InitContainers {
		s, g := qosOf(&c)
		set, guaranteed = set || s, guaranteed && g
	}
	for _, c := range spec.Containers {
		s, g := qosOf(&c)
		set, guaranteed = set || s, guaranteed && g
	}
	switch {
	case !set:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// qosOf says whether a container requests or limits CPU or memory, and
// whether it meets the Guaranteed rule.
func qosOf(c *corev1.Container) (set, guaranteed bool) {
	guaranteed = true
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		if (hasReq && !req.IsZero()) || (hasLim && !lim.IsZero()) {
			set = true
		}
		if !hasLim || (hasReq && req.Cmp(lim) != 0) {
			guaranteed = false
		}
	}
	return set, guaranteed
}

// resourceCheck reports containers that do not set resource name in
// requests (limit=false) or limits (limit=true).
func resourceCheck(id string, name corev1.ResourceName, limit bool, sev check.Severity, title, why, fix string) check.Check {
	field := "requests"
	if limit {
		field = "limits"
	}
	return check.Check{
		ID:          id,
		Title:       title,
		Severity:    sev,
		Category:    check.CategoryResources,
		Description: why,
		Remediation: fix,
		References: []check.Ref{
			nsaResources,
			k8sDocs("Resource management for pods and containers", "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"),
		},
		Scope: podScope,
		Fix:   fixResource,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			var qos corev1.PodQOSClass // computed only when something is missing
			return perContainer(o, func(c object.Container) []check.Finding {
				if c.Ephemeral {
					return nil // ephemeral containers may not set resources
				}
				list := c.Resources.Requests
				if limit {
					list = c.Resources.Limits
				}
				if q, ok := list[name]; ok && !q.IsZero() {
					return nil
				}
				if !limit { // a limit alone makes the request equal to it
					if q, ok := c.Resources.Limits[name]; ok && !q.IsZero() {
						return nil
					}
				}
				if qos == "" {
					qos = qosClass(o.Pod.Spec)
				}
				return []check.Finding{check.NewFinding(o, c.Path+".resources."+field+"."+string(name),
					kindOf(c)+" \""+c.Name+"\" sets no "+string(name)+" "+field[:len(field)-1]+" (pod QoS class: "+string(qos)+")")}
			})
		},
	}
}

func cpuRequestMissing() check.Check {
	return resourceCheck("cpu-request-missing", corev1.ResourceCPU, false, check.Low, "No CPU request",
		"Without a CPU request the scheduler places the pod as if it needed no CPU and, under contention, it gets the smallest share; a noisy neighbour can starve it.",
		"Set resources.requests.cpu to the CPU the container needs at steady state.")
}

func memoryRequestMissing() check.Check {
	return resourceCheck("memory-request-missing", corev1.ResourceMemory, false, check.Low, "No memory request",
		"Without a memory request the scheduler can pack the pod onto a node that cannot hold it, and it is among the first evicted under memory pressure.",
		"Set resources.requests.memory to the memory the container needs at steady state.")
}

func cpuLimitMissing() check.Check {
	return resourceCheck("cpu-limit-missing", corev1.ResourceCPU, true, check.Low, "No CPU limit",
		"A container without a CPU limit can use every core of its node, so one runaway or compromised process (a cryptominer, say) degrades every workload there. Some teams deliberately run without CPU limits to avoid throttling; suppress this check with that reason.",
		"Set resources.limits.cpu, or suppress this check with the reason when throttling matters more.")
}

func memoryLimitMissing() check.Check {
	return resourceCheck("memory-limit-missing", corev1.ResourceMemory, true, check.Medium, "No memory limit",
		"A container without a memory limit can consume its node's memory until the kernel kills other pods' processes: a leak or an attack becomes a node-wide outage.",
		"Set resources.limits.memory; equal to the request gives the pod the Guaranteed QoS class.")
}

func ephemeralStorageLimitMissing() check.Check {
	return resourceCheck("ephemeral-storage-limit-missing", corev1.ResourceEphemeralStorage, true, check.Low, "No ephemeral-storage limit",
		"Without an ephemeral-storage limit a container can fill the node's disk with logs and writable-layer data, which evicts other pods and can stop the kubelet.",
		"Set resources.limits.ephemeral-storage to what the container may write locally.")
}

// fixResource sets the missing request or limit to the value the user gave
// for it (fix --resources); a resource without a value gets no fix. A
// missing request is judged after the other fixes: the limit a fix sets
// gives the request its value.
func fixResource(ctx *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	container := containerPath(f.Field)
	rel := strings.TrimPrefix(f.Field, container+".resources.") // requests.cpu
	v, ok := ctx.Resources[rel]
	if container == "" || !ok {
		return nil
	}
	return one(check.Fix{Message: "Set resources." + rel + " to " + v, Edits: edits(setIfMissing(f.Field, strconv.Quote(v))),
		Later: strings.HasPrefix(rel, "requests.")})
}
