package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"strings"
)

// pssCapabilitiesRestricted is the Pod Security Standards "Capabilities (restricted)" control (restricted).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.capabilities.drop
//	spec.containers[*].securityContext.capabilities.add
//	(and the same for initContainers and ephemeralContainers)
//	drop must include ALL; add may only hold NET_BIND_SERVICE
//
// The verdict is the upstream policy check "capabilities_restricted".
func pssCapabilitiesRestricted() check.Check {
	ctl := pssControl{upstream: "capabilities_restricted", containerField: restrictedCapabilitiesField}
	return check.Check{
		ID:          "pss-capabilities-restricted",
		Title:       "Capabilities not dropped",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "The restricted profile asks every container to drop all capabilities and add back at most NET_BIND_SERVICE, so a compromised process holds no kernel privilege.",
		Remediation: "Set securityContext.capabilities.drop to [\"ALL\"] and add back only NET_BIND_SERVICE when the container binds a port below 1024.",
		References: []check.Ref{
			pssReference("restricted", "Capabilities (restricted)"),
			check.Ref{Source: "cis", ID: "5.2.9", Title: "CIS Kubernetes Benchmark 5.2.9"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixCapabilities(false),
	}
}

// fixCapabilities drops all capabilities, keeping NET_BIND_SERVICE for a
// container that listens below 1024. Removing added capabilities (and any
// fix of the baseline control, which is about added ones) is breaking.
func fixCapabilities(baseline bool) check.FixFunc {
	return func(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
		container := containerPath(f.Field)
		if container == "" {
			return nil
		}
		keep := ""
		if c := containerAt(o.Pod, container); c != nil && listensBelow1024(c) {
			keep = `"NET_BIND_SERVICE"`
		}
		if strings.HasSuffix(f.Field, ".add") || baseline {
			return breaking("Drop all capabilities and remove the added ones",
				set(container+".securityContext.capabilities.drop", `["ALL"]`),
				set(container+".securityContext.capabilities.add", "["+keep+"]"))
		}
		fx := check.Fix{Message: "Drop all capabilities", Edits: edits(set(container+".securityContext.capabilities.drop", `["ALL"]`))}
		if keep != "" {
			fx.Message = "Drop all capabilities, keeping NET_BIND_SERVICE for a port below 1024"
			fx.Edits = append(fx.Edits, setIfMissing(container+".securityContext.capabilities.add", "["+keep+"]"))
		}
		return one(fx)
	}
}
