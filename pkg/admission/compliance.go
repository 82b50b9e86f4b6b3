package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	formats "github.com/rampart-k8s/rampart/pkg/report"
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
	// remediatedGeneration is the DaemonSet generation whose pods were
	// evicted.
	remediatedGeneration = "rampart.dev/remediated-generation"
)

// Compliance keeps, for every namespace with objects the catalog judges, a
// Report (openreports.io/v1alpha1, the successor of wgpolicyk8s.io's
// PolicyReport) of the findings on its workloads, Roles, RoleBindings,
// Services, Ingresses and NetworkPolicies, and a ClusterReport of those on
// ClusterRoles, ClusterRoleBindings and Namespaces, judged as the webhook
// judges (the same checks, context and exceptions). It re-judges a
// namespace a moment after any of its objects or its context changes, all
// of them when a cluster-wide binding or role changes, and everything when
// the configuration changes (SetReviewer). Secrets and ConfigMaps are not
// watched: the webhook's memory would hold every credential of the
// cluster.
type Compliance struct {
	reviewer atomic.Pointer[Reviewer]
	context  *ClusterContext
	factory  informers.SharedInformerFactory
	writer   client.Client
	sources  []source
	pods     corelisters.PodLister
	// Delay gathers the changes of a namespace into one judgement.
	Delay time.Duration
	// Remediate stops what violates in labelled namespaces; off (the
	// default), it is only recorded (dry run): an Event says what would be
	// done.
	Remediate bool
	client    kubernetes.Interface

	mu       sync.Mutex
	dirty    map[string]bool
	failures map[string]int // consecutive failed writes per namespace
	wake     chan struct{}
}

// source is one kind Compliance judges.
type source struct {
	apiVersion, kind string
	cluster          bool
	list             func(ns string) ([]runtime.Object, error)
}

// everything marks every namespace and the cluster for judgement.
const everything = "\x00all"

// NewCompliance watches the cluster cfg reaches, judging with reviewer
// against cc's context; its informers are cc's (one watch per kind).
func NewCompliance(cfg *rest.Config, cs kubernetes.Interface, reviewer *Reviewer, cc *ClusterContext) (*Compliance, error) {
	scheme := runtime.NewScheme()
	if err := reportsv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	writer, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	f := cc.factory
	c := &Compliance{context: cc, factory: f, writer: writer, Delay: 500 * time.Millisecond, client: cs,
		dirty: map[string]bool{}, failures: map[string]int{}, wake: make(chan struct{}, 1)}
	c.reviewer.Store(reviewer)
	handler := func(all bool) cache.ResourceEventHandlerFuncs {
		mark := func(o any) { c.mark(o, all) }
		return cache.ResourceEventHandlerFuncs{AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark}
	}
	add := func(inf cache.SharedIndexInformer, apiVersion, kind string, cluster bool, list func(ns string) ([]runtime.Object, error)) {
		// A cluster-wide role or binding can change what every namespace's
		// objects may do.
		_, _ = inf.AddEventHandler(handler(cluster && kind != "Namespace"))
		c.sources = append(c.sources, source{apiVersion, kind, cluster, list})
	}
	every := labels.Everything()
	apps, batch, core, rbac, netv1 := f.Apps().V1(), f.Batch().V1(), f.Core().V1(), f.Rbac().V1(), f.Networking().V1()
	add(apps.Deployments().Informer(), "apps/v1", "Deployment", false, func(ns string) ([]runtime.Object, error) {
		l, err := apps.Deployments().Lister().Deployments(ns).List(every)
		return objects(l), err
	})
	add(apps.StatefulSets().Informer(), "apps/v1", "StatefulSet", false, func(ns string) ([]runtime.Object, error) {
		l, err := apps.StatefulSets().Lister().StatefulSets(ns).List(every)
		return objects(l), err
	})
	add(apps.DaemonSets().Informer(), "apps/v1", "DaemonSet", false, func(ns string) ([]runtime.Object, error) {
		l, err := apps.DaemonSets().Lister().DaemonSets(ns).List(every)
		return objects(l), err
	})
	add(apps.ReplicaSets().Informer(), "apps/v1", "ReplicaSet", false, func(ns string) ([]runtime.Object, error) {
		l, err := apps.ReplicaSets().Lister().ReplicaSets(ns).List(every)
		return objects(l), err
	})
	add(batch.CronJobs().Informer(), "batch/v1", "CronJob", false, func(ns string) ([]runtime.Object, error) {
		l, err := batch.CronJobs().Lister().CronJobs(ns).List(every)
		return objects(l), err
	})
	add(batch.Jobs().Informer(), "batch/v1", "Job", false, func(ns string) ([]runtime.Object, error) {
		l, err := batch.Jobs().Lister().Jobs(ns).List(every)
		return objects(l), err
	})
	add(core.Pods().Informer(), "v1", "Pod", false, func(ns string) ([]runtime.Object, error) {
		l, err := core.Pods().Lister().Pods(ns).List(every)
		return objects(l), err
	})
	c.pods = core.Pods().Lister()
	add(rbac.Roles().Informer(), "rbac.authorization.k8s.io/v1", "Role", false, func(ns string) ([]runtime.Object, error) {
		l, err := rbac.Roles().Lister().Roles(ns).List(every)
		return objects(l), err
	})
	add(rbac.RoleBindings().Informer(), "rbac.authorization.k8s.io/v1", "RoleBinding", false, func(ns string) ([]runtime.Object, error) {
		l, err := rbac.RoleBindings().Lister().RoleBindings(ns).List(every)
		return objects(l), err
	})
	add(core.Services().Informer(), "v1", "Service", false, func(ns string) ([]runtime.Object, error) {
		l, err := core.Services().Lister().Services(ns).List(every)
		return objects(l), err
	})
	add(netv1.Ingresses().Informer(), "networking.k8s.io/v1", "Ingress", false, func(ns string) ([]runtime.Object, error) {
		l, err := netv1.Ingresses().Lister().Ingresses(ns).List(every)
		return objects(l), err
	})
	add(netv1.NetworkPolicies().Informer(), "networking.k8s.io/v1", "NetworkPolicy", false, func(ns string) ([]runtime.Object, error) {
		l, err := netv1.NetworkPolicies().Lister().NetworkPolicies(ns).List(every)
		return objects(l), err
	})
	add(rbac.ClusterRoles().Informer(), "rbac.authorization.k8s.io/v1", "ClusterRole", true, func(string) ([]runtime.Object, error) {
		l, err := rbac.ClusterRoles().Lister().List(every)
		return objects(l), err
	})
	add(rbac.ClusterRoleBindings().Informer(), "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", true, func(string) ([]runtime.Object, error) {
		l, err := rbac.ClusterRoleBindings().Lister().List(every)
		return objects(l), err
	})
	// A Namespace is judged in its own Report, with its workloads (the
	// whole-namespace findings need them); it changes that Report.
	_, _ = core.Namespaces().Informer().AddEventHandler(handler(false))
	// Context only: a ServiceAccount changes its namespace's findings.
	_, _ = core.ServiceAccounts().Informer().AddEventHandler(handler(false))
	return c, nil
}

// SetReviewer judges with r from now on (a new configuration), and
// everything again.
func (c *Compliance) SetReviewer(r *Reviewer) {
	c.reviewer.Store(r)
	c.markNamespace(everything)
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
	if r := metav1.GetControllerOfNoCopy(m); r != nil {
		switch r.Kind {
		case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController":
			return true // an operator's pods (a Rollout's, a Prometheus's) are judged themselves
		}
	}
	return false
}

// mark queues the namespace of o for judgement (with all, everything); a
// Namespace queues itself (its labels choose its modes) and the cluster.
func (c *Compliance) mark(o any, all bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	m, ok := o.(metav1.Object)
	if !ok {
		return
	}
	switch {
	case all:
		c.markNamespace(everything)
	case m.GetNamespace() == "": // a Namespace, a ClusterRole...
		if _, isNS := o.(*corev1.Namespace); isNS {
			c.markNamespace(m.GetName())
		}
		c.markNamespace("")
	default:
		c.markNamespace(m.GetNamespace())
	}
}

func (c *Compliance) markNamespace(ns string) {
	c.mu.Lock()
	c.dirty[ns] = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Start runs the informers until ctx ends (Run does if Start was not
// called; the informers of a replica that stops leading keep running).
func (c *Compliance) Start(ctx context.Context) { c.factory.Start(ctx.Done()) }

// Run judges until ctx ends: everything first, then what changes.
func (c *Compliance) Run(ctx context.Context) error {
	c.factory.Start(ctx.Done())
	c.markNamespace(everything) // a new leader has not seen what the last one wrote
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
		dirty := c.dirty
		c.dirty = map[string]bool{}
		c.mu.Unlock()
		if dirty[everything] {
			delete(dirty, everything)
			dirty[""] = true
			if list, err := c.factory.Core().V1().Namespaces().Lister().List(labels.Everything()); err == nil {
				for _, n := range list {
					dirty[n.Name] = true
				}
			}
		}
		namespaces := make([]string, 0, len(dirty))
		for ns := range dirty {
			namespaces = append(namespaces, ns)
		}
		sort.Strings(namespaces)
		for _, ns := range namespaces {
			if err := c.Report(ctx, ns); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// Again later, backing off (a missing CRD, a refused write):
				// 1 s, 2 s, 4 s ... at most 5 minutes.
				c.mu.Lock()
				c.failures[ns]++
				wait := min(time.Second<<min(c.failures[ns]-1, 9), 5*time.Minute)
				c.mu.Unlock()
				slog.Warn("report not written", "namespace", ns, "error", err, "retry in", wait)
				time.AfterFunc(wait, func() { c.markNamespace(ns) })
				continue
			}
			c.mu.Lock()
			delete(c.failures, ns)
			c.mu.Unlock()
		}
	}
}

// Report judges the objects of namespace ns and writes its Report; ns ""
// is the cluster's, a ClusterReport.
func (c *Compliance) Report(ctx context.Context, ns string) error {
	var targets []*manifest.Object
	kinds := map[string]bool{}
	for _, src := range c.sources {
		if src.cluster != (ns == "") {
			continue
		}
		kinds[src.kind] = true
		objs, err := src.list(ns)
		if err != nil {
			continue
		}
		for _, o := range objs {
			m, ok := o.(metav1.Object)
			if !ok || ownedByWorkload(m) {
				continue // judged through the workload that owns it
			}
			// A copy: deriving the pod template defaults its spec, and the
			// cache's objects are shared.
			targets = append(targets, manifest.NewLiveObject(src.apiVersion, src.kind, m.GetNamespace(), m.GetName(), o.DeepCopyObject()))
		}
	}
	if ns != "" && len(targets) > 0 {
		if n, ok := c.context.Namespace(ns); ok {
			kinds["Namespace"] = true
			targets = append(targets, manifest.NewLiveObject("v1", "Namespace", "", n.Name, n.DeepCopy()))
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Kind+"/"+targets[i].Name < targets[j].Kind+"/"+targets[j].Name })
	var report reportObject = &namespaceReport{&reportsv1alpha1.Report{}}
	if ns == "" {
		report = &clusterReport{&reportsv1alpha1.ClusterReport{}}
	}
	err := c.writer.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReportName}, report.object())
	if len(targets) == 0 {
		if err == nil {
			return client.IgnoreNotFound(c.writer.Delete(ctx, report.object()))
		}
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	exists := err == nil
	// The context, less what is judged here already.
	all := append([]*manifest.Object{}, targets...)
	if ns != "" {
		for _, o := range c.context.Objects(ns) {
			if !kinds[o.Kind] {
				all = append(all, o)
			}
		}
	}
	lookup := inventory.New(all)
	r := c.reviewer.Load()
	res := engine.Judge(r.opts.Checks, lookup.Objects[:len(targets)], lookup, r.engineOptions())
	// The configuration's exemptions that name no user or group apply to
	// what runs: their findings are reported as skipped, with the reason,
	// and never remediated.
	kept, reasons := r.exemptBy(ns, "", nil, res.Findings)
	skipped := map[int]string{}
	for i, why := range reasons {
		if why != "" {
			skipped[i] = why
		}
	}
	results, summary := formats.ReportResults(res.Findings, res.Objects, func(r check.ObjectRef) corev1.ObjectReference { return reference(r, lookup) }, skipped)
	if ns != "" {
		if err := c.remediate(ctx, ns, kept); err != nil {
			slog.Warn("remediation", "namespace", ns, "error", err)
		}
	}
	m := report.object()
	if exists && report.same(results, summary) {
		return nil // nothing changed: no write (a resync re-judges everything)
	}
	if !exists {
		m.SetName(ReportName)
		m.SetNamespace(ns)
	}
	m.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "rampart"})
	report.set(results, summary)
	if !exists {
		return c.writer.Create(ctx, m)
	}
	return c.writer.Update(ctx, m)
}

// reportObject is a Report or a ClusterReport.
type reportObject interface {
	object() client.Object
	set(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary)
	same(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary) bool
}

type namespaceReport struct{ *reportsv1alpha1.Report }

func (r *namespaceReport) object() client.Object { return r.Report }
func (r *namespaceReport) set(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary) {
	r.Results, r.Summary, r.Source = results, summary, "rampart"
}
func (r *namespaceReport) same(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary) bool {
	return r.Source == "rampart" && r.Summary == summary && apiequality.Semantic.DeepEqual(r.Results, results)
}

type clusterReport struct{ *reportsv1alpha1.ClusterReport }

func (r *clusterReport) object() client.Object { return r.ClusterReport }
func (r *clusterReport) set(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary) {
	r.Results, r.Summary, r.Source = results, summary, "rampart"
}
func (r *clusterReport) same(results []reportsv1alpha1.ReportResult, summary reportsv1alpha1.ReportSummary) bool {
	return r.Source == "rampart" && r.Summary == summary && apiequality.Semantic.DeepEqual(r.Results, results)
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

// remediate stops the workloads of a namespace labelled for it whose
// findings reach the namespace's enforce severity (or says it would, in
// dry run): Deployments, StatefulSets and ReplicaSets scaled to zero, Jobs
// and CronJobs suspended, the pods of DaemonSets and bare pods evicted (the
// webhook then refuses the DaemonSet's new pods, at the same severity).
func (c *Compliance) remediate(ctx context.Context, ns string, findings []check.Finding) error {
	n, ok := c.context.Namespace(ns)
	if !ok || n.Labels[RemediateLabel] != "scale-to-zero" || ns == "kube-system" {
		return nil // kube-system is the control plane's, whatever its labels say
	}
	modes, _ := c.context.Modes(ns, [3]*check.Severity{c.reviewer.Load().opts.Enforce, nil, nil})
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
		case "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "DaemonSet", "Pod":
		default:
			continue // RBAC, Services...: reported, not stopped
		}
		if _, seen := worst[f.Object]; !seen {
			order = append(order, f.Object)
		}
		worst[f.Object] = append(worst[f.Object], f.CheckID)
	}
	var errs []error
	for _, ref := range order {
		var err error
		switch ref.Kind {
		case "Job", "CronJob":
			err = c.suspend(ctx, ref, worst[ref])
		case "DaemonSet", "Pod":
			err = c.evict(ctx, ref, worst[ref])
		default:
			err = c.scaleToZero(ctx, ref, worst[ref])
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// suspend sets a Job's or CronJob's spec.suspend, annotated with why and
// how to resume (a change the webhook admits: the pod template is as it
// was).
func (c *Compliance) suspend(ctx context.Context, ref check.ObjectRef, checks []string) error {
	batch := c.client.BatchV1()
	var suspended bool
	cached := c.factory.Batch().V1()
	switch ref.Kind {
	case "Job":
		j, err := cached.Jobs().Lister().Jobs(ref.Namespace).Get(ref.Name)
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		suspended = j.Spec.Suspend != nil && *j.Spec.Suspend
	default:
		cj, err := cached.CronJobs().Lister().CronJobs(ref.Namespace).Get(ref.Name)
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		suspended = cj.Spec.Suspend != nil && *cj.Spec.Suspend
	}
	if suspended {
		return nil
	}
	resource := strings.ToLower(ref.Kind)
	why := fmt.Sprintf("%s; suspended by rampart: fix the findings (rampart scan), then kubectl patch %s %s -p '{\"spec\":{\"suspend\":false}}'",
		strings.Join(dedupe(checks), ", "), resource, ref.Name)
	if !c.Remediate {
		return c.event(ctx, ref, 0, "RampartWouldSuspend", "dry run, would be "+why)
	}
	patch := fmt.Sprintf(`{"spec":{"suspend":true},"metadata":{"annotations":{%q:%q}}}`, RemediatedAnnotation, why)
	var err error
	if ref.Kind == "Job" {
		_, err = batch.Jobs(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	} else {
		_, err = batch.CronJobs(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	}
	if err != nil {
		return err
	}
	return c.event(ctx, ref, 0, "RampartSuspended", why)
}

// evict evicts a bare pod, or the pods a DaemonSet runs (the Eviction API:
// PodDisruptionBudgets hold), and annotates the DaemonSet; the webhook
// refuses the pods it makes again until it is fixed.
func (c *Compliance) evict(ctx context.Context, ref check.ObjectRef, checks []string) error {
	var pods []*corev1.Pod
	if ref.Kind == "Pod" {
		p, err := c.pods.Pods(ref.Namespace).Get(ref.Name)
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		pods = append(pods, p)
	} else {
		ds, err := c.factory.Apps().V1().DaemonSets().Lister().DaemonSets(ref.Namespace).Get(ref.Name)
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		all, err := c.pods.Pods(ref.Namespace).List(labels.Everything())
		if err != nil {
			return err
		}
		if ds.Annotations[remediatedGeneration] == fmt.Sprint(ds.Generation) {
			// Evicted once for this template already: if its new pods run,
			// something admitted them (an exemption, a namespace the
			// webhook leaves out), and evicting them again would loop.
			return nil
		}
		for _, p := range all {
			if o := metav1.GetControllerOf(p); o != nil && o.UID == ds.UID && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			return nil
		}
	}
	why := fmt.Sprintf("%s; %d pod(s) evicted by rampart: fix the findings (rampart scan); until then the webhook refuses its new pods",
		strings.Join(dedupe(checks), ", "), len(pods))
	if ref.Kind == "Pod" {
		why = strings.Join(dedupe(checks), ", ") + "; evicted by rampart: fix the findings (rampart scan) and create it again"
	}
	if !c.Remediate {
		return c.event(ctx, ref, int32(len(pods)), "RampartWouldEvict", "dry run, would be "+why)
	}
	for _, p := range pods {
		err := c.client.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err // a PodDisruptionBudget that forbids it: again at the next judgement
		}
	}
	if ref.Kind == "DaemonSet" {
		gen := ""
		if ds, err := c.factory.Apps().V1().DaemonSets().Lister().DaemonSets(ref.Namespace).Get(ref.Name); err == nil {
			gen = fmt.Sprint(ds.Generation)
		}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q,%q:%q}}}`, RemediatedAnnotation, why, remediatedGeneration, gen)
		if _, err := c.client.AppsV1().DaemonSets(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
	}
	return c.event(ctx, ref, int32(len(pods)), "RampartEvicted", why)
}

// scaleToZero sets a workload's replicas to 0, keeping the count it had in
// the annotation (dry run: only the annotation, saying it would).
func (c *Compliance) scaleToZero(ctx context.Context, ref check.ObjectRef, checks []string) error {
	w, err := c.workload(ref)
	if err != nil {
		return err
	}
	if !c.Remediate {
		// Dry run: the replicas from the cache (the scale subresource is
		// granted only with remediation).
		replicas, ok := c.cachedReplicas(ref)
		if !ok || replicas == 0 {
			return nil
		}
		return c.event(ctx, ref, replicas, "RampartWouldScaleToZero", "dry run, would be "+scaleWhy(ref, checks, replicas))
	}
	scale, err := w.GetScale(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if scale.Spec.Replicas == 0 {
		return nil
	}
	why := scaleWhy(ref, checks, scale.Spec.Replicas)
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

// scaleWhy says why a workload is (or would be) scaled to zero, and how to
// restore it.
func scaleWhy(ref check.ObjectRef, checks []string, replicas int32) string {
	return fmt.Sprintf("%s; scaled from %d to 0 by rampart: fix the findings (rampart scan), then kubectl scale %s/%s --replicas=%d",
		strings.Join(dedupe(checks), ", "), replicas, strings.ToLower(ref.Kind), ref.Name, replicas)
}

// cachedReplicas reads a workload's spec.replicas from the informers.
func (c *Compliance) cachedReplicas(ref check.ObjectRef) (int32, bool) {
	apps := c.factory.Apps().V1()
	var r *int32
	switch ref.Kind {
	case "Deployment":
		d, err := apps.Deployments().Lister().Deployments(ref.Namespace).Get(ref.Name)
		if err != nil {
			return 0, false
		}
		r = d.Spec.Replicas
	case "StatefulSet":
		d, err := apps.StatefulSets().Lister().StatefulSets(ref.Namespace).Get(ref.Name)
		if err != nil {
			return 0, false
		}
		r = d.Spec.Replicas
	case "ReplicaSet":
		d, err := apps.ReplicaSets().Lister().ReplicaSets(ref.Namespace).Get(ref.Name)
		if err != nil {
			return 0, false
		}
		r = d.Spec.Replicas
	default:
		return 0, false
	}
	if r == nil {
		return 1, true
	}
	return *r, true
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
