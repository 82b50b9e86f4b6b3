package admission

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// ReportName is the name of the Report Rampart keeps in each namespace.
const ReportName = "rampart"

// Remediation: a Namespace labelled RemediateLabel=scale-to-zero has its
// Deployments, StatefulSets and ReplicaSets with findings at or above the
// namespace's enforce severity scaled to zero, with RemediatedAnnotation and
// an Event saying why and how to restore them (in dry run, only an Event
// saying it would).
const (
	RemediateLabel       = "rampart.dev/remediate"
	RemediatedAnnotation = "rampart.dev/remediated"
)

// Compliance keeps, for every namespace with workloads, a Report
// (openreports.io/v1alpha1, the successor of wgpolicyk8s.io's PolicyReport)
// of the catalog's findings on the workloads running there, judged as the
// webhook judges (the same checks, context and exceptions), and re-judges a
// namespace a moment after any of its workloads, or its context, changes.
type Compliance struct {
	reviewer *Reviewer
	context  *ClusterContext
	factory  informers.SharedInformerFactory
	writer   client.Client
	listers  []func(ns string) []*manifest.Object
	// Delay gathers the changes of a namespace into one judgement.
	Delay time.Duration
	// Remediate makes the scale-to-zero of labelled namespaces; off (the
	// default), it is only recorded (dry run): the annotation says what
	// would be done.
	Remediate bool
	client    kubernetes.Interface

	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}
}

// NewCompliance watches the workloads of the cluster cfg reaches, judging
// them with reviewer against cc's context.
func NewCompliance(cfg *rest.Config, cs kubernetes.Interface, reviewer *Reviewer, cc *ClusterContext) (*Compliance, error) {
	scheme := runtime.NewScheme()
	if err := reportsv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	writer, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	c := &Compliance{reviewer: reviewer, context: cc, factory: f, writer: writer, Delay: 500 * time.Millisecond, client: cs,
		dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
	add := func(inf cache.SharedIndexInformer, apiVersion, kind string, list func(ns string) ([]runtime.Object, error)) {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { c.mark(o) },
			UpdateFunc: func(_, o any) { c.mark(o) },
			DeleteFunc: func(o any) { c.mark(o) },
		})
		c.listers = append(c.listers, func(ns string) []*manifest.Object {
			objs, err := list(ns)
			if err != nil {
				return nil
			}
			var out []*manifest.Object
			for _, o := range objs {
				m, ok := o.(metav1.Object)
				if !ok || ownedByWorkload(m) {
					continue // judged through the workload that owns it
				}
				// A copy: deriving the pod template defaults its spec, and the
				// cache's objects are shared.
				out = append(out, manifest.NewLiveObject(apiVersion, kind, m.GetNamespace(), m.GetName(), o.DeepCopyObject()))
			}
			return out
		})
	}
	every := labels.Everything()
	apps, batch, core := f.Apps().V1(), f.Batch().V1(), f.Core().V1()
	add(apps.Deployments().Informer(), "apps/v1", "Deployment", func(ns string) ([]runtime.Object, error) {
		l, err := apps.Deployments().Lister().Deployments(ns).List(every)
		return objects(l), err
	})
	add(apps.StatefulSets().Informer(), "apps/v1", "StatefulSet", func(ns string) ([]runtime.Object, error) {
		l, err := apps.StatefulSets().Lister().StatefulSets(ns).List(every)
		return objects(l), err
	})
	add(apps.DaemonSets().Informer(), "apps/v1", "DaemonSet", func(ns string) ([]runtime.Object, error) {
		l, err := apps.DaemonSets().Lister().DaemonSets(ns).List(every)
		return objects(l), err
	})
	add(apps.ReplicaSets().Informer(), "apps/v1", "ReplicaSet", func(ns string) ([]runtime.Object, error) {
		l, err := apps.ReplicaSets().Lister().ReplicaSets(ns).List(every)
		return objects(l), err
	})
	add(batch.CronJobs().Informer(), "batch/v1", "CronJob", func(ns string) ([]runtime.Object, error) {
		l, err := batch.CronJobs().Lister().CronJobs(ns).List(every)
		return objects(l), err
	})
	add(batch.Jobs().Informer(), "batch/v1", "Job", func(ns string) ([]runtime.Object, error) {
		l, err := batch.Jobs().Lister().Jobs(ns).List(every)
		return objects(l), err
	})
	add(core.Pods().Informer(), "v1", "Pod", func(ns string) ([]runtime.Object, error) {
		l, err := core.Pods().Lister().Pods(ns).List(every)
		return objects(l), err
	})
	return c, nil
}

func objects[T runtime.Object](l []T) []runtime.Object {
	out := make([]runtime.Object, len(l))
	for i, o := range l {
		out[i] = o
	}
	return out
}

// ownedByWorkload reports objects a controller made from a template the
// report already judges (a ReplicaSet's pods, a Deployment's ReplicaSets, a
// CronJob's Jobs).
func ownedByWorkload(m metav1.Object) bool {
	for _, r := range m.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return true
		}
	}
	return false
}

func (c *Compliance) mark(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	m, ok := o.(metav1.Object)
	if !ok {
		return
	}
	c.mu.Lock()
	c.dirty[m.GetNamespace()] = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run watches until ctx ends.
func (c *Compliance) Run(ctx context.Context) error {
	c.factory.Start(ctx.Done())
	for typ, ok := range c.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("the %v cache did not sync", typ)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		}
		select { // gather what changes together
		case <-ctx.Done():
			return nil
		case <-time.After(c.Delay):
		}
		c.mu.Lock()
		namespaces := make([]string, 0, len(c.dirty))
		for ns := range c.dirty {
			namespaces = append(namespaces, ns)
		}
		c.dirty = map[string]bool{}
		c.mu.Unlock()
		sort.Strings(namespaces)
		for _, ns := range namespaces {
			if err := c.Report(ctx, ns); err != nil {
				slog.Warn("report not written", "namespace", ns, "error", err)
				c.mark(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: ns}}) // again, later
			}
		}
	}
}

// Report judges the workloads of namespace ns and writes its Report.
func (c *Compliance) Report(ctx context.Context, ns string) error {
	var targets []*manifest.Object
	for _, list := range c.listers {
		targets = append(targets, list(ns)...)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Kind+"/"+targets[i].Name < targets[j].Kind+"/"+targets[j].Name })
	existing := &reportsv1alpha1.Report{}
	err := c.writer.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReportName}, existing)
	if len(targets) == 0 {
		if err == nil {
			return client.IgnoreNotFound(c.writer.Delete(ctx, existing))
		}
		return nil
	}
	lookup := inventory.New(append(append([]*manifest.Object{}, targets...), c.context.Objects(ns)...))
	res := engine.Judge(c.reviewer.opts.Checks, lookup.Objects[:len(targets)], lookup, c.reviewer.engineOptions())
	report := &reportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "rampart"}}, Source: "rampart"}
	failing := map[string]bool{}
	for _, f := range res.Findings {
		failing[f.Object.String()] = true
		report.Results = append(report.Results, reportsv1alpha1.ReportResult{
			Source:      "rampart",
			Policy:      f.CheckID,
			Rule:        f.Field,
			Category:    string(f.Category),
			Severity:    reportsv1alpha1.ResultSeverity(f.Severity.String()),
			Result:      "fail",
			Scored:      true,
			Subjects:    []corev1.ObjectReference{reference(f.Object, lookup)},
			Description: f.Message,
			Properties:  map[string]string{"remediation": f.Remediation},
		})
	}
	report.Summary.Fail = len(report.Results)
	if err := c.remediate(ctx, ns, res.Findings); err != nil {
		slog.Warn("remediation", "namespace", ns, "error", err)
	}
	for _, o := range res.Objects {
		if !failing[o.Object.String()] {
			report.Summary.Pass++
		}
	}
	if apierrors.IsNotFound(err) {
		return c.writer.Create(ctx, report)
	}
	if err != nil {
		return err
	}
	existing.Results, existing.Summary, existing.Source, existing.Labels = report.Results, report.Summary, report.Source, report.Labels
	return c.writer.Update(ctx, existing)
}

// reference names a finding's object, with its UID when the lookup has it.
func reference(r check.ObjectRef, lookup *inventory.Inventory) corev1.ObjectReference {
	ref := corev1.ObjectReference{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
	if o := lookup.Find(r.Kind, r.Namespace, r.Name); o != nil {
		if m, ok := o.Typed.(metav1.Object); ok {
			ref.UID = m.GetUID()
		}
	}
	return ref
}

// remediate scales to zero the workloads of a namespace labelled for it
// whose findings reach the namespace's enforce severity (or says it would,
// in dry run).
func (c *Compliance) remediate(ctx context.Context, ns string, findings []check.Finding) error {
	n, ok := c.context.Namespace(ns)
	if !ok || n.Labels[RemediateLabel] != "scale-to-zero" {
		return nil
	}
	modes, _ := c.context.Modes(ns, [3]*check.Severity{c.reviewer.opts.Enforce, nil, nil})
	enforce := modes[0]
	if enforce == nil {
		return nil
	}
	worst := map[check.ObjectRef][]string{}
	var order []check.ObjectRef
	for _, f := range findings {
		if f.Severity < *enforce {
			continue
		}
		switch f.Object.Kind {
		case "Deployment", "StatefulSet", "ReplicaSet":
		default:
			continue // DaemonSets, Jobs and bare pods: reported, not stopped
		}
		if _, seen := worst[f.Object]; !seen {
			order = append(order, f.Object)
		}
		worst[f.Object] = append(worst[f.Object], f.CheckID)
	}
	for _, ref := range order {
		if err := c.scaleToZero(ctx, ref, worst[ref]); err != nil {
			return err
		}
	}
	return nil
}

// scaleToZero sets a workload's replicas to 0, keeping the count it had in
// the annotation (dry run: only the annotation, saying it would).
func (c *Compliance) scaleToZero(ctx context.Context, ref check.ObjectRef, checks []string) error {
	w, err := c.workload(ref)
	if err != nil {
		return err
	}
	scale, err := w.GetScale(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if scale.Spec.Replicas == 0 {
		return nil
	}
	why := fmt.Sprintf("%s; scaled from %d to 0 by rampart: fix the findings (rampart scan), then kubectl scale %s/%s --replicas=%d",
		strings.Join(dedupe(checks), ", "), scale.Spec.Replicas, strings.ToLower(ref.Kind), ref.Name, scale.Spec.Replicas)
	if !c.Remediate {
		// Dry run: an Event says what would be done; the workload is not
		// touched (not even annotated, which would need patch on it).
		return c.event(ctx, ref, scale.Spec.Replicas, "RampartWouldScaleToZero", "dry run, would be "+why)
	}
	// Scaled first, on the scale just read (a conflict is retried at the
	// next judgement), then annotated, then an Event.
	scale.Spec.Replicas = 0
	if _, err := w.UpdateScale(ctx, ref.Name, scale, metav1.UpdateOptions{}); err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, RemediatedAnnotation, why)
	if _, err = w.Patch(ctx, ref.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return err
	}
	return c.event(ctx, ref, 0, "RampartScaledToZero", why)
}

// event records what remediation did, or would do, on the workload (once
// per workload and replica count: the dry run repeats at every judgement).
func (c *Compliance) event(ctx context.Context, ref check.ObjectRef, replicas int32, reason, message string) error {
	name := fmt.Sprintf("%s.rampart-%s-%d", ref.Name, strings.ToLower(reason), replicas)
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ref.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name},
		Reason:         reason, Message: message, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "rampart"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err := c.client.CoreV1().Events(ref.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// scalable is what remediation needs of a workload's client.
type scalable interface {
	GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error)
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// workload is a client of ref's kind in its namespace.
func (c *Compliance) workload(ref check.ObjectRef) (interface {
	scalable
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (runtime.Object, error)
}, error) {
	apps := c.client.AppsV1()
	switch ref.Kind {
	case "Deployment":
		return patchable[*appsv1.Deployment]{apps.Deployments(ref.Namespace)}, nil
	case "StatefulSet":
		return patchable[*appsv1.StatefulSet]{apps.StatefulSets(ref.Namespace)}, nil
	case "ReplicaSet":
		return patchable[*appsv1.ReplicaSet]{apps.ReplicaSets(ref.Namespace)}, nil
	}
	return nil, fmt.Errorf("%s cannot be scaled", ref.Kind)
}

// patchable adapts a typed client's Patch to return a runtime.Object.
type patchable[T runtime.Object] struct {
	c interface {
		scalable
		Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
	}
}

func (p patchable[T]) GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error) {
	return p.c.GetScale(ctx, name, opts)
}

func (p patchable[T]) UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	return p.c.UpdateScale(ctx, name, scale, opts)
}

func (p patchable[T]) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (runtime.Object, error) {
	return p.c.Patch(ctx, name, pt, data, opts, subresources...)
}
