package cli

import (
	"os"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/exposure"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/netpol"
	"github.com/rampart-k8s/rampart/pkg/rbac"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// htmlPage gathers what an HTML report draws besides the findings: the
// RBAC graph and the connectivity graph of the objects read, and the trend
// against the baseline file when one was given.
func htmlPage(objs []*manifest.Object, res *engine.Result, baseline string) (*report.Page, error) {
	page := &report.Page{}
	var typed []runtime.Object
	for _, m := range objs {
		if m.Typed != nil {
			typed = append(typed, m.Typed)
		}
	}
	page.Graphs = append(page.Graphs, report.RBACGraph(rbac.New(typed)))
	inv := inventory.New(objs)
	ws, pols := netpol.FromInventory(inv)
	cnp, _ := netpol.CiliumPolicies(inv)
	if e, err := netpol.New(append(pols, cnp...)); err == nil {
		groups, exts, cells := e.Matrix(netpol.Pods(ws))
		page.Graphs = append(page.Graphs, report.NetpolGraph(e, ws, groups, exts, cells))
	}
	if x, err := exposure.Analyze(inv, exposure.Options{}); err == nil {
		page.Exposure = x
	}
	if baseline != "" {
		b, err := suppress.LoadBaseline(baseline)
		if err != nil {
			return nil, err
		}
		page.Trend = trend(b, res)
	}
	return page, nil
}

// trend compares the findings of res (shown and suppressed) with b's.
func trend(b *suppress.Baseline, res *engine.Result) *report.Trend {
	t := &report.Trend{Baseline: b.Path}
	entries := b.Entries()
	t.Before = len(entries)
	now := map[string]bool{}
	perCheck := map[string]*report.TrendCheck{}
	get := func(id string) *report.TrendCheck {
		c := perCheck[id]
		if c == nil {
			c = &report.TrendCheck{ID: id}
			perCheck[id] = c
		}
		return c
	}
	count := func(key, id string) {
		if now[key] {
			return
		}
		now[key] = true
		get(id).Now++
		if _, ok := entries[key]; ok {
			t.Still++
		} else {
			t.New++
		}
	}
	for _, f := range res.Findings {
		count(suppress.Key(f), f.CheckID)
	}
	for _, s := range res.Suppressed {
		if s.Baseline {
			count(suppress.Key(s.Finding), s.CheckID)
		}
	}
	for key, id := range entries {
		get(id).Before++
		if !now[key] {
			t.Fixed++
		}
	}
	for _, c := range perCheck {
		t.ByCheck = append(t.ByCheck, *c)
	}
	sort.Slice(t.ByCheck, func(i, j int) bool { return t.ByCheck[i].ID < t.ByCheck[j].ID })
	return t
}

// relTo makes evidence paths relative to the working folder, as reports
// show them.
func relTo() func(string) string {
	root, _ := os.Getwd()
	return func(f string) string { return report.RelPath(root, f) }
}
