package checks

import (
	"fmt"

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
		Fix:         fixReadOnlyRoot,
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

// fixReadOnlyRoot makes the root filesystem read-only and mounts an emptyDir
// at /tmp, where most programs write. One emptyDir serves every container:
// it reuses the one a fix of a sibling container added (or the pod's own
// "tmp" emptyDir), and never adds a second volume of the same name, which
// the API server rejects.
func fixReadOnlyRoot(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	container := containerPath(f.Field)
	c := containerAt(o.Pod, container)
	if c == nil {
		return nil
	}
	es := edits(set(container+".securityContext.readOnlyRootFilesystem", "true"))
	hasTmp := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" {
			hasTmp = true
		}
	}
	if !hasTmp {
		volume, exists := "", false
		used := map[string]bool{}
		for _, v := range o.Pod.Spec.Volumes {
			used[v.Name] = true
			if (v.Name == "tmp" || v.Name == "rampart-tmp") && v.EmptyDir != nil && !exists {
				volume, exists = v.Name, true
			}
		}
		for i := 1; volume == ""; i++ {
			name := "tmp"
			switch {
			case i == 2:
				name = "rampart-tmp"
			case i > 2:
				name = fmt.Sprintf("rampart-tmp-%d", i-1)
			}
			if !used[name] {
				volume = name
			}
		}
		if !exists {
			es = append(es, add(o.Pod.SpecPath+".volumes", "{name: "+volume+", emptyDir: {}}"))
		}
		es = append(es, add(container+".volumeMounts", "{name: "+volume+", mountPath: /tmp}"))
	}
	return one(check.Fix{Message: "Make the root filesystem read-only, with an emptyDir at /tmp", Breaking: true, Edits: es, Alone: true})
}
