package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
)

// The HTML report: one self-contained page. Its data is one JSON document
// inside the page, its script and style are ours (assets/report.js and
// report.css) plus the pinned Cytoscape.js build hack/js-assets.sh puts in
// assets/vendor. Opening it requests nothing from any network.

//go:embed assets/report.js assets/report.css assets/vendor
var assets embed.FS

// Page holds what an HTML page shows besides a scan result; every part is
// optional.
type Page struct {
	// Title is the page's heading; "Rampart report" when empty.
	Title string
	// Graphs are drawn in order (RBACGraph, NetpolGraph).
	Graphs []Graph
	// Trend compares the result with a baseline file.
	Trend *Trend
	// Compliance lists framework reports (see pkg/compliance), as JSON.
	Compliance []any
	// GraphsOnly leaves out the overview, findings and checks (the graph
	// commands' pages).
	GraphsOnly bool
	// Exposure is the entry points and in-cluster encryption (an
	// exposure.Inventory), as JSON.
	Exposure any
}

// WriteGraphs writes a page of graphs alone (netpol matrix, rbac paths and
// risky with -o html).
func WriteGraphs(w io.Writer, title string, version string, graphs ...Graph) error {
	return WriteHTML(w, &engine.Result{}, &Page{Title: title, Graphs: graphs, GraphsOnly: true}, Options{Version: version})
}

// Trend is how a scan compares with a baseline written earlier
// (--write-baseline): the findings it knew that are gone, those still
// there, and those that are new.
type Trend struct {
	Baseline string       `json:"baseline"`
	Before   int          `json:"before"`
	Fixed    int          `json:"fixed"`
	Still    int          `json:"still"`
	New      int          `json:"new"`
	ByCheck  []TrendCheck `json:"byCheck"`
}

// TrendCheck is one check's count in the baseline and now.
type TrendCheck struct {
	ID     string `json:"id"`
	Before int    `json:"before"`
	Now    int    `json:"now"`
}

// HTML writes a scan result as a page; Options.Page adds graphs, trend and
// compliance.
type HTML struct{}

// Write implements Reporter.
func (HTML) Write(w io.Writer, res *engine.Result, opts Options) error {
	page := opts.Page
	if page == nil {
		page = &Page{}
	}
	return WriteHTML(w, res, page, opts)
}

const graphLibraryFile = "assets/vendor/cytoscape.min.js"

// GraphLibrary reports whether this build bundles the graph library (a
// build without hack/js-assets.sh shows graphs as tables).
func GraphLibrary() bool {
	_, err := assets.ReadFile(graphLibraryFile)
	return err == nil
}

type htmlCheck struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Severity    string      `json:"severity"`
	Category    string      `json:"category"`
	Description string      `json:"description,omitempty"`
	Remediation string      `json:"remediation,omitempty"`
	References  []check.Ref `json:"references,omitempty"`
}

type scoreRow struct {
	Name       string         `json:"name"`
	Score      int            `json:"score"`
	Evaluated  int            `json:"evaluated"`
	Failed     int            `json:"failed"`
	BySeverity map[string]int `json:"bySeverity"`
}

type htmlData struct {
	Title      string                `json:"title"`
	Tool       string                `json:"tool"`
	Summary    engine.Summary        `json:"summary"`
	Score      scoreRow              `json:"score"`
	Namespaces []scoreRow            `json:"namespaces"`
	Categories []scoreRow            `json:"categories"`
	Trend      *Trend                `json:"trend,omitempty"`
	Checks     []htmlCheck           `json:"checks"`
	Strings    []string              `json:"strings"`
	Findings   [][]int               `json:"findings"`
	Errors     []string              `json:"errors"`
	Graphs     []Graph               `json:"graphs"`
	Compliance []any                 `json:"compliance,omitempty"`
	LinkBase   string                `json:"linkBase,omitempty"`
	NoGraphLib bool                  `json:"noGraphLib,omitempty"`
	GraphsOnly bool                  `json:"graphsOnly,omitempty"`
	Exposure   any                   `json:"exposure,omitempty"`
	Severities []string              `json:"severities"`
	Columns    map[string]int        `json:"columns"`
	NotEval    []engine.NotEvaluated `json:"notEvaluated,omitempty"`
}

// Finding rows are arrays of integers (indexes into Strings and Checks):
// the page holds tens of thousands of them, and a repeated file or object
// name is written once.
var htmlColumns = map[string]int{"check": 0, "severity": 1, "namespace": 2, "object": 3, "file": 4, "line": 5, "field": 6, "message": 7, "suppressed": 8}

// severityWeight weighs a check in the posture score: a critical check
// counts ten times a low one; info checks do not count.
var severityWeight = [...]int{0, 1, 3, 6, 10}

// WriteHTML writes the page.
func WriteHTML(w io.Writer, res *engine.Result, page *Page, opts Options) error {
	d := htmlData{Title: page.Title, Tool: "rampart " + opts.Version, Summary: res.Summary, Trend: page.Trend, Graphs: page.Graphs,
		Compliance: page.Compliance, LinkBase: opts.LinkBase, Columns: htmlColumns,
		Severities: []string{"info", "low", "medium", "high", "critical"}, Errors: []string{}, NotEval: res.NotEvaluated, GraphsOnly: page.GraphsOnly, Exposure: page.Exposure}
	lib, err := assets.ReadFile(graphLibraryFile)
	d.NoGraphLib = err != nil // a build without hack/js-assets.sh: graphs as tables
	if d.Title == "" {
		d.Title = "Rampart report"
	}
	if d.Graphs == nil {
		d.Graphs = []Graph{}
	}
	d.Checks = []htmlCheck{}
	strs := map[string]int{}
	str := func(s string) int {
		if i, ok := strs[s]; ok {
			return i
		}
		strs[s] = len(d.Strings)
		d.Strings = append(d.Strings, s)
		return strs[s]
	}
	str("")
	checkIdx := map[string]int{}
	addCheck := func(c htmlCheck) int {
		if i, ok := checkIdx[c.ID]; ok {
			return i
		}
		checkIdx[c.ID] = len(d.Checks)
		d.Checks = append(d.Checks, c)
		return checkIdx[c.ID]
	}
	sev := map[string]finding.Severity{}
	cat := map[string]string{}
	for _, c := range res.Checks {
		addCheck(htmlCheck{ID: c.ID, Title: c.Title, Severity: c.Severity.String(), Category: string(c.Category), Description: c.Description, Remediation: c.Remediation, References: c.References})
		sev[c.ID], cat[c.ID] = c.Severity, string(c.Category)
	}
	row := func(f check.Finding, suppressed bool) []int {
		ci, ok := checkIdx[f.CheckID]
		if !ok {
			ci = addCheck(htmlCheck{ID: f.CheckID, Title: f.Title, Severity: f.Severity.String(), Category: string(f.Category), Remediation: f.Remediation})
			sev[f.CheckID], cat[f.CheckID] = f.Severity, string(f.Category)
		}
		file, line := 0, 0
		if f.Location != nil {
			file, line = str(relPath(opts.Root, f.Location.File)), f.Location.Line
		}
		s := 0
		if suppressed {
			s = 1
		}
		return []int{ci, int(f.Severity), str(nsLabel(f.Object.Namespace)), str(f.Object.String()), file, line, str(f.Field), str(Clean(f.Message)), s}
	}
	for _, f := range res.Findings {
		d.Findings = append(d.Findings, row(f, false))
	}
	for _, s := range res.Suppressed {
		d.Findings = append(d.Findings, row(s.Finding, true))
	}
	if d.Findings == nil {
		d.Findings = [][]int{}
	}
	for _, e := range res.Errors {
		d.Errors = append(d.Errors, Clean(e.Error()))
	}
	d.Score, d.Namespaces, d.Categories = scores(res, sev, cat)

	data, err := json.Marshal(d) // escapes <, > and &: safe inside <script>
	if err != nil {
		return err
	}
	js, _ := assets.ReadFile("assets/report.js")
	css, _ := assets.ReadFile("assets/report.css")
	libJS, ourJS := safeJS(lib), safeJS(js)
	// Only these two scripts may run: no inline handler, no javascript:
	// URL, whatever the data holds.
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	var buf bytes.Buffer
	err = pageTemplate.Execute(&buf, map[string]any{
		"Title":   d.Title,
		"CSS":     template.CSS(css),
		"Data":    template.JS(data),  //nolint:gosec // JSON from encoding/json, HTML-escaped
		"Lib":     template.JS(libJS), //nolint:gosec // the pinned library
		"JS":      template.JS(ourJS), //nolint:gosec // ours
		"Scripts": hash(libJS) + " " + hash(ourJS),
	})
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// safeJS keeps a script from closing its element early.
func safeJS(b []byte) string {
	return strings.ReplaceAll(string(b), "</script", "<\\/script")
}

func nsLabel(ns string) string {
	if ns == "" {
		return "(cluster)"
	}
	return ns
}

// scores computes the posture score: the share of evaluated pairs of
// (object, check) without a finding, each weighed by its check's severity;
// overall, per namespace and per category. Suppressed findings count as
// passed (they were accepted with a reason).
func scores(res *engine.Result, sev map[string]finding.Severity, cat map[string]string) (scoreRow, []scoreRow, []scoreRow) {
	type acc struct {
		total, failed, evaluated, failedPairs int
		bySev                                 map[string]int
	}
	all := &acc{bySev: map[string]int{}}
	byNS, byCat := map[string]*acc{}, map[string]*acc{}
	get := func(m map[string]*acc, k string) *acc {
		a := m[k]
		if a == nil {
			a = &acc{bySev: map[string]int{}}
			m[k] = a
		}
		return a
	}
	failed := map[string]bool{}
	for _, f := range res.Findings {
		failed[f.Object.String()+"|"+f.CheckID] = true
		for _, a := range []*acc{all, get(byNS, nsLabel(f.Object.Namespace)), get(byCat, string(f.Category))} {
			a.bySev[f.Severity.String()]++
		}
	}
	for _, o := range res.Objects {
		key := o.Object.String() + "|"
		ns := nsLabel(o.Object.Namespace)
		for _, id := range o.Checks {
			w := severityWeight[sev[id]]
			bad := failed[key+id]
			for _, a := range []*acc{all, get(byNS, ns), get(byCat, cat[id])} {
				a.evaluated++
				a.total += w
				if bad {
					a.failedPairs++
					a.failed += w
				}
			}
		}
	}
	mk := func(name string, a *acc) scoreRow {
		s := -1 // nothing evaluated: no score, rather than 100%
		if a.evaluated > 0 {
			s = 100
		}
		if a.total > 0 {
			s = 100 * (a.total - a.failed) / a.total
		}
		return scoreRow{Name: name, Score: s, Evaluated: a.evaluated, Failed: a.failedPairs, BySeverity: a.bySev}
	}
	list := func(m map[string]*acc) []scoreRow {
		out := make([]scoreRow, 0, len(m))
		for k, a := range m {
			if a.evaluated == 0 {
				continue
			}
			out = append(out, mk(k, a))
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Score != out[j].Score {
				return out[i].Score < out[j].Score
			}
			return out[i].Name < out[j].Name
		})
		return out
	}
	return mk("all", all), list(byNS), list(byCat)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {{.Scripts}}; style-src 'unsafe-inline'; img-src data:">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<div id="app"><noscript>This report needs JavaScript to show its data.</noscript></div>
<script id="rampart-data" type="application/json">{{.Data}}</script>
<script>{{.Lib}}</script>
<script>{{.JS}}</script>
</body>
</html>
`))
