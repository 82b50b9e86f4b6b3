// Package inventory holds the set of objects a scan evaluates and the views
// derived from it once (pod templates, namespaces), shared by every check.
package inventory

import (
	"reflect"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// PodTemplate is the pod spec an object runs, with the field paths of its
// metadata and spec inside the object.
type PodTemplate struct {
	Meta     *metav1.ObjectMeta
	Spec     *corev1.PodSpec
	MetaPath string
	SpecPath string
}

// Object is a manifest object with its derived views.
type Object struct {
	*manifest.Object
	// Pod is the pod spec the object runs (Pods, workload templates, and
	// unknown kinds that embed a pod template), or nil.
	Pod *PodTemplate
}

// Inventory is the indexed set of objects of one scan.
type Inventory struct {
	Objects    []*Object
	namespaces map[string]*corev1.Namespace
}

// New indexes objs and derives pod templates.
func New(objs []*manifest.Object) *Inventory {
	inv := &Inventory{namespaces: map[string]*corev1.Namespace{}}
	inv.Objects = make([]*Object, len(objs))
	for i, o := range objs {
		inv.Objects[i] = &Object{Object: o, Pod: podTemplate(o)}
		if ns, ok := o.Typed.(*corev1.Namespace); ok && o.Name != "" {
			inv.namespaces[o.Name] = ns
		}
	}
	return inv
}

// Namespace returns the Namespace object named name, if the scan has it.
func (inv *Inventory) Namespace(name string) (*corev1.Namespace, bool) {
	ns, ok := inv.namespaces[name]
	return ns, ok
}

// NamespaceNames lists the Namespace objects in the scan, sorted.
func (inv *Inventory) NamespaceNames() []string {
	names := make([]string, 0, len(inv.namespaces))
	for n := range inv.namespaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultPodSpec applies the API server's defaults that change a Pod
// Security verdict, so that a manifest is judged as the API server would
// judge it after defaulting: a volume without a source becomes an emptyDir.
func DefaultPodSpec(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if reflect.ValueOf(v.VolumeSource).IsZero() {
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
}

func podTemplate(o *manifest.Object) *PodTemplate {
	t := derivePodTemplate(o)
	if t != nil {
		DefaultPodSpec(t.Spec)
	}
	return t
}

func derivePodTemplate(o *manifest.Object) *PodTemplate {
	tpl := func(t *corev1.PodTemplateSpec, base string) *PodTemplate {
		if t == nil {
			return nil
		}
		return &PodTemplate{Meta: &t.ObjectMeta, Spec: &t.Spec, MetaPath: base + ".metadata", SpecPath: base + ".spec"}
	}
	switch t := o.Typed.(type) {
	case *corev1.Pod:
		return &PodTemplate{Meta: &t.ObjectMeta, Spec: &t.Spec, MetaPath: "metadata", SpecPath: "spec"}
	case *corev1.PodTemplate:
		return tpl(&t.Template, "template")
	case *corev1.ReplicationController:
		return tpl(t.Spec.Template, "spec.template")
	case *appsv1.Deployment:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1.ReplicaSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1.StatefulSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1.DaemonSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *batchv1.Job:
		return tpl(&t.Spec.Template, "spec.template")
	case *batchv1.CronJob:
		return tpl(&t.Spec.JobTemplate.Spec.Template, "spec.jobTemplate.spec.template")
	case nil:
		return embeddedTemplate(o)
	}
	return nil
}

// embeddedTemplate finds the pod template of a kind it does not know (a
// custom resource, or an API version the scheme no longer has) by the shapes
// workload APIs use: spec.template, spec.jobTemplate.spec.template, or a pod
// spec directly under spec.
func embeddedTemplate(o *manifest.Object) *PodTemplate {
	for _, base := range []string{"spec.template", "spec.jobTemplate.spec.template", "template"} {
		var t corev1.PodTemplateSpec
		if o.Decode(base, &t) && len(t.Spec.Containers) > 0 {
			return &PodTemplate{Meta: &t.ObjectMeta, Spec: &t.Spec, MetaPath: base + ".metadata", SpecPath: base + ".spec"}
		}
	}
	var spec corev1.PodSpec
	if o.Decode("spec", &spec) && len(spec.Containers) > 0 {
		var meta metav1.ObjectMeta
		o.Decode("metadata", &meta)
		return &PodTemplate{Meta: &meta, Spec: &spec, MetaPath: "metadata", SpecPath: "spec"}
	}
	return nil
}
