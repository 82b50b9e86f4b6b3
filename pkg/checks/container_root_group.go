package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// rootGroup: no pod or container runs with group 0.
//
// Fields: spec.securityContext.runAsGroup, fsGroup, supplementalGroups and
// containers[*].securityContext.runAsGroup. Group 0 (root) owns many files
// in images and on hosts; the Pod Security Standards check the user, not the
// group. Only an explicit 0 is reported: an unset group is the image's.
func rootGroup() check.Check {
	return check.Check{
		ID:          "run-as-root-group",
		Title:       "Runs with the root group",
		Severity:    check.Medium,
		Category:    check.CategoryContainer,
		Description: "A pod or container that sets runAsGroup, fsGroup or a supplemental group to 0 runs with the root group, which owns many files in images and on nodes. The Pod Security Standards restrict the user, not the group.",
		Remediation: "Set runAsGroup and fsGroup to a non-zero GID, such as 10001, and remove 0 from supplementalGroups.",
		References:  []check.Ref{nsaPodSecurity, cis("5.2.7", "Minimize the admission of root containers")},
		Scope:       podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			var out []check.Finding
			spec := o.Pod.SpecPath + ".securityContext"
			if sc := o.Pod.Spec.SecurityContext; sc != nil {
				if sc.RunAsGroup != nil && *sc.RunAsGroup == 0 {
					out = append(out, check.NewFinding(o, spec+".runAsGroup", "pod sets securityContext.runAsGroup=0"))
				}
				if sc.FSGroup != nil && *sc.FSGroup == 0 {
					out = append(out, check.NewFinding(o, spec+".fsGroup", "pod sets securityContext.fsGroup=0"))
				}
				for i, g := range sc.SupplementalGroups {
					if g == 0 {
						out = append(out, check.NewFinding(o, spec+".supplementalGroups["+itoa(i)+"]", "pod adds supplemental group 0"))
					}
				}
			}
			return append(out, perContainer(o, func(c object.Container) []check.Finding {
				if sc := c.SecurityContext; sc != nil && sc.RunAsGroup != nil && *sc.RunAsGroup == 0 {
					return []check.Finding{check.NewFinding(o, c.Path+".securityContext.runAsGroup", kindOf(c)+" \""+c.Name+"\" sets securityContext.runAsGroup=0")}
				}
				return nil
			})...)
		},
	}
}
