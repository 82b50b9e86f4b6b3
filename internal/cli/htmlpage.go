package cli

import (
	"os"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/exposure"
	"github.com/rampart-k8s/rampart/pkg/finding"
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
	ws, pols, _ := netpol.Policies(inv)
	pols, _, _ = netpol.Valid(pols) // one invalid policy does not cost the graph (exposure and netpol name it)
	if e, err := netpol.New(pols); err == nil {
		groups, exts, cells := e.Matrix(netpol.Pods(ws))
		page.Graphs = append(page.Graphs, report.NetpolGraph(e, ws, groups, exts, cells))
	}
	if x, err := exposure.Analyze(inv, exposure.Options{}); err == nil {
		page.Exposure = pageExposure(x)
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

// pageExposure is what the report's Exposure tab shows of an inventory:
// the entries' own facts and the workloads' encryption (not the findings,
// whose text the page would carry twice).
func pageExposure(x *exposure.Inventory) any {
	type target struct {
		Workload      string `json:"workload"`
		Port          int32  `json:"port"`
		NetworkPolicy string `json:"networkPolicy"`
		Open          bool   `json:"open,omitempty"`
	}
	type entry struct {
		Kind      string            `json:"kind"`
		Object    finding.ObjectRef `json:"object"`
		Addresses []string          `json:"addresses,omitempty"`
		Port      int32             `json:"port"`
		Protocol  string            `json:"protocol"`
		Sources   []string          `json:"sources"`
		Host      string            `json:"host,omitempty"`
		Path      string            `json:"path,omitempty"`
		TLS       string            `json:"tls"`
		Targets   []target          `json:"targets,omitempty"`
	}
	type workload struct {
		Workload   string `json:"workload"`
		Encryption string `json:"encryption"`
		DecidedBy  string `json:"decidedBy,omitempty"`
	}
	out := struct {
		Entries   []entry    `json:"entries"`
		Workloads []workload `json:"workloads"`
		Mesh      []string   `json:"mesh"`
	}{Entries: []entry{}, Workloads: []workload{}, Mesh: x.Mesh}
	for _, e := range x.Entries {
		pe := entry{Kind: e.Kind, Object: e.Object, Addresses: e.Addresses, Port: e.Port, Protocol: e.Protocol, Sources: e.Sources, Host: e.Host, Path: e.Path, TLS: e.TLS}
		for _, t := range e.Targets {
			pe.Targets = append(pe.Targets, target{t.Workload, t.Port, t.NetworkPolicy, t.Open})
		}
		out.Entries = append(out.Entries, pe)
	}
	if len(x.Mesh) > 0 { // else every workload is "unknown", which the heading says once
		for _, w := range x.Workloads {
			out.Workloads = append(out.Workloads, workload{w.Workload, w.Encryption, w.DecidedBy})
		}
	}
	return out
}
