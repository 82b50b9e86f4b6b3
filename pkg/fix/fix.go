package fix

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// Options choose which fixes run.
type Options struct {
	// Breaking allows fixes that can change how a workload runs (removing
	// privileges, host access or capabilities it asked for).
	Breaking bool
	// Only and Skip filter by check ID.
	Only, Skip []string
	// GeneratedFile receives the objects the fixes create (NetworkPolicies,
	// ServiceAccounts); empty means rampart-generated.yaml beside the first
	// path. NoGenerate turns generation off.
	GeneratedFile string
	NoGenerate    bool
	// Helm are the render options for charts among the paths.
	Helm source.HelmOptions
	// Confirm, when set, is asked before each fix (interactive mode).
	Confirm func(Applied) Answer
	// Resources are the values resource fixes write, keyed
	// "requests.cpu", "limits.memory", ... (see ParseResources).
	Resources map[string]string
}

// ParseResources reads --default-resources: comma-separated key=value with
// keys requests.<resource> or limits.<resource>, or a bare resource name
// (cpu, memory, ephemeral-storage) for both.
func ParseResources(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("%s: %q is not a quantity", k, v)
		}
		switch {
		case strings.HasPrefix(k, "requests.") || strings.HasPrefix(k, "limits."):
			out[k] = v
		case k == "cpu" || k == "memory" || k == "ephemeral-storage":
			out["requests."+k], out["limits."+k] = v, v
		default:
			return nil, fmt.Errorf("unknown resource key %q (want cpu, memory, ephemeral-storage, or requests./limits. before them)", k)
		}
	}
	return out, nil
}

// Answer is a reply to Options.Confirm.
type Answer int

// Answers: make this fix, skip it, make it and all the rest, stop.
const (
	Yes Answer = iota
	No
	All
	Quit
)

// DefaultGeneratedFile is the generated file's name beside the input.
const DefaultGeneratedFile = "rampart-generated.yaml"

// GeneratedFileFor returns where generated objects go for these paths.
func GeneratedFileFor(paths []string) string {
	if len(paths) == 0 {
		return DefaultGeneratedFile
	}
	if st, err := os.Stat(paths[0]); err == nil && st.IsDir() {
		return filepath.Join(paths[0], DefaultGeneratedFile)
	}
	return filepath.Join(filepath.Dir(paths[0]), DefaultGeneratedFile)
}

// Applied is one fix made.
type Applied struct {
	File     string `json:"file"`
	CheckID  string `json:"checkID"`
	Object   string `json:"object"`
	Message  string `json:"message"`
	Breaking bool   `json:"breaking"`

	rescan, regenerate bool // the checks run again; generation reads the document again
}

// Pending is a finding a fix exists for but that was not made: breaking
// without --breaking, or in YAML the editor does not rewrite.
type Pending struct {
	File, CheckID, Object, Reason string
}

// FileResult is one file before and after.
type FileResult struct {
	Name, Before, After string
}

// Result is what Files changed.
type Result struct {
	Files   []FileResult
	Applied []Applied
	Pending []Pending
	// Generated lists the objects written to the generated file, with why.
	Generated []string
}

// set is one edit of a fix, on a field of the finding's object.
type set = finding.Edit

const (
	opSet    = finding.Set
	opDelete = finding.Delete
	opAppend = finding.Append
)

// recipe is how to make a finding's fixes: the alternatives' edits, tried in
// order until one changes the text, and how the first says to make them.
type recipe struct {
	message  string
	breaking bool
	sets     [][]set
	// extra are the objects the fix creates, written to the generated file.
	extra                            []generated
	alone, later, rescan, regenerate bool
}

// recipeOf reads the fixes the finding's check computed (engine.Options
// Fixes); a finding without fixes has no recipe.
func recipeOf(f check.Finding) (recipe, bool) {
	if len(f.Fixes) == 0 {
		return recipe{}, false
	}
	first := f.Fixes[0]
	r := recipe{message: first.Message, breaking: first.Breaking, alone: first.Alone, later: first.Later,
		rescan: first.Rescan, regenerate: first.Regenerate}
	for _, fx := range f.Fixes {
		if len(fx.Edits) > 0 {
			r.sets = append(r.sets, fx.Edits)
		}
	}
	for _, c := range first.Creates {
		if obj, ok := c.Object.(runtime.Object); ok {
			managed(obj)
			r.extra = append(r.extra, generated{obj, c.Why, c.Namespace})
		}
	}
	return r, len(r.sets) > 0
}

// managed labels an object a fix creates as rampart's.
func managed(obj runtime.Object) {
	if m, ok := obj.(interface {
		GetLabels() map[string]string
		SetLabels(map[string]string)
	}); ok {
		labels := maps.Clone(m.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, ManagedBy)
		m.SetLabels(labels)
	}
}

func allowed(id string, opts Options) bool {
	for _, s := range opts.Skip {
		if s == id {
			return false
		}
	}
	if len(opts.Only) == 0 {
		return true
	}
	for _, s := range opts.Only {
		if s == id {
			return true
		}
	}
	return false
}

// Files fixes the manifest files among paths (folders are walked; stdin,
// Helm charts and kustomizations are not rewritten) and returns the files
// before and after; it writes nothing.
func Files(paths []string, checks []check.Check, eopts engine.Options, opts Options) (*Result, error) {
	eopts.Fixes, eopts.Resources = true, opts.Resources
	// The same plan as scan: charts, the roots of kustomize trees (not the
	// bases and components they read), and the plain files nothing reads.
	plan := source.PlanFor(paths)
	loaded := manifest.Load(paths, manifest.Options{Claim: plan.Claim, Skip: plan.Skip})
	for _, r := range plan.Roots {
		if !slices.Contains(loaded.Claimed, r) {
			loaded.Claimed = append(loaded.Claimed, r)
		}
	}
	if len(loaded.Errors) > 0 {
		var msgs []string
		for _, e := range loaded.Errors {
			msgs = append(msgs, e.Error())
		}
		return nil, errors.New("cannot fix input that does not parse:\n" + strings.Join(msgs, "\n"))
	}
	byFile := map[string][]*manifest.Object{}
	var files []string
	for _, o := range loaded.Objects {
		if o.File == manifest.StdinName {
			continue
		}
		if _, ok := byFile[o.File]; !ok {
			files = append(files, o.File)
		}
		byFile[o.File] = append(byFile[o.File], o)
	}
	sort.Strings(files)
	res := &Result{}
	for _, c := range loaded.Claimed {
		if !source.IsChart(c) {
			kr, err := Kustomization(c, checks, eopts, opts)
			if err != nil {
				return nil, err
			}
			res.Files = append(res.Files, kr.Files...)
			res.Applied = append(res.Applied, kr.Applied...)
			res.Pending = append(res.Pending, kr.Pending...)
			continue
		}
		cr, err := Chart(c, opts.Helm, checks, eopts, opts)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, cr.Files...)
		res.Applied = append(res.Applied, cr.Applied...)
		res.Pending = append(res.Pending, cr.Pending...)
	}
	var extras []generated
	quit := false
	// Each document is fixed on its own text, against the few objects a fix
	// for one object reads of the rest (Namespaces, ServiceAccounts,
	// bindings): a fix re-reads one document, not the file, and the checks
	// run over one object and its context, not over everything.
	ctx := contextObjects(loaded.Objects)
	// The fixable checks run once over everything read, as scan runs them;
	// each document starts from its share of the findings.
	var firstInv *inventory.Inventory
	firstFindings := map[*object.Object][]check.Finding{}
	inFile := map[string][]*object.Object{} // sorted by first line
	rootLine := map[*object.Object]int{}
	if opts.Confirm == nil {
		var plain []*manifest.Object
		for _, o := range loaded.Objects {
			if o.File != manifest.StdinName {
				plain = append(plain, o)
			}
		}
		firstInv = inventory.New(plain)
		byRef := map[string][]*object.Object{}
		for _, o := range firstInv.Objects {
			rootLine[o] = o.Locate("").Line
			inFile[o.File] = append(inFile[o.File], o)
			byRef[o.File+"|"+o.Kind+"|"+o.Namespace+"|"+o.Name] = append(byRef[o.File+"|"+o.Kind+"|"+o.Namespace+"|"+o.Name], o)
		}
		for _, f := range engine.Run(fixableOnly(checks), firstInv, eopts).Findings {
			if f.Location == nil {
				continue
			}
			// The object of that name in the file that starts last at or
			// before the finding's line.
			var owner *object.Object
			for _, o := range byRef[f.Location.File+"|"+f.Object.Kind+"|"+f.Object.Namespace+"|"+f.Object.Name] {
				if l := rootLine[o]; l <= f.Location.Line && (owner == nil || l > rootLine[owner]) {
					owner = o
				}
			}
			if owner != nil {
				firstFindings[owner] = append(firstFindings[owner], f)
			}
		}
		for _, list := range inFile {
			sort.SliceStable(list, func(a, b int) bool { return rootLine[list[a]] < rootLine[list[b]] })
		}
	}
	type job struct {
		file string
		ch   chunk
		// results
		after   string
		fixed   []*manifest.Object // parsed from after, for generation
		applied []Applied
		pending []Pending
		extras  []generated
	}
	type fileJobs struct {
		data    string
		restore func(string) string
		jobs    []*job
	}
	perFile := make([]fileJobs, len(files))
	var jobs []*job
	for i, file := range files {
		data, err := os.ReadFile(file) //nolint:gosec // a file the user asked to fix
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		text, restore := plainText(string(data))
		perFile[i] = fileJobs{data: string(data), restore: restore}
		for _, ch := range splitChunks(text) {
			j := &job{file: file, ch: ch}
			perFile[i].jobs = append(perFile[i].jobs, j)
			jobs = append(jobs, j)
		}
	}
	do := func(j *job) {
		if quit {
			j.after = j.ch.text
			if !opts.NoGenerate {
				j.fixed, _ = manifest.Parse(j.file, []byte(j.after))
			}
			return
		}
		// The first run's objects and findings of this document, when they
		// can serve: no fix among them reads the object (those work on the
		// document's own parse).
		var pre *firstRun
		var objs []*manifest.Object
		if firstInv != nil {
			pre = &firstRun{offset: j.ch.first - 1}
			alone := false
			fileObjs := inFile[j.file]
			from := sort.Search(len(fileObjs), func(i int) bool { return rootLine[fileObjs[i]] >= j.ch.first })
			for _, o := range fileObjs[from:] {
				if l := rootLine[o]; l >= j.ch.first+j.ch.lines {
					break
				} else if l >= j.ch.first {
					objs = append(objs, o.Object)
					for _, f := range firstFindings[o] {
						pre.found = append(pre.found, ownedFinding{f, o})
						alone = alone || madeAlone(f, opts)
					}
				}
			}
			if alone {
				pre = nil // a fix that reads the object: the document's own parse
			}
		}
		if pre == nil || len(objs) == 0 {
			pre = nil
			objs, _ = manifest.Parse(j.file, []byte(j.ch.text))
		} else {
			slices.SortStableFunc(pre.found, func(a, b ownedFinding) int { return engine.CompareFindings(a.f, b.f) })
		}
		// The context of this document's namespaces, not of its own lines.
		var docOthers []*manifest.Object
		for _, ns := range namespacesOf(objs) {
			for _, c := range ctx[ns] {
				if c.obj.File != j.file || c.line < j.ch.first || c.line >= j.ch.first+j.ch.lines {
					docOthers = append(docOthers, c.obj)
				}
			}
		}
		fr, applied, pending, more := fixFile(j.file, j.ch.text, objs, pre, docOthers, checks, eopts, &opts, &quit)
		if fr.After != j.ch.text && !parses(fr.After) {
			// An edit the editor got wrong (YAML it does not rewrite well):
			// the document is kept as it was, and its fixes are listed.
			for _, a := range applied {
				pending = append(pending, Pending{File: a.File, CheckID: a.CheckID, Object: a.Object, Reason: "the edit would leave YAML that does not parse; make it by hand: " + a.Message})
			}
			fr.After, applied, more = j.ch.text, nil, nil
		}
		j.after, j.applied, j.pending, j.extras = fr.After, applied, pending, more
		// What generation reads: the fixed document (the parse above when
		// nothing changed).
		switch {
		case opts.NoGenerate:
		case j.after == j.ch.text || !changesGeneration(applied):
			j.fixed = objs
		default:
			j.fixed, _ = manifest.Parse(j.file, []byte(j.after))
		}
	}
	if opts.Confirm != nil {
		for _, j := range jobs { // questions are asked in order
			do(j)
		}
	} else {
		// Documents are fixed on their own: one worker a processor.
		next := make(chan *job)
		var wg sync.WaitGroup
		for w := 0; w < goruntime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					do(j)
				}
			}()
		}
		for _, j := range jobs {
			next <- j
		}
		close(next)
		wg.Wait()
	}
	for i, file := range files {
		var parts []string
		for _, j := range perFile[i].jobs {
			parts = append(parts, j.after)
			res.Applied = append(res.Applied, j.applied...)
			res.Pending = append(res.Pending, j.pending...)
			extras = append(extras, j.extras...)
		}
		fr := FileResult{Name: file, Before: perFile[i].data, After: perFile[i].restore(strings.Join(parts, ""))}
		if fr.After != fr.Before {
			res.Files = append(res.Files, fr)
		}
	}
	if opts.NoGenerate {
		return res, nil
	}
	// Generate from the fixed files, so that new labels and ServiceAccount
	// names are taken into account.
	gen := opts.GeneratedFile
	if gen == "" {
		gen = GeneratedFileFor(paths)
	}
	var fixed []*manifest.Object
	for _, j := range jobs {
		fixed = append(fixed, j.fixed...)
	}
	manifest.SetDefaultNamespace(fixed, opts.Helm.Namespace) // as the scan reads them
	inv := inventory.New(fixed)
	// With --only, only what the chosen fixes create is generated.
	all := extras
	if len(opts.Only) == 0 {
		gens, applied, pending, err := judgeCuts(inv, generate(inv, filepath.Clean(gen)), opts.Breaking, gen)
		if err != nil {
			return nil, err
		}
		all = append(all, gens...)
		res.Applied = append(res.Applied, applied...)
		res.Pending = append(res.Pending, pending...)
	}
	if allowed("default-service-account", opts) {
		// ServiceAccounts named after their workload (what that check's fix
		// sets) that nothing defines: made by this run, or by an earlier one
		// whose generated file is gone.
		all = append(all, serviceAccountsFor(inv, filepath.Clean(gen))...)
	}
	// Objects an earlier run generated stay, so that a second run writes the
	// same file (a NetworkPolicy moved out of a Pod, say, cannot be derived
	// again once the Pod no longer holds it).
	for _, o := range inv.Objects {
		if filepath.Clean(o.File) == filepath.Clean(gen) && o.Typed != nil {
			var kept runtime.Object
			switch t := o.Typed.(type) {
			case *networkingv1.NetworkPolicy:
				kept = t.DeepCopy()
			case *corev1.ServiceAccount:
				kept = t.DeepCopy()
			}
			if kept == nil {
				continue
			}
			if o.ImplicitNamespace {
				// Written without a namespace; the scan put it in -n's.
				if m, ok := kept.(interface{ SetNamespace(string) }); ok {
					m.SetNamespace("")
				}
			}
			all = append(all, generated{obj: kept, reason: "kept from an earlier run"})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return key(all[i].obj) < key(all[j].obj) })
	all = dedupeGenerated(dropExisting(all, inv, filepath.Clean(gen), opts.Helm.Namespace))
	if len(all) == 0 {
		return res, nil
	}
	text, err := render(all)
	if err != nil {
		return nil, err
	}
	before := ""
	if data, err := os.ReadFile(gen); err == nil { //nolint:gosec // the generated file this command owns
		before = string(data)
	}
	if text != before {
		res.Files = append(res.Files, FileResult{Name: gen, Before: before, After: text})
	}
	for _, g := range all {
		res.Generated = append(res.Generated, key(g.obj)+": "+g.reason)
	}
	return res, nil
}

// dropExisting removes the objects a fix would create that the input already
// has (outside the generated file), in the namespace they would land in.
func dropExisting(gs []generated, inv *inventory.Inventory, generatedFile, defaultNS string) []generated {
	if defaultNS == "" {
		defaultNS = "default"
	}
	out := gs[:0]
	for _, g := range gs {
		m, ok := g.obj.(interface {
			GetName() string
			GetNamespace() string
		})
		kind := g.obj.GetObjectKind().GroupVersionKind().Kind
		if ok && kind != "" {
			ns := m.GetNamespace()
			if ns == "" {
				ns = defaultNS // applied with -n, like the input that names none
			}
			if o := inv.Find(kind, ns, m.GetName()); o != nil && filepath.Clean(o.File) != generatedFile {
				continue
			}
		}
		out = append(out, g)
	}
	return out
}

func dedupeGenerated(gs []generated) []generated {
	var out []generated
	seen := map[string]bool{}
	for _, g := range gs {
		if k := key(g.obj); !seen[k] {
			seen[k] = true
			out = append(out, g)
		}
	}
	return out
}

// serviceAccountsFor generates the ServiceAccounts workloads name that the
// scan does not have, when the name is the workload's own (set by the
// default-service-account fix).
func serviceAccountsFor(inv *inventory.Inventory, generatedFile string) []generated {
	var out []generated
	for _, ns := range inv.WorkloadNamespaces() {
		for _, w := range inv.Workloads(ns) {
			name := w.Pod.Spec.ServiceAccountName
			if name == "" || name != strings.ToLower(w.Name) {
				continue
			}
			if sa, ok := inv.ServiceAccount(ns, name); ok {
				if o := objectOfSA(inv, sa); o == nil || o.File != generatedFile {
					continue
				}
			}
			saNS := ns
			if w.ImplicitNamespace {
				saNS = "" // where the workload is applied (-n)
			}
			out = append(out, generated{serviceAccount(saNS, name), w.Kind + " " + w.Name + " ran as the default ServiceAccount", ns})
		}
	}
	return out
}

func objectOfSA(inv *inventory.Inventory, sa *corev1.ServiceAccount) *object.Object {
	for _, o := range inv.Objects {
		if o.Typed == sa {
			return o
		}
	}
	return nil
}

type contextObject struct {
	obj  *manifest.Object
	line int // where it starts in its file
}

// contextKinds are what a fix for one object reads of the others: the
// Namespace's Pod Security labels, whether a ServiceAccount exists, whether a
// binding grants it anything.
var contextKinds = map[string]bool{"Namespace": true, "ServiceAccount": true, "RoleBinding": true, "ClusterRoleBinding": true}

// contextObjects are the objects fixes read as context, with their first
// line, by the namespace they concern ("*" for ClusterRoleBindings, which
// concern every namespace; a Namespace under its own name).
func contextObjects(objs []*manifest.Object) map[string][]contextObject {
	out := map[string][]contextObject{}
	for _, o := range objs {
		if !contextKinds[o.Kind] || o.Typed == nil {
			continue
		}
		ns := o.Namespace
		switch o.Kind {
		case "Namespace":
			ns = o.Name
		case "ClusterRoleBinding":
			ns = "*"
		}
		out[ns] = append(out[ns], contextObject{obj: o, line: o.Locate("").Line})
	}
	return out
}

// namespacesOf lists the namespaces whose context objs need: theirs ("" and
// "default" for objects that name none) and "*".
func namespacesOf(objs []*manifest.Object) []string {
	seen := map[string]bool{"*": true}
	out := []string{"*"}
	for _, o := range objs {
		for _, ns := range []string{o.Namespace, "default"} {
			if o.Namespace != "" && ns == "default" {
				continue
			}
			if !seen[ns] {
				seen[ns] = true
				out = append(out, ns)
			}
		}
	}
	return out
}

type chunk struct {
	text         string
	first, lines int // first line in the file (1-based), and how many
}

// splitChunks cuts a file's text into its documents at "---" lines (the
// marker starts the next chunk); joined, the chunks are the text.
func splitChunks(text string) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i < len(text); {
		end := strings.IndexByte(text[i:], '\n')
		next := len(text)
		if end >= 0 {
			next = i + end + 1
		}
		l := text[i:next]
		if i > start && strings.HasPrefix(l, "---") && (len(l) == 3 || strings.ContainsAny(l[3:4], " \t\r\n")) {
			out = append(out, chunk{text: text[start:i], first: startLine, lines: line - startLine})
			start, startLine = i, line
		}
		i = next
		line++
	}
	if start < len(text) || len(out) == 0 {
		out = append(out, chunk{text: text[start:], first: startLine, lines: line - startLine})
	}
	return out
}

// plainText strips a byte order mark and turns CRLF line ends into LF, the
// text edits are made on; restore gives the edited text the file's own BOM
// and line ends back (a file with CRLF anywhere is written with CRLF), and
// gives back the original bytes when nothing changed.
func plainText(orig string) (string, func(string) string) {
	text := strings.TrimPrefix(orig, "\ufeff")
	bom := len(text) != len(orig)
	crlf := strings.Contains(text, "\r\n")
	// Classic Mac files end lines with a lone CR (YAML allows it).
	cr := !crlf && !strings.Contains(text, "\n") && strings.Contains(text, "\r")
	switch {
	case crlf:
		text = strings.ReplaceAll(text, "\r\n", "\n")
	case cr:
		text = strings.ReplaceAll(text, "\r", "\n")
	}
	plain := text
	return text, func(s string) string {
		if s == plain {
			return orig
		}
		switch {
		case crlf:
			s = strings.ReplaceAll(s, "\n", "\r\n")
		case cr:
			s = strings.ReplaceAll(s, "\n", "\r")
		}
		if bom {
			s = "\ufeff" + s
		}
		return s
	}
}

// fixFile applies one fix at a time, re-reading the file after each, until
// no fixable finding is left: edits never overlap, and running it again
// changes nothing.
func fixFile(name, src string, parsed []*manifest.Object, pre *firstRun, others []*manifest.Object, checks []check.Check, eopts engine.Options, opts *Options, quit *bool) (FileResult, []Applied, []Pending, []generated) {
	fr := FileResult{Name: name, Before: src, After: src}
	var applied []Applied
	var extras []generated
	done := map[string]bool{} // findings given up on
	pending := map[string]Pending{}
	fixable := fixableOnly(checks)
	eopts.Fixes = true
	for iter := 0; iter < 500 && !*quit; iter++ {
		var findings []check.Finding
		var owners []*object.Object
		offset := 0 // of the positions findings and objects carry, in lines
		if iter == 0 && pre != nil {
			offset = pre.offset
			for _, of := range pre.found {
				findings, owners = append(findings, of.f), append(owners, of.owner)
			}
		} else {
			objs := parsed // the caller's parse of src, the first time
			if iter > 0 || objs == nil || pre != nil {
				var errs []manifest.InputError
				if objs, errs = manifest.Parse(name, []byte(fr.After)); len(errs) > 0 {
					break // an edit broke the file: keep what was valid before it
				}
			}
			inv := inventory.New(append(append([]*manifest.Object{}, objs...), others...))
			mine := make(map[*manifest.Object]bool, len(objs))
			for _, o := range objs {
				mine[o] = true
			}
			eopts.Target = func(o *manifest.Object) bool { return mine[o] } // the rest is context
			findings = engine.Run(fixable, inv, eopts).Findings
			owners = make([]*object.Object, len(findings))
			for i, f := range findings {
				owners[i] = objectOf(inv, f)
			}
		}
		progressed, deferred := false, false
		// One parse and one run of the checks serve every fix of an object
		// that edits by field path alone (a batch, made on one parse of the
		// text); a fix that reads the object (its volumes, its list
		// indices) comes alone, first.
		batchRoot := -1
		var queue []queued
		for fi, f := range findings {
			if f.Location == nil || f.Location.File != name || !allowed(f.CheckID, *opts) {
				continue
			}
			key := f.CheckID + "|" + f.Object.String() + "|" + f.Field
			o := owners[fi]
			if done[key] || o == nil {
				continue
			}
			r, ok := recipeOf(f)
			if !ok {
				continue
			}
			if r.breaking && !opts.Breaking {
				pending[key] = Pending{File: name, CheckID: f.CheckID, Object: f.Object.String(), Reason: "breaking fix; run with --breaking: " + r.message}
				done[key] = true
				continue
			}
			if opts.Confirm != nil {
				switch opts.Confirm(Applied{File: name, CheckID: f.CheckID, Object: f.Object.String(), Message: r.message, Breaking: r.breaking}) {
				case No:
					pending[key] = Pending{File: name, CheckID: f.CheckID, Object: f.Object.String(), Reason: "declined"}
					done[key] = true
					continue
				case All:
					opts.Confirm = nil
				case Quit:
					*quit = true
				}
				if *quit {
					break
				}
			}
			rootLine := o.Locate("").Line - offset
			if len(queue) == 0 && readsObject(f, r) {
				// Alone: it reads the object, which the others would change.
				next, changed, lastErr := applySequential(fr.After, rootLine, r.sets)
				if !changed {
					pending[key] = Pending{File: name, CheckID: f.CheckID, Object: f.Object.String(), Reason: reasonUnchanged(lastErr)}
					done[key] = true
					continue
				}
				fr.After = next
				extras = append(extras, r.extra...)
				applied = append(applied, r.applied(name, f))
				done[key] = true
				progressed, deferred = true, true
				break // positions and the object moved: read the file again
			}
			if len(queue) > 0 && (rootLine != batchRoot || readsObject(f, r) || r.later) {
				deferred = true
				continue // after the edits of this batch, with new positions
			}
			batchRoot = rootLine
			queue = append(queue, queued{key: key, f: f, r: r})
		}
		if len(queue) > 0 {
			progressed = true
			made, undecided := fr.After, false
			results := make([]bool, len(queue))
			alt0 := make([][]set, len(queue))
			for i, q := range queue {
				alt0[i] = q.r.sets[0]
			}
			next, changed, ok := applyBatch(fr.After, batchRoot, alt0)
			if ok && changed[0] {
				made, results = next, changed
			} else {
				// One at a time, as the recipes' alternatives need: the
				// first with all of them, the rest with their first only (a
				// later alternative is for when an earlier one does not
				// apply, which only a fresh run of the checks can tell).
				for i, q := range queue {
					alts := q.r.sets
					if i > 0 {
						alts = alts[:1]
					}
					out, ch, lastErr := applySequential(made, batchRoot, alts)
					if ch {
						made, results[i] = out, true
					} else if i == 0 {
						pending[q.key] = Pending{File: name, CheckID: q.f.CheckID, Object: q.f.Object.String(), Reason: reasonUnchanged(lastErr)}
						done[q.key] = true
					}
				}
			}
			for i, q := range queue {
				switch {
				case results[i]:
					extras = append(extras, q.r.extra...)
					applied = append(applied, q.r.applied(name, q.f))
					done[q.key] = true
				case i > 0:
					undecided = true // an earlier fix of the batch may have made it: judged again
				}
			}
			fr.After = made
			deferred = deferred || undecided || !results[0] || createsFindings(applied)
		}
		if !progressed || !deferred {
			// Nothing left that this run of the checks could not judge:
			// every finding was fixed, given up on or left pending.
			break
		}
	}
	var ps []Pending
	for _, p := range pending {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Object+ps[i].CheckID < ps[j].Object+ps[j].CheckID })
	return fr, applied, ps, extras
}

// fixableOnly are the checks with a fix: the only ones fix runs.
func fixableOnly(checks []check.Check) []check.Check {
	var out []check.Check
	for _, c := range checks {
		if c.Fix != nil {
			out = append(out, c)
		}
	}
	return out
}

// readsObject reports a fix that must see the object as the previous fixes
// left it: its check says so (it read more of the object than it edits), or
// it edits by list index.
func readsObject(f check.Finding, r recipe) bool {
	return r.alone || strings.HasSuffix(f.Field, "]")
}

// firstRun is a document's share of the run of the fixable checks over
// everything read: its findings with the object each is on, positions in
// the file (offset lines before the document's text).
type firstRun struct {
	found  []ownedFinding
	offset int
}

type ownedFinding struct {
	f     check.Finding
	owner *object.Object
}

// createsFindings reports fixes after which the checks must run again (a
// dedicated ServiceAccount brings its own token-mounting finding).
func createsFindings(applied []Applied) bool {
	for _, a := range applied {
		if a.rescan {
			return true
		}
	}
	return false
}

// parses reports whether text is YAML that parses, every document of it.
func parses(text string) bool {
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// changesGeneration reports fixes that change what generation reads (a
// ServiceAccount name, pod labels and the policy moved out of a Pod, host
// networking, which NetworkPolicies do not govern): only after those is a
// fixed document parsed again for it. The others (security contexts,
// resources, token mounting, volumes and mounts) leave generation's input as
// it was.
func changesGeneration(applied []Applied) bool {
	for _, a := range applied {
		if a.regenerate {
			return true
		}
	}
	return false
}

// madeAlone reports a finding whose fix will be made alone, on the
// document's own parse: one that reads the object, unless it is a breaking
// fix that will only be listed.
func madeAlone(f check.Finding, opts Options) bool {
	r, ok := recipeOf(f)
	if !ok || !readsObject(f, r) || !allowed(f.CheckID, opts) {
		return false
	}
	return !r.breaking || opts.Breaking
}

// applied is the record of r made on finding f in file.
func (r recipe) applied(file string, f check.Finding) Applied {
	return Applied{File: file, CheckID: f.CheckID, Object: f.Object.String(), Message: r.message, Breaking: r.breaking,
		rescan: r.rescan, regenerate: r.regenerate}
}

// queued is a fix accepted for the batch of this run of the checks.
type queued struct {
	key string
	f   check.Finding
	r   recipe
}

// applySequential makes a recipe set by set, trying its alternatives in
// order until one changes the text.
func applySequential(src string, rootLine int, alts [][]set) (string, bool, error) {
	var lastErr error
	for _, alt := range alts {
		cur, edited := src, false
		for _, s := range alt {
			out, ch, err := set1(cur, rootLine, s)
			if err != nil {
				lastErr = err
				break
			}
			cur, edited = out, edited || ch
		}
		if edited {
			return cur, true, nil
		}
	}
	return src, false, lastErr
}

func reasonUnchanged(err error) string {
	if err != nil {
		return err.Error()
	}
	return "the fix changed nothing"
}

func objectOf(inv *inventory.Inventory, f check.Finding) *object.Object {
	for _, o := range inv.Objects {
		if o.File == f.Location.File && o.Kind == f.Object.Kind && o.Name == f.Object.Name && o.Namespace == f.Object.Namespace {
			return o
		}
	}
	return nil
}

func set1(src string, rootLine int, s set) (string, bool, error) {
	switch s.Op {
	case opDelete:
		return Delete(src, rootLine, s.Path)
	case opAppend:
		return Append(src, rootLine, s.Path, s.Value)
	}
	return setField(src, rootLine, s.Path, s.Value, s.IfMissing)
}
