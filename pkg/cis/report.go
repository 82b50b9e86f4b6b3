package cis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/suppress"
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

// EvaluatePolicies answers section 5 from a scan of the cluster or of
// manifests (res nil: no such input). A control fails with the findings of
// the checks that evidence it, passes when they judged objects and found
// nothing, and is not evaluated when the scan could not read what they need.
func (b *Benchmark) EvaluatePolicies(res *engine.Result, unreadable []string) []Result {
	var out []Result
	for _, c := range b.Controls {
		if !strings.HasPrefix(c.ID, "5.") {
			continue
		}
		r := b.newResult(c)
		switch {
		case len(c.Policy) == 0:
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
			case len(r.Findings) > 0:
				r.Status = Fail
			case len(unreadable) > 0:
				r.Status, r.Reason = NotEvaluated, "the scan could not read: "+strings.Join(unreadable, "; ")
			default:
				r.Status = Pass
				r.Reason = fmt.Sprintf("%d objects judged by %s: no finding", judged, strings.Join(c.Policy, ", "))
			}
		}
		out = append(out, r)
	}
	return out
}

// MergeNodeReports gives live results the node job's answers for what
// live mode cannot read (files, the kubelet's command line).
func (b *Benchmark) MergeNodeReports(live []Result, reports []NodeReport, why string) []Result {
	if len(reports) == 0 {
		for i := range live {
			if live[i].NodeOnly {
				reason := "no node results: run `rampart cis node-job` (its pods publish each node's results)"
				if why != "" {
					reason = "node results unreadable: " + why
				}
				live[i].Reason = reason
			}
		}
		return live
	}
	var sets [][]Result
	for _, rep := range reports {
		var rs []Result
		for _, r := range rep.Results {
			c := b.Control(r.ID)
			if c == nil {
				continue
			}
			if r.Status == Fail || r.Status == Warn {
				b.findings(c, &r)
			}
			rs = append(rs, r)
		}
		sets = append(sets, rs)
	}
	fromNodes := Combine(b, sets...)
	byID := map[string]Result{}
	for _, r := range fromNodes {
		byID[r.ID] = r
	}
	for i := range live {
		if !live[i].NodeOnly {
			continue
		}
		if r, ok := byID[live[i].ID]; ok {
			live[i] = r
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
		if len(silenced) > 0 && len(kept) == 0 && (res.Status == Fail || res.Status == Warn) {
			res.Status = Pass
			res.Reason = "every finding suppressed: " + silenced[0].Justification
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
