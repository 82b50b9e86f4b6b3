// Package engine runs a catalog over an inventory: checks in parallel,
// findings completed with their check's metadata, sorted, and judged against a
// severity threshold. It never prints.
package engine

import (
	"cmp"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// Options tune a run.
type Options struct {
	// PSS is the default Pod Security level and version.
	PSS api.LevelVersion
	// FailOn is the lowest severity that fails the run; nil never fails.
	FailOn *check.Severity
	// Workers is the number of objects evaluated at once; GOMAXPROCS when zero.
	Workers int
	// AllowedRegistries is the image registry allowlist from the configuration.
	AllowedRegistries []string
	// KnownCheck reports whether an ID is in the catalog (for checks that
	// validate suppressions); nil accepts every ID.
	KnownCheck func(string) bool
	// Fixes asks the checks that have one for the fixes of their findings
	// (Finding.Fixes); Resources are the values they give missing requests
	// and limits ("requests.cpu": "100m").
	Fixes     bool
	Resources map[string]string
	// Suppress holds configured exceptions and the baseline; annotations
	// always apply.
	Suppress *suppress.Rules
	// Target, when set, limits the objects judged: the others are context
	// (their Namespace, bindings, ServiceAccounts) and get no finding. Only
	// the judged objects are counted and listed.
	Target func(*manifest.Object) bool
}

// Summary counts what a run saw and found.
type Summary struct {
	Files      int            `json:"files"`
	Objects    int            `json:"objects"`
	Checks     int            `json:"checks"`
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"bySeverity"`
	Errors     int            `json:"errors"`
	// Suppressed counts findings silenced by annotations, exceptions or the
	// baseline; ExpiredExceptions, findings an expired exception no longer
	// silences.
	Suppressed        int `json:"suppressed"`
	ExpiredExceptions int `json:"expiredExceptions"`
	// NotEvaluated counts the kinds a live scan could not read.
	NotEvaluated int    `json:"notEvaluated"`
	FailOn       string `json:"failOn"`
	// Failed is true when a finding is at or above FailOn.
	Failed bool `json:"failed"`
	// Hidden counts findings below the shown severity (--min-severity);
	// they still count for FailOn.
	Hidden int `json:"hidden,omitempty"`
}

// Result is the outcome of a run.
type Result struct {
	Findings []check.Finding
	// Suppressed are the findings suppressions silenced, sorted like Findings.
	Suppressed []suppress.Suppressed
	Errors     []manifest.InputError
	// Notices are what a user should know that is not an error (files a walk
	// passed over, files no kustomization lists).
	Notices []manifest.InputError
	Summary Summary
	// Checks are the checks that ran, sorted by ID (for reporters' rule
	// lists); the caller's slice when it was sorted already: do not modify.
	Checks []check.Check
	// Objects lists every object evaluated and the checks that applied to it,
	// in inventory order.
	Objects []Evaluated
	// NotEvaluated lists what a live scan could not read.
	NotEvaluated []NotEvaluated
}

// NotEvaluated is a kind a live scan could not read: its objects were not
// judged, which a report must say rather than pass.
type NotEvaluated struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Verb      string `json:"verb"`
	Reason    string `json:"reason"`
}

// Evaluated is one object of a run and the IDs of the checks that applied.
type Evaluated struct {
	Object   check.ObjectRef
	Location *manifest.Location
	// Checks are the IDs of the checks that applied; objects of one shape
	// share the slice: do not modify.
	Checks []string
}

// Run evaluates every check on every object of the inventory it scopes (or
// on those opts.Target selects), with the inventory as their context.
func Run(checks []check.Check, inv *inventory.Inventory, opts Options) *Result {
	targets := inv.Objects
	if opts.Target != nil {
		targets = make([]*object.Object, 0, len(inv.Objects))
		for _, o := range inv.Objects {
			if opts.Target(o.Object) {
				targets = append(targets, o)
			}
		}
	}
	return Judge(checks, targets, inv, opts)
}

var scratchPool = sync.Pool{New: func() any { return new([]check.Finding) }}

// Judge evaluates every check on each target it scopes; the checks read
// everything else through lookup (the rest of a repository, a cluster, an
// informer cache). The lookup should hold the targets too, as the cluster
// will once they are admitted (a namespace's first workload stands for it
// when the lookup has no Namespace object). Only targets get findings, and
// only they are counted. opts.Target is not consulted.
func Judge(checks []check.Check, targets []*object.Object, lookup check.Lookup, opts Options) *Result {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx := &check.Context{Lookup: lookup, PSS: opts.PSS, AllowedRegistries: opts.AllowedRegistries, KnownCheck: opts.KnownCheck, Resources: opts.Resources, Fixing: opts.Fixes}
	perObject := make([][]check.Finding, len(targets))
	silenced := make([][]suppress.Suppressed, len(targets))
	expired := make([]int, len(targets))
	evaluated := make([]Evaluated, len(targets))
	var (
		mu       sync.Mutex
		internal []manifest.InputError
		wg       sync.WaitGroup
	)
	// Workers take objects in small batches from an atomic counter: a
	// channel send per object costs as much as checking a small object.
	var cursor atomic.Int64
	const batch = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		work := func() {
			defer wg.Done()
			// The checks that apply depend on the object's kind and whether
			// it runs a pod only: computed once per shape, their IDs shared
			// by every object of that shape.
			type shape struct {
				kind string
				pod  bool
			}
			type applicable struct {
				idx []int
				ids []string
			}
			shapes := map[shape]*applicable{}
			// An object's findings, reused; pooled across calls (the
			// webhook calls Judge once per request).
			sp := scratchPool.Get().(*[]check.Finding)
			scratch := (*sp)[:0]
			defer func() {
				if cap(scratch) <= 1024 {
					clear(scratch[:cap(scratch)]) // no finding kept alive by the pool
					*sp = scratch[:0]
					scratchPool.Put(sp)
				}
			}()
			for {
				start := int(cursor.Add(batch)) - batch
				if start >= len(targets) {
					return
				}
				for i := start; i < min(start+batch, len(targets)); i++ {
					o := targets[i]
					ev := &evaluated[i]
					ev.Object = check.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
					if o.File != "" {
						loc := o.Locate("")
						ev.Location = &loc
					}
					sh := shape{o.Kind, o.Pod != nil}
					ap := shapes[sh]
					if ap == nil {
						ap = &applicable{}
						for ci := range checks {
							if checks[ci].Scope.Matches(o) {
								ap.idx = append(ap.idx, ci)
								ap.ids = append(ap.ids, checks[ci].ID)
							}
						}
						shapes[sh] = ap
					}
					ev.Checks = ap.ids // shared: read-only
					for _, ci := range ap.idx {
						c := &checks[ci]
						fs, err := runOne(ctx, c, o)
						if err != nil {
							mu.Lock()
							internal = append(internal, *err)
							mu.Unlock()
							continue
						}
						for _, f := range fs {
							scratch = append(scratch, complete(f, c))
						}
					}
					if len(scratch) > 0 {
						perObject[i] = slices.Clone(scratch) // one allocation of the right size
						scratch = scratch[:0]
					}
					perObject[i], silenced[i], expired[i] = suppressObject(o, perObject[i], opts.Suppress)
					SortFindings(perObject[i])
				}
			}
		}
		if workers == 1 {
			work() // one object, one request: no goroutine to wake
		} else {
			go work()
		}
	}
	wg.Wait()

	// The registry's order already is the result's: the catalog is then
	// shared, not copied (a copy per admission request is most of what
	// the webhook allocates).
	res := &Result{Checks: slices.Clip(checks), Objects: evaluated}
	byID := func(a, b check.Check) int { return cmp.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(res.Checks, byID) {
		res.Checks = slices.Clone(checks)
		slices.SortFunc(res.Checks, byID)
	}
	n := 0
	for i, fs := range perObject {
		n += len(fs)
		res.Suppressed = append(res.Suppressed, silenced[i]...)
		res.Summary.ExpiredExceptions += expired[i]
	}
	res.Findings = make([]check.Finding, 0, n)
	for _, fs := range perObject {
		res.Findings = append(res.Findings, fs...)
	}
	// Objects arrive in file and document order, so findings sorted per
	// object are usually sorted overall; sort again only when they are not.
	if !slices.IsSortedFunc(res.Findings, compareFindings) {
		SortFindings(res.Findings)
	}
	// The same object can reach a scan twice (a base two kustomize overlays
	// emit unchanged): the same finding at the same place is reported once.
	res.Findings = slices.CompactFunc(res.Findings, func(a, b check.Finding) bool { return compareFindingPtrs(&a, &b) == 0 })
	slices.SortStableFunc(res.Suppressed, func(a, b suppress.Suppressed) int { return compareFindings(a.Finding, b.Finding) })
	res.Suppressed = slices.CompactFunc(res.Suppressed, func(a, b suppress.Suppressed) bool {
		return compareFindings(a.Finding, b.Finding) == 0 && a.By == b.By
	})
	res.Errors = internal
	res.Summary.Objects, res.Summary.Checks = len(evaluated), len(checks)
	res.Summarize(opts.FailOn)
	return res
}

// Scan loads paths (files, folders, "-" for stdin), builds the inventory and
// runs checks: what `rampart scan` does. Input errors and check errors are
// merged and sorted; the summary counts files too.
func Scan(paths []string, load manifest.Options, checks []check.Check, opts Options) *Result {
	start := time.Now()
	loaded := manifest.Load(paths, load)
	slog.Debug("loaded", "objects", len(loaded.Objects), "elapsed", time.Since(start))
	res := ScanObjects(loaded.Objects, loaded.Errors, checks, opts)
	res.Summary.Files = loaded.Files
	slog.Debug("checks done", "elapsed", time.Since(start))
	return res
}

// ScanObjects runs checks over objects read elsewhere (a live cluster), with
// the input errors met while reading them.
func ScanObjects(objs []*manifest.Object, inputErrors []manifest.InputError, checks []check.Check, opts Options) *Result {
	res := Run(checks, inventory.New(objs), opts)
	res.Errors = append(inputErrors, res.Errors...)
	manifest.SortErrors(res.Errors)
	res.Summarize(opts.FailOn)
	return res
}

// Hide removes the findings below min from the result, counting them in
// Summary.Hidden; the verdict (Failed) keeps counting them.
func (r *Result) Hide(min check.Severity) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if f.Severity >= min {
			kept = append(kept, f)
			continue
		}
		r.Summary.Hidden++
		r.Summary.BySeverity[f.Severity.String()]--
	}
	r.Findings = kept
	r.Summary.Findings = len(kept)
}

// Summarize recomputes the summary's counts and verdict.
func (r *Result) Summarize(failOn *check.Severity) {
	s := &r.Summary
	s.Findings = len(r.Findings)
	s.Errors = len(r.Errors)
	s.Suppressed = len(r.Suppressed)
	s.NotEvaluated = len(r.NotEvaluated)
	s.BySeverity = map[string]int{}
	for sev := check.Info; sev <= check.Critical; sev++ {
		s.BySeverity[sev.String()] = 0
	}
	s.Failed = false
	s.FailOn = "none"
	if failOn != nil {
		s.FailOn = failOn.String()
	}
	for _, f := range r.Findings {
		s.BySeverity[f.Severity.String()]++
		if failOn != nil && f.Severity >= *failOn {
			s.Failed = true
		}
	}
}

// runOne runs one check on one object; a panic becomes an error, never a crash.
func runOne(ctx *check.Context, c *check.Check, o *object.Object) (fs []check.Finding, err *manifest.InputError) {
	defer func() {
		if r := recover(); r != nil {
			fs = nil
			loc := o.Locate("")
			err = &manifest.InputError{File: o.File, Line: loc.Line, Message: fmt.Sprintf("internal error in check %s on %s: %v", c.ID, o.Object, r)}
		}
	}()
	fs = c.Run(ctx, o)
	if ctx.Fixing && c.Fix != nil {
		for i := range fs {
			fs[i].Fixes = fixesOf(ctx, c, o, &fs[i])
		}
	}
	return fs, nil
}

// fixesOf is c's fixes of f; a panic in them costs the fixes, not the
// finding.
func fixesOf(ctx *check.Context, c *check.Check, o *object.Object, f *check.Finding) (fixes []check.Fix) {
	defer func() {
		if r := recover(); r != nil {
			fixes = nil
		}
	}()
	return c.Fix(ctx, o, f)
}

func complete(f check.Finding, c *check.Check) check.Finding {
	f.CheckID = c.ID
	f.Category = c.Category
	f.Severity = c.Severity
	f.Title = c.Title
	f.Remediation = c.Remediation
	return f
}

// SortFindings orders findings by file, line, column, check and message, and
// findings without a file by object.
func SortFindings(fs []check.Finding) {
	if len(fs) < 2 {
		return
	}
	if len(fs) <= 12 {
		// An object's few findings: in place, no allocation.
		for i := 1; i < len(fs); i++ {
			for j := i; j > 0 && compareFindingPtrs(&fs[j], &fs[j-1]) < 0; j-- {
				fs[j], fs[j-1] = fs[j-1], fs[j]
			}
		}
		return
	}
	// Sort indexes, not the large Finding values, then permute once.
	idx := make([]int32, len(fs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return compareFindingPtrs(&fs[a], &fs[b]) })
	sorted := make([]check.Finding, len(fs))
	for i, j := range idx {
		sorted[i] = fs[j]
	}
	copy(fs, sorted)
}

// CompareFindings orders findings as SortFindings does.
func CompareFindings(a, b check.Finding) int { return compareFindings(a, b) }

func compareFindings(a, b check.Finding) int {
	return compareFindingPtrs(&a, &b)
}

func compareFindingPtrs(a, b *check.Finding) int {
	var af, bf string
	var al, bl, ac, bc int
	if a.Location != nil {
		af, al, ac = a.Location.File, a.Location.Line, a.Location.Column
	}
	if b.Location != nil {
		bf, bl, bc = b.Location.File, b.Location.Line, b.Location.Column
	}
	if c := cmp.Compare(af, bf); c != 0 {
		return c
	}
	if c := cmp.Compare(al, bl); c != 0 {
		return c
	}
	if c := cmp.Compare(ac, bc); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.Object.Kind, b.Object.Kind),
		cmp.Compare(a.Object.Namespace, b.Object.Namespace),
		cmp.Compare(a.Object.Name, b.Object.Name),
		cmp.Compare(a.CheckID, b.CheckID),
		cmp.Compare(a.Field, b.Field),
		cmp.Compare(a.Message, b.Message),
	)
}
