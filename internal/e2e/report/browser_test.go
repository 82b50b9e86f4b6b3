// Package report tests the HTML reports in a real headless Chromium: they
// open from a file with no network request and no console error, their
// filters change the findings table, and their graphs render in time.
// make test gives the browser (hack/chromium.sh, Debian's chromium) in
// RAMPART_CHROMIUM and sets RAMPART_REQUIRE_BROWSER, so CI cannot skip.
package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/internal/corpus"
	"github.com/rampart-k8s/rampart/internal/realworld"
)

var update = flag.Bool("update", false, "write the screenshots into docs/images (for docs/reports.md)")

func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RAMPART_CHROMIUM")
	if p == "" {
		p, _ = exec.LookPath("chromium")
	}
	if p == "" {
		if os.Getenv("RAMPART_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium: hack/chromium.sh installs Debian's package")
		}
		t.Skip("no Chromium (set RAMPART_CHROMIUM, or run make test)")
	}
	return p
}

// repoDir is the repository's folder, found before any test changes folder.
var repoDir, _ = filepath.Abs("../../..")

func repoRoot(t *testing.T) string {
	t.Helper()
	if repoDir == "" {
		t.Fatal("no repository folder")
	}
	return repoDir
}

// rampart runs the CLI in-process and returns its exit code.
func rampart(t *testing.T, args ...string) int {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	if code > 1 {
		t.Fatalf("rampart %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return code
}

// browser is one Chromium with what the page did: requests other than the
// page itself, and console errors, exceptions and logged errors (a
// Content-Security-Policy violation is one).
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	page     string
	requests []string
	errors   []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("starting Chromium: %v", err)
	}
	b := &browser{ctx: ctx}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(cancel2) // ends the event loops before waiting for them
	collect := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, log.EntryAdded)
	collect(func() {
		for e, err := range requests {
			if err != nil {
				return
			}
			b.mu.Lock()
			if e.Request.URL != b.page {
				b.requests = append(b.requests, e.Request.URL)
			}
			b.mu.Unlock()
		}
	})
	collect(func() {
		for e, err := range console {
			if err != nil {
				return
			}
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				b.fail("console." + string(e.Type) + ": " + strings.Join(parts, " "))
			}
		}
	})
	collect(func() {
		for e, err := range exceptions {
			if err != nil {
				return
			}
			b.fail("exception: " + (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		}
	})
	collect(func() {
		for e, err := range logs {
			if err != nil {
				return
			}
			if e.Entry.Level == log.EntryLevelError {
				b.fail("log: " + e.Entry.Text)
			}
		}
	})
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) fail(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// open loads file and waits for the page's script to finish.
func (b *browser) open(t *testing.T, file string) {
	t.Helper()
	b.mu.Lock()
	b.page = "file://" + file
	b.mu.Unlock()
	b.do(t, chromedp.Navigate(b.page), wait("window.rampart && window.rampart.ready"))
}

func wait(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(60*time.Second))(ctx, t)
		return err
	})
}

// clean fails the test on a request or an error the page caused.
func (b *browser) clean(t *testing.T, what string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) > 0 {
		t.Errorf("%s: the page made network requests: %v", what, b.requests)
	}
	if len(b.errors) > 0 {
		t.Errorf("%s: console errors: %v", what, b.errors)
	}
}

func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		t.Fatalf("%v (page errors: %v)", err, b.errors)
	}
}

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// screenshot saves the viewport as docs/images/NAME.png with -update, and
// in the test's folder otherwise (so that taking it is always tested).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	b.do(t, chromedp.Sleep(300*time.Millisecond))
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s: %d bytes", name, len(png))
	}
	dir := t.TempDir()
	if *update {
		dir = filepath.Join(repoRoot(t), "docs", "images")
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

type graphStat struct {
	Ms    float64 `json:"ms"`
	Build float64 `json:"build"`
	Nodes int     `json:"nodes"`
	Table bool    `json:"table"`
}

// graphTime opens a graph tab and returns how long the graph took to draw
// (as the page measured it: from building its elements to the first
// frame) and its node count.
func (b *browser) graphTime(t *testing.T, id string) (time.Duration, int) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.CSS("#tab-graph-"+id)), wait(fmt.Sprintf("window.rampart.graphs[%q]", id)))
	res := eval[graphStat](t, b, fmt.Sprintf("window.rampart.graphs[%q]", id))
	if res.Table {
		t.Fatalf("graph %s was drawn as tables: this build has no graph library (run hack/js-assets.sh)", id)
	}
	t.Logf("graph %s: %d nodes, elements built in %.0f ms, first frame at %.0f ms", id, res.Nodes, res.Build, res.Ms)
	return time.Duration(res.Ms * float64(time.Millisecond)), res.Nodes
}

func text(t *testing.T, b *browser, css string) string {
	t.Helper()
	return eval[string](t, b, fmt.Sprintf("document.querySelector(%q).textContent", css))
}

func TestReportInChromium(t *testing.T) {
	b := newBrowser(t)
	t.Chdir(repoRoot(t)) // paths in the page (and the screenshots) are relative
	out := filepath.Join(t.TempDir(), "insecure.html")
	rampart(t, "scan", "examples/insecure", "-o", "html", "--output-file", out)
	b.open(t, out)
	b.screenshot(t, "report-overview")

	// The findings table and its filters.
	b.do(t, chromedp.Click(chromedp.CSS("#tab-findings")), chromedp.WaitVisible(chromedp.CSS("#findings-table")))
	total := text(t, b, "#match-count")
	b.screenshot(t, "report-findings")
	critical := eval[string](t, b, `(function(){var s=document.getElementById('filter-severity');
		for (var o of s.options) if (o.text==='critical') s.value=o.value;
		s.dispatchEvent(new Event('change')); return document.getElementById('match-count').textContent})()`)
	sevs := eval[[]string](t, b, `Array.from(document.querySelectorAll('#findings-table tbody tr td:first-child')).map(function(td){return td.textContent})`)
	if critical == total {
		t.Errorf("the severity filter did not change the table: %q", critical)
	}
	if len(sevs) == 0 {
		t.Error("no critical finding listed for the insecure example")
	}
	for _, s := range sevs {
		if s != "critical" {
			t.Errorf("severity filter critical shows a %q row", s)
		}
	}
	searched := eval[string](t, b, `(function(){var s=document.getElementById('filter-severity'); s.value=''; s.dispatchEvent(new Event('change'));
		var q=document.getElementById('search'); q.value='privileged'; q.dispatchEvent(new Event('input'));
		return document.getElementById('match-count').textContent})()`)
	if searched == total || strings.HasPrefix(searched, "0 ") {
		t.Errorf("search privileged: %q (all: %q)", searched, total)
	}
	checkFilter := eval[string](t, b, `(function(){document.getElementById('search').value=''; var s=document.getElementById('filter-check');
		for (var o of s.options) if (o.text==='pss-privileged') s.value=o.value; s.dispatchEvent(new Event('change'));
		return document.getElementById('match-count').textContent})()`)
	if checkFilter == total || strings.HasPrefix(checkFilter, "0 ") {
		t.Errorf("check filter pss-privileged: %q (all: %q)", checkFilter, total)
	}

	for _, g := range []string{"rbac", "netpol"} {
		if d, n := b.graphTime(t, g); n == 0 {
			t.Errorf("graph %s has no node", g)
		} else {
			t.Logf("graph %s: %d nodes drawn in %v", g, n, d)
		}
		b.screenshot(t, "report-graph-"+g)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#tab-exposure")), wait("document.querySelectorAll('#exposure tbody tr').length > 0"))
	if rows := eval[int](t, b, `document.querySelectorAll('#exposure table:first-of-type tbody tr.open').length`); rows == 0 {
		t.Error("the exposure tab marks no entry open to outside traffic for the insecure example")
	}
	b.screenshot(t, "report-exposure")
	b.do(t, chromedp.Click(chromedp.CSS("#tab-checks")), chromedp.WaitVisible(chromedp.CSS("#check-pss-privileged")))
	b.clean(t, "insecure example")
}

func writeCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range corpus.Generate(n, 1) {
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLargeReports holds the page to its budgets: under 3 MB for 5,000
// objects, and a graph of 2,000 nodes drawn in under 3 seconds.
func TestLargeReports(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	b := newBrowser(t)
	out := filepath.Join(t.TempDir(), "5000.html")
	rampart(t, "scan", writeCorpus(t, 5000), "-o", "html", "--output-file", out)
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of 5,000 objects: %d bytes", st.Size())
	if st.Size() >= 3<<20 {
		t.Errorf("report of 5,000 objects is %d bytes, over 3 MB", st.Size())
	}
	b.open(t, out)
	b.do(t, chromedp.Click(chromedp.CSS("#tab-findings")), chromedp.WaitVisible(chromedp.CSS("#findings-table")))
	rows := eval[int](t, b, `document.querySelectorAll('#findings-table tbody tr').length`)
	if rows != 200 {
		t.Errorf("first page of findings: %d rows, want 200", rows)
	}
	b.clean(t, "5,000 objects")

	out = filepath.Join(t.TempDir(), "8000.html")
	rampart(t, "scan", writeCorpus(t, 8000), "-o", "html", "--output-file", out)
	b.open(t, out)
	d, n := b.graphTime(t, "rbac")
	t.Logf("RBAC graph of %d nodes drawn in %v", n, d)
	if n < 2000 {
		t.Fatalf("the 8,000-object corpus gives an RBAC graph of %d nodes; the budget is for 2,000", n)
	}
	if d > 3*time.Second {
		t.Errorf("RBAC graph of %d nodes took %v to draw, over 3 s", n, d)
	}
	b.clean(t, "8,000 objects")
}

// TestCombinedReportAndGraphPages opens rampart report (trend against a
// baseline, two compliance frameworks) and the graph commands' pages.
func TestCombinedReportAndGraphPages(t *testing.T) {
	b := newBrowser(t)
	t.Chdir(repoRoot(t)) // paths in the page (and the screenshots) are relative
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline.json")
	rampart(t, "scan", filepath.Join("examples", "insecure"), "--write-baseline", baseline)
	out := filepath.Join(dir, "report.html")
	rampart(t, "report", "-o", out, "--baseline", baseline, "--framework", "nsa-cisa-1.2", "--framework", "cis-1.12", "examples")
	b.open(t, out)
	// The baseline is the insecure half: its findings are accounted for as
	// still there or fixed (the hardened half's NetworkPolicies cover the
	// shared namespace); the cards show the numbers.
	trend := eval[map[string]int](t, b, `(function(){var t=window.rampart.data.trend; return {before: t.before, still: t.still, new: t.new, fixed: t.fixed}})()`)
	if trend["before"] == 0 || trend["still"] == 0 || trend["still"]+trend["fixed"] != trend["before"] {
		t.Errorf("trend %v: want the baseline's findings split into still there and fixed", trend)
	}
	if cards := text(t, b, "#trend"); !strings.Contains(cards, fmt.Sprintf("%d", trend["before"])) {
		t.Errorf("trend cards %q do not show the baseline's %d findings", cards, trend["before"])
	}
	b.do(t, chromedp.Click(chromedp.CSS("#tab-compliance-nsa-cisa-1\\.2")), wait("document.querySelectorAll('#compliance-nsa-cisa-1\\\\.2 tbody tr').length > 0"))
	statuses := eval[[]string](t, b, `Array.from(document.querySelectorAll('#compliance-nsa-cisa-1\\.2 tbody tr td:nth-child(2)')).map(function(td){return td.textContent})`)
	seen := map[string]int{}
	for _, s := range statuses {
		seen[s]++
	}
	if len(statuses) != 35 || seen["fail"] == 0 || seen["manual"] == 0 {
		t.Errorf("NSA/CISA controls shown: %d, by status %v", len(statuses), seen)
	}
	b.screenshot(t, "report-compliance")
	b.do(t, chromedp.Click(chromedp.CSS("#tab-compliance-cis-1\\.12")), wait("document.querySelectorAll('#compliance-cis-1\\\\.12 tbody tr').length == 131"))
	b.clean(t, "rampart report")

	for _, tc := range []struct {
		name, graph string
		args        []string
	}{
		{"netpol matrix", "netpol", []string{"netpol", "matrix", "examples", "-o", "html"}},
		{"rbac paths", "rbac", []string{"rbac", "paths", "system:serviceaccount:shop:ci-robot", filepath.Join("examples", "insecure"), "-o", "html"}},
		{"rbac risky", "rbac", []string{"rbac", "risky", "examples", "-o", "html"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := cli.Main(tc.args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, code, stderr.String())
		}
		page := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".html")
		if err := os.WriteFile(page, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		b.open(t, page)
		tabs := eval[int](t, b, `document.querySelectorAll('nav a').length`)
		if tabs != 1 {
			t.Errorf("%s: %d tabs, want the graph alone", tc.name, tabs)
		}
		b.do(t, wait(fmt.Sprintf("window.rampart.graphs[%q]", tc.graph)))
		hot := eval[int](t, b, fmt.Sprintf("window.rampart.graphs[%q+':cy'].elements('.hot').length", tc.graph))
		if tc.graph == "rbac" && hot == 0 {
			t.Errorf("%s: no escalation chain highlighted", tc.name)
		}
		if tc.name == "rbac paths" {
			b.screenshot(t, "rbac-paths")
		}
		b.clean(t, tc.name)
	}
}

// TestPublicCorpusReport: the report of every input of the public corpus
// (internal/realworld: charts, kustomize trees and bundles of well-known
// projects) in one page opens clean and draws its graphs.
func TestPublicCorpusReport(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var paths []string
	for _, m := range realworld.Corpus {
		dir, err := realworld.Fetch(m)
		if err != nil {
			t.Fatalf("fetching %s: %v", m.Path, err)
		}
		for _, in := range m.Inputs {
			paths = append(paths, realworld.Path(dir, in))
		}
	}
	b := newBrowser(t)
	out := filepath.Join(t.TempDir(), "corpus.html")
	var stdout, stderr bytes.Buffer
	args := append([]string{"report", "-o", out, "--framework", "nsa-cisa-1.2"}, paths...)
	code := cli.Main(args, strings.NewReader(""), &stdout, &stderr)
	// Some inputs are known input errors (a chart whose dependencies are not
	// vendored): exit 2, and the page is written all the same.
	if code != 0 && code != 2 {
		t.Fatalf("report: exit %d: %s", code, stderr.String())
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	b.open(t, out)
	objects := eval[int](t, b, `window.rampart.data.summary.objects`)
	errs := eval[int](t, b, `window.rampart.data.errors.length`)
	t.Logf("public corpus: %d inputs, %d objects, %d input errors listed, page %d bytes", len(paths), objects, errs, st.Size())
	if objects < 1000 {
		t.Errorf("the public corpus gave %d objects", objects)
	}
	if code == 2 && errs == 0 {
		t.Error("exit 2 but the page lists no input error")
	}
	b.do(t, chromedp.Click(chromedp.CSS("#tab-findings")), chromedp.WaitVisible(chromedp.CSS("#findings-table")))
	for _, g := range []string{"rbac", "netpol"} {
		d, n := b.graphTime(t, g)
		t.Logf("public corpus: graph %s of %d nodes drawn in %v", g, n, d)
		if n == 0 {
			t.Errorf("public corpus: graph %s has no node", g)
		}
	}
	b.do(t, chromedp.Click(chromedp.CSS("#tab-compliance-nsa-cisa-1\\.2")), wait("document.querySelectorAll('#compliance-nsa-cisa-1\\\\.2 tbody tr').length == 35"))
	b.clean(t, "public corpus")
}

// TestHostilePathsStayData: a folder named like a script URL is a file
// name in the page's links, and the page's policy runs only its own two
// scripts.
func TestHostilePathsStayData(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	evil := filepath.Join(dir, "javascript:document.title='pwned'//x")
	if err := os.MkdirAll(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: true}}\n"
	if err := os.WriteFile(filepath.Join(evil, "pod.yaml"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	out := filepath.Join(t.TempDir(), "evil.html")
	rampart(t, "scan", ".", "-o", "html", "--output-file", out)
	b.open(t, out)
	b.do(t, chromedp.Click(chromedp.CSS("#tab-findings")), chromedp.WaitVisible(chromedp.CSS("#findings-table")))
	protocols := eval[[]string](t, b, `Array.from(document.querySelectorAll('#findings-table a[href^="./"], #findings-table a[href*=":"]')).map(function(a){return a.protocol + ' ' + a.getAttribute('href')})`)
	if len(protocols) == 0 {
		t.Fatal("no location link")
	}
	for _, p := range protocols {
		if !strings.HasPrefix(p, "file: ./javascript%3A") {
			t.Errorf("location link %q: want a relative file link with the colon encoded", p)
		}
	}
	b.clean(t, "hostile path")
}
