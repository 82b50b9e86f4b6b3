package checks

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// Helpers the checks' fixes share. Each fix lives in its check's file; these
// read the object the way several of them need.

// set, del and add build edits.
func set(path, value string) check.Edit { return check.Edit{Op: "set", Path: path, Value: value} }
func setIfMissing(path, value string) check.Edit {
	return check.Edit{Op: "set", Path: path, Value: value, IfMissing: true}
}
func del(path string) check.Edit          { return check.Edit{Op: "delete", Path: path} }
func add(path, value string) check.Edit   { return check.Edit{Op: "append", Path: path, Value: value} }
func edits(es ...check.Edit) []check.Edit { return es }
func one(fx check.Fix) []check.Fix        { return []check.Fix{fx} }
func breaking(message string, es ...check.Edit) []check.Fix {
	return one(check.Fix{Message: message, Breaking: true, Edits: es})
}

// containerPath returns the container prefix of a field path, or "".
func containerPath(field string) string {
	for _, list := range []string{".containers[", ".initContainers[", ".ephemeralContainers["} {
		if i := strings.Index(field, list); i >= 0 {
			if j := strings.IndexByte(field[i:], ']'); j >= 0 {
				return field[:i+j+1]
			}
		}
	}
	return ""
}

// containerAt returns the container at field path path, or nil.
func containerAt(p *object.PodTemplate, path string) *corev1.Container {
	for _, c := range p.Containers() {
		if c.Path == path {
			return c.Container
		}
	}
	return nil
}

func listensBelow1024(c *corev1.Container) bool {
	for _, p := range c.Ports {
		if p.ContainerPort > 0 && p.ContainerPort < 1024 {
			return true
		}
	}
	return false
}

func setsRunAsUser(spec *corev1.PodSpec) bool {
	if spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil {
		return true
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
			return true
		}
	}
	return false
}

// lastKey is the last mapping key of a field path.
func lastKey(path string) string {
	segs := manifest.ParsePath(path)
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].Index < 0 {
			return segs[i].Key
		}
	}
	return path
}

// removeVolume removes the volume a finding's field points into and every
// mount of it (the volume checks' fix).
func removeVolume(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	if o.Pod == nil {
		return nil
	}
	segs := manifest.ParsePath(strings.TrimPrefix(f.Field, o.Pod.SpecPath+"."))
	if len(segs) < 2 || segs[0].Key != "volumes" || segs[1].Index < 0 || segs[1].Index >= len(o.Pod.Spec.Volumes) {
		return nil
	}
	name := o.Pod.Spec.Volumes[segs[1].Index].Name
	var es []check.Edit
	for _, c := range o.Pod.Containers() {
		for j := len(c.VolumeMounts) - 1; j >= 0; j-- {
			if c.VolumeMounts[j].Name == name {
				es = append(es, del(c.Path+".volumeMounts["+strconv.Itoa(j)+"]"))
			}
		}
	}
	es = append(es, del(o.Pod.SpecPath+".volumes["+strconv.Itoa(segs[1].Index)+"]"))
	return one(check.Fix{Message: "Remove volume " + name + " and its mounts", Breaking: true, Edits: es, Alone: true})
}
