// Package inventory holds the set of objects a scan evaluates and the views
// derived from it once (pod templates, namespaces), shared by every check.
package inventory

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	appsv1beta2 "k8s.io/api/apps/v1beta2"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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

// Inventory is the indexed set of objects of one scan, with the views that
// checks share, computed once.
type Inventory struct {
	Objects []*Object

	namespaces      map[string]*corev1.Namespace
	workloads       map[string][]*Object // by effective namespace, in scan order
	netpols         map[string][]*networkingv1.NetworkPolicy
	netpolObjects   map[*networkingv1.NetworkPolicy]*Object
	selectors       map[*networkingv1.NetworkPolicy]labels.Selector // nil: invalid selector
	serviceAccounts map[string]*corev1.ServiceAccount               // "namespace/name"
	boundSAs        map[string]bool                                 // "namespace/name" of ServiceAccounts some binding names

	byRefOnce sync.Once
	byRef     map[string]*Object
}

// Find returns the first object of kind in namespace ns named name, or nil.
func (inv *Inventory) Find(kind, ns, name string) *Object {
	inv.byRefOnce.Do(func() {
		inv.byRef = make(map[string]*Object, len(inv.Objects))
		for _, o := range inv.Objects {
			k := o.Kind + "/" + o.Namespace + "/" + o.Name
			if _, ok := inv.byRef[k]; !ok {
				inv.byRef[k] = o
			}
		}
	})
	return inv.byRef[kind+"/"+ns+"/"+name]
}

// New indexes objs and derives pod templates and the shared views.
func New(objs []*manifest.Object) *Inventory {
	inv := &Inventory{
		namespaces:      map[string]*corev1.Namespace{},
		workloads:       map[string][]*Object{},
		netpols:         map[string][]*networkingv1.NetworkPolicy{},
		netpolObjects:   map[*networkingv1.NetworkPolicy]*Object{},
		selectors:       map[*networkingv1.NetworkPolicy]labels.Selector{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		boundSAs:        map[string]bool{},
	}
	inv.Objects = make([]*Object, len(objs))
	for i, o := range objs {
		io := &Object{Object: o, Pod: podTemplate(o), Annotations: annotations(o)}
		inv.Objects[i] = io
		if io.Pod != nil {
			ns := io.EffectiveNamespace()
			inv.workloads[ns] = append(inv.workloads[ns], io)
		}
		switch t := o.Typed.(type) {
		case *corev1.Namespace:
			if o.Name != "" {
				inv.namespaces[o.Name] = t
			}
		case *networkingv1.NetworkPolicy:
			ns := io.EffectiveNamespace()
			inv.netpols[ns] = append(inv.netpols[ns], t)
			inv.netpolObjects[t] = io
			if sel, err := metav1.LabelSelectorAsSelector(&t.Spec.PodSelector); err == nil {
				inv.selectors[t] = sel
			} else {
				inv.selectors[t] = nil // the API server rejects it; it selects nothing
			}
		case *corev1.ServiceAccount:
			inv.serviceAccounts[io.EffectiveNamespace()+"/"+o.Name] = t
		case *rbacv1.RoleBinding:
			inv.bind(t.Subjects, io.EffectiveNamespace())
		case *rbacv1.ClusterRoleBinding:
			inv.bind(t.Subjects, "")
		}
	}
	return inv
}

func (inv *Inventory) bind(subjects []rbacv1.Subject, bindingNS string) {
	for _, s := range subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		inv.boundSAs[ns+"/"+s.Name] = true
	}
}

// Workloads returns the objects that run pods in namespace ns, in scan order.
func (inv *Inventory) Workloads(ns string) []*Object { return inv.workloads[ns] }

// WorkloadNamespaces lists the namespaces that have workloads, sorted.
func (inv *Inventory) WorkloadNamespaces() []string {
	names := make([]string, 0, len(inv.workloads))
	for n := range inv.workloads {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NetworkPolicies returns the NetworkPolicies of namespace ns.
func (inv *Inventory) NetworkPolicies(ns string) []*networkingv1.NetworkPolicy {
	return inv.netpols[ns]
}

// Selects reports whether NetworkPolicy np's podSelector (compiled once)
// matches podLabels; an invalid selector matches nothing.
func (inv *Inventory) Selects(np *networkingv1.NetworkPolicy, podLabels map[string]string) bool {
	sel, ok := inv.selectors[np]
	if !ok {
		s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			return false
		}
		sel = s
	}
	return sel != nil && sel.Matches(labels.Set(podLabels))
}

// ObjectOf returns the inventory object a NetworkPolicy was decoded from.
func (inv *Inventory) ObjectOf(np *networkingv1.NetworkPolicy) *Object { return inv.netpolObjects[np] }

// ServiceAccount returns the ServiceAccount ns/name if the scan has it.
func (inv *Inventory) ServiceAccount(ns, name string) (*corev1.ServiceAccount, bool) {
	sa, ok := inv.serviceAccounts[ns+"/"+name]
	return sa, ok
}

// HasRoleBinding reports whether a RoleBinding or ClusterRoleBinding in the
// scan names the ServiceAccount ns/name as a subject.
func (inv *Inventory) HasRoleBinding(ns, name string) bool { return inv.boundSAs[ns+"/"+name] }

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
