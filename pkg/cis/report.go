package cis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/rbac"
	"github.com/rampart-k8s/rampart/pkg/suppress"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Report is one run of a benchmark: a result for every control.
type Report struct {
	Benchmark string `json:"benchmark"`
	Title     string `json:"title"`
	Profile   string `json:"profile"`
	// Mode is "node" or "live".
	Mode    string   `json:"mode"`
	Nodes   []string `json:"nodes,omitempty"`
	Results []Result `json:"results"`
	Summary Summary  `json:"summary"`
	// Errors are inputs that could not be read.
	Errors []string `json:"errors,omitempty"`
	// Forbidden are the permissions live mode lacked.
	Forbidden []string `json:"forbidden,omitempty"`
	// Suppressed findings, with who silenced them and why.
	Suppressed []suppress.Suppressed `json:"suppressed,omitempty"`
}

// Summary counts results by status.
type Summary struct {
	Pass          int  `json:"pass"`
	Fail          int  `json:"fail"`
	Warn          int  `json:"warn"`
	NotApplicable int  `json:"notApplicable"`
	NotEvaluated  int  `json:"notEvaluated"`
	Failed        bool `json:"failed"`
}

// PolicyInput is what section 5 reads: a scan of the cluster or of
// manifests with the controls' checks, what it could not read, and the
// objects (for the RBAC graph).
type PolicyInput struct {
	Result     *engine.Result
	Unreadable []string
	Objects    []*manifest.Object
}

// EvaluatePolicies answers section 5 (in nil: no such input). A control
// fails with the findings of the checks that evidence it (or the subjects
// the RBAC graph finds), passes when they judged objects and found nothing,
// and is not evaluated when the scan could not read what they need.
func (b *Benchmark) EvaluatePolicies(in *PolicyInput) []Result {
	var res *engine.Result
	var unreadable []string
	var graph *rbac.Graph
	locate := map[finding.ObjectRef]*finding.Location{}
	defaults := map[finding.ObjectRef]bool{}
	if in != nil {
		res, unreadable = in.Result, in.Unreadable
		var typed []runtime.Object
		bindings := 0
		for _, o := range in.Objects {
			if o.Typed != nil {
				typed = append(typed, o.Typed)
			}
			switch x := o.Typed.(type) {
			case *rbacv1.ClusterRoleBinding:
				bindings++
				if x.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
					defaults[finding.ObjectRef{Kind: o.Kind, Name: o.Name}] = true
				}
			case *rbacv1.RoleBinding:
				bindings++
			}
			if o.File != "" {
				l := o.Locate("metadata.name")
				locate[finding.ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}] = &l
			}
		}
		if bindings > 0 {
			graph = rbac.New(typed)
		}
	}
	var out []Result
	for _, c := range b.Controls {
		if !strings.HasPrefix(c.ID, "5.") {
			continue
		}
		r := b.newResult(c)
		switch {
		case (c.WhoCan != nil || c.BindsGroup != "") && graph != nil:
			b.evalRBAC(c, &r, graph, locate, defaults, unreadable)
		case (c.WhoCan != nil || c.BindsGroup != "") && res != nil:
			r.Status, r.Reason = NotEvaluated, "no RoleBinding or ClusterRoleBinding in the input"
		case len(c.Policy) == 0 && c.WhoCan == nil && c.BindsGroup == "":
			r.Status, r.Reason = Warn, c.Manual
			b.findings(c, &r)
		case res == nil:
			r.Status, r.Reason = NotEvaluated, "section 5 reads the cluster's objects: run with --cluster, or give manifests"
		default:
			want := map[string]bool{}
			for _, id := range c.Policy {
				want[id] = true
			}
			for _, f := range res.Findings {
				if !want[f.CheckID] || (c.Field != "" && !strings.HasSuffix(f.Field, c.Field)) {
					continue
				}
				nf := f
				nf.Message = fmt.Sprintf("%s (%s)", f.Message, f.CheckID)
				nf.CheckID, nf.Category, nf.Title = CheckID(c.ID), CategoryCIS, c.Title
				nf.Fixes = nil
				r.Findings = append(r.Findings, nf)
				ev := Evidence{Object: &f.Object, Field: f.Field, Location: f.Location, Key: f.CheckID, Found: f.Message, Expected: "no finding"}
				r.Evidence = append(r.Evidence, ev)
			}
			judged := 0
			for _, o := range res.Objects {
				for _, id := range o.Checks {
					if want[id] {
						judged++
						break
					}
				}
			}
			switch {
			case settled(&r, unreadable):
			case judged == 0:
				r.Status, r.Reason = NotEvaluated, "no object in the input is judged by "+strings.Join(c.Policy, ", ")
			default:
				r.Status = Pass
				r.Reason = fmt.Sprintf("%d objects judged by %s: no finding", judged, strings.Join(c.Policy, ", "))
			}
		}
		out = append(out, r)
	}
	return out
}

// settled decides a section-5 result that has findings (a failure; what
// the scan could not read stays behind it, for when they are suppressed)
// or that read too little to say (not evaluated). It reports whether it
// decided.
func settled(r *Result, unreadable []string) bool {
	switch {
	case len(r.Findings) > 0:
		r.Status = Fail
		if len(unreadable) > 0 {
			r.Rest = NotEvaluated
		}
	case len(unreadable) > 0:
		r.Status, r.Reason = NotEvaluated, "the scan could not read: "+strings.Join(unreadable, "; ")
	default:
		return false
	}
	return true
}

// evalRBAC answers an RBAC question of section 5 with the graph.
func (b *Benchmark) evalRBAC(c *Control, r *Result, g *rbac.Graph, locate map[finding.ObjectRef]*finding.Location, defaults map[finding.ObjectRef]bool, unreadable []string) {
	add := func(ref finding.ObjectRef, subject, found string) {
		key := finding.ObjectRef{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
		ev := Evidence{Object: &ref, Location: locate[key], Field: "subjects", Key: subject, Found: found, Expected: "only Kubernetes' own identities"}
		r.Evidence = append(r.Evidence, ev)
		r.Findings = append(r.Findings, finding.Finding{CheckID: CheckID(c.ID), Category: CategoryCIS, Severity: c.Severity, Title: c.Title,
			Object: ref, Field: "subjects", Location: ev.Location, Message: found, Remediation: c.Manual})
	}
	if c.BindsGroup != "" {
		for _, ref := range g.BindingsNaming("group:" + c.BindsGroup) {
			if defaults[finding.ObjectRef{Kind: ref.Kind, Name: ref.Name}] {
				continue // Kubernetes' own cluster-admin binding
			}
			add(ref, "group:"+c.BindsGroup, fmt.Sprintf("%s binds the group %s, whose members bypass RBAC", ref, c.BindsGroup))
		}
	} else {
		q := c.WhoCan
		grants := g.WhoCan(rbac.Request{Verb: q.Verb, APIGroup: q.APIGroup, Resource: q.Resource, Subresource: q.Subresource})
		rbac.SortBySubject(grants)
		what := q.Verb + " " + q.Resource
		if q.Subresource != "" {
			what += "/" + q.Subresource
		}
		for _, gr := range grants {
			name := rbac.RiskySubject(gr.Subject, gr.Binding.Namespace)
			if name == "" {
				continue
			}
			add(gr.Binding, name, fmt.Sprintf("%s may %s through %s (role %s)", name, what, gr.Binding, gr.Role.Name))
		}
	}
	switch {
	case settled(r, unreadable):
	case c.BindsGroup != "":
		// Client certificates naming the group are not in the API.
		r.Status, r.Reason = Warn, "no binding names "+c.BindsGroup+"; "+c.Manual
		b.findings(c, r)
	default:
		r.Status, r.Reason = Pass, "only Kubernetes' own identities may "+c.WhoCan.Verb+" "+c.WhoCan.Resource
	}
}

// MergeNodeReport gives one live node's results the node job's answers
// for what live mode cannot read there (files, the kubelet's command line).
// Without a report (rep nil), those stay not evaluated, with why.
func (b *Benchmark) MergeNodeReport(live []Result, rep *NodeReport, why string) []Result {
	byID := map[string]Result{}
	if rep != nil {
		for _, r := range rep.Results {
			c := b.Control(r.ID)
			if c == nil {
				continue
			}
			r.Findings = nil
			if r.Status == Fail || r.Status == Warn {
				b.findings(c, &r)
			}
			if r.Reason == "" {
				r.Reason = fmt.Sprintf("read on node %s by the node job at %s", rep.Node, rep.Time.Format(time.RFC3339))
			}
			byID[r.ID] = r
		}
	}
	for i := range live {
		if !live[i].NodeOnly {
			continue
		}
		if r, ok := byID[live[i].ID]; ok {
			live[i] = r
			continue
		}
		switch {
		case why != "":
			live[i].Reason = "node results unreadable: " + why
		case rep == nil:
			live[i].Reason = "no node results: run `rampart cis node-job` (its pods publish each node's results)"
		default:
			live[i].Reason = "the node's results do not have this control"
		}
	}
	return live
}

// Finish applies the profile, the suppressions and the summary.
func (r *Report) Finish(b *Benchmark, profile *Profile, rules *suppress.Rules, failOn *finding.Severity) {
	profile.Apply(b, r.Results)
	SortResults(b, r.Results)
	r.Summary = Summary{}
	for i := range r.Results {
		res := &r.Results[i]
		kept, silenced, _ := rules.Filter(res.Findings)
		res.Findings = kept
		r.Suppressed = append(r.Suppressed, silenced...)
		if len(silenced) > 0 && len(kept) == 0 && res.Status == Fail {
			// What the suppressions silence passes; what was not
			// evaluated beside it still is not.
			if res.Rest == NotEvaluated {
				res.Status, res.Reason = NotEvaluated, "every finding suppressed ("+silenced[0].Justification+"); the rest was not evaluated"
			} else {
				res.Status, res.Reason = Pass, "every finding suppressed: "+silenced[0].Justification
			}
		}
		switch res.Status {
		case Pass:
			r.Summary.Pass++
		case Fail:
			r.Summary.Fail++
		case Warn:
			r.Summary.Warn++
		case NotApplicable:
			r.Summary.NotApplicable++
		case NotEvaluated:
			r.Summary.NotEvaluated++
		}
		if failOn != nil {
			for _, f := range res.Findings {
				if f.Severity >= *failOn {
					r.Summary.Failed = true
				}
			}
		}
	}
	sort.Strings(r.Forbidden)
}

// Findings lists the report's findings, sorted.
func (r *Report) Findings() []finding.Finding {
	var fs []finding.Finding
	for _, res := range r.Results {
		fs = append(fs, res.Findings...)
	}
	engine.SortFindings(fs)
	return fs
}

// EngineResult is the report as the scan's reporters take it: the
// findings, the controls as checks (SARIF rules, JUnit test cases), the
// controls not evaluated.
func (r *Report) EngineResult(b *Benchmark, failOn *finding.Severity) *engine.Result {
	res := &engine.Result{Findings: r.Findings(), Suppressed: r.Suppressed}
	for _, c := range b.Controls {
		res.Checks = append(res.Checks, AsCheck(c))
	}
	obj := engine.Evaluated{Object: finding.ObjectRef{Kind: "Cluster", Name: "cis"}}
	for _, rr := range r.Results {
		if rr.Status == NotApplicable {
			continue
		}
		obj.Checks = append(obj.Checks, CheckID(rr.ID))
		if rr.Status == NotEvaluated {
			res.NotEvaluated = append(res.NotEvaluated, engine.NotEvaluated{Resource: CheckID(rr.ID), Verb: "evaluate", Reason: rr.Reason})
		}
	}
	res.Objects = []engine.Evaluated{obj}
	res.Summarize(failOn)
	return res
}

// AsCheck describes a control as a check (metadata only: it never runs).
func AsCheck(c *Control) check.Check {
	desc := c.Title + "."
	if c.Manual != "" {
		desc += " " + c.Manual
	}
	rem := c.Manual
	if rem == "" {
		rem = "See the finding's remediation."
	}
	return check.Check{ID: CheckID(c.ID), Title: c.Title, Severity: c.Severity, Category: CategoryCIS, Description: desc, Remediation: rem,
		References: []check.Ref{{Source: "cis", ID: c.ID, Title: "CIS Kubernetes Benchmark " + c.ID, URL: "https://www.cisecurity.org/benchmark/kubernetes"}}}
}

// NewNodeReport is a node's report for publishing.
func NewNodeReport(b *Benchmark, n *Node, results []Result, now time.Time) NodeReport {
	clean := make([]Result, len(results))
	for i, r := range results {
		r.Findings = nil
		clean[i] = r
	}
	return NodeReport{Benchmark: b.ID, Node: n.Name, Role: n.Role, Time: now.UTC(), Results: clean}
}
