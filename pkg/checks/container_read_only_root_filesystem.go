package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// readOnlyRootFilesystem: every container sets
// securityContext.readOnlyRootFilesystem: true.
//
// A writable root filesystem lets an intruder drop tools and persist changes
// in the container; a read-only one, with emptyDir volumes for the paths the
// program writes (/tmp, caches), removes that foothold.
func readOnlyRootFilesystem() check.Check {
	return check.Check{
		ID:          "read-only-root-filesystem",
		Title:       "Root filesystem is writable",
		Severity:    check.Medium,
		Category:    check.CategoryContainer,
		Description: "A writable root filesystem lets an intruder download tools, change binaries and persist inside the container. Mounting it read-only, with emptyDir volumes for the paths the program really writes, removes that foothold.",
		Remediation: "Set securityContext.readOnlyRootFilesystem to true and mount an emptyDir at each path the container writes, such as /tmp.",
		References:  []check.Ref{nsaPodSecurity, mitre("T1611")},
		Scope:       podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
				if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
					return nil
				}
				return []check.Finding{check.NewFinding(o, c.Path+".securityContext.readOnlyRootFilesystem",
					kindOf(c)+" \""+c.Name+"\" does not set securityContext.readOnlyRootFilesystem=true")}
			})
		},
	}
}
