// Package object is one Kubernetes object as the checks read it: the
// manifest object (typed when its kind is known, with positions in its source)
// and the views derived from it once — the pod template it runs, its
// containers with their field paths, its annotations. It knows nothing of the
// other objects of a scan: that is the inventory's, or a cluster's, or an
// admission request's context.
package object

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	appsv1beta2 "k8s.io/api/apps/v1beta2"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
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

	containers []Container // computed once by Containers
}

// Object is a manifest object with its derived views.
type Object struct {
	*manifest.Object
	// Pod is the pod spec the object runs (Pods, workload templates, and
	// unknown kinds that embed a pod template), or nil.
	Pod *PodTemplate
	// Annotations are the object's own metadata.annotations.
	Annotations map[string]string
}

// EffectiveNamespace is the namespace the object lands in: its own, or
// "default" for a namespaced object that names none.
func (o *Object) EffectiveNamespace() string {
	if o.Namespace == "" {
		return "default"
	}
	return o.Namespace
}

// New derives the views of o: its pod template (defaulted as the API server
// would) and its annotations.
func New(o *manifest.Object) *Object {
	return &Object{Object: o, Pod: podTemplate(o), Annotations: annotations(o)}
}

// annotations returns the object's metadata.annotations.
func annotations(o *manifest.Object) map[string]string {
	if o.Typed != nil {
		if m, err := meta.Accessor(o.Typed); err == nil {
			return m.GetAnnotations()
		}
		return nil
	}
	var m metav1.ObjectMeta
	if o.Decode("metadata", &m) {
		return m.Annotations
	}
	return nil
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
		t.containers = t.listContainers()
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
	// Removed API versions still in old manifests: the API server refuses
	// them (removed-api-version says so), but the pods they describe are
	// judged like any other, so the migration does not hide a privileged one.
	case *appsv1beta2.Deployment:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1beta2.ReplicaSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1beta2.StatefulSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1beta2.DaemonSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1beta1.Deployment:
		return tpl(&t.Spec.Template, "spec.template")
	case *appsv1beta1.StatefulSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *extensionsv1beta1.Deployment:
		return tpl(&t.Spec.Template, "spec.template")
	case *extensionsv1beta1.DaemonSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *extensionsv1beta1.ReplicaSet:
		return tpl(&t.Spec.Template, "spec.template")
	case *batchv1beta1.CronJob:
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

// Container is one container of a pod template and its field path.
type Container struct {
	*corev1.Container
	// Path is the container's field path, e.g. spec.template.spec.containers[1].
	Path string
	// Init is true for init containers, Ephemeral for ephemeral containers.
	Init, Ephemeral bool
}

// Containers lists init, regular and ephemeral containers, in that order.
// The list is computed when the inventory is built and shared: do not modify.
func (p *PodTemplate) Containers() []Container {
	if p.containers != nil {
		return p.containers
	}
	return p.listContainers()
}

func (p *PodTemplate) listContainers() []Container {
	out := make([]Container, 0, len(p.Spec.InitContainers)+len(p.Spec.Containers)+len(p.Spec.EphemeralContainers))
	for i := range p.Spec.InitContainers {
		out = append(out, Container{Container: &p.Spec.InitContainers[i], Path: p.SpecPath + ".initContainers[" + strconv.Itoa(i) + "]", Init: true})
	}
	for i := range p.Spec.Containers {
		out = append(out, Container{Container: &p.Spec.Containers[i], Path: p.SpecPath + ".containers[" + strconv.Itoa(i) + "]"})
	}
	for i := range p.Spec.EphemeralContainers {
		c := (*corev1.Container)(&p.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		out = append(out, Container{Container: c, Path: p.SpecPath + ".ephemeralContainers[" + strconv.Itoa(i) + "]", Ephemeral: true})
	}
	return out
}

// ContainerAt returns the name of the container whose field path prefixes
// field, or "".
func (p *PodTemplate) ContainerAt(field string) string {
	for _, c := range p.Containers() {
		if field == c.Path || strings.HasPrefix(field, c.Path+".") {
			return c.Name
		}
	}
	return ""
}

// DecodeJSON reads a field of an object of a kind the scheme does not know
// (Gateway API, Istio, Cilium) into out through JSON, so that the target
// type's own json tags apply (inline structs, omitempty, maps keyed by
// numbers). It reports false when the field is absent or does not fit.
func (o *Object) DecodeJSON(path string, out any) bool {
	var m any
	if !o.Decode(path, &m) {
		return false
	}
	b, err := json.Marshal(m)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, out) == nil
}
