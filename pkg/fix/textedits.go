package fix

import (
	"os"
	goruntime "runtime"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/secret"
)

// TextEdits fills in the text edits of the fixes findings carry (computed by
// their checks, engine.Options.Fixes): for each fix, the lines of the
// finding's file it replaces and with what, each fix on the file as it was
// read. This is what SARIF's fixes hold, for code-scanning tools to offer.
//
// Only plain manifest files get them: skip says which files not to touch (a
// chart's templates, a kustomization's resources; fix writes values and
// patches there). A fix whose edits cannot be made (YAML the editor does not
// rewrite), that creates objects in another file, whose new lines would
// show a credential value, or, for a finding with alternatives, that
// resolved finds does not resolve it on its own (an alternative that needs
// the next one), gets none. Files are read once, in parallel.
//
// resolved, when set, reports whether f is gone from doc (the document's
// text after the fix, named file); the caller judges it with the check.
func TextEdits(findings []check.Finding, skip func(file string) bool, resolved func(file, doc string, f *check.Finding) bool) {
	byFile := map[string][]int{}
	var files []string
	for i := range findings {
		f := &findings[i]
		if len(f.Fixes) == 0 || f.Location == nil || f.Location.File == "" || f.Location.File == manifest.StdinName {
			continue
		}
		if skip != nil && skip(f.Location.File) {
			continue
		}
		if _, ok := byFile[f.Location.File]; !ok {
			files = append(files, f.Location.File)
		}
		byFile[f.Location.File] = append(byFile[f.Location.File], i)
	}
	var wg sync.WaitGroup
	next := make(chan string)
	for w := 0; w < goruntime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for file := range next {
				textEditsInFile(file, findings, byFile[file], resolved)
			}
		}()
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
}

// textEditsInFile computes the text edits of the findings (indexes) of file.
func textEditsInFile(file string, findings []check.Finding, which []int, resolved func(file, doc string, f *check.Finding) bool) {
	data, err := os.ReadFile(file) //nolint:gosec // a file the scan read
	if err != nil {
		return
	}
	orig := string(data)
	if strings.Count(orig, "\r") != strings.Count(orig, "\r\n") {
		return // old Mac line ends: fix handles them, text edits do not
	}
	plain, _ := plainText(orig)
	crlf := strings.Contains(orig, "\r\n")
	chunks := splitChunks(plain)
	type parsed struct {
		t    *text
		docs []*yaml.Node
	}
	cache := make([]*parsed, len(chunks)) // each chunk parsed once, for all its fixes
	for _, i := range which {
		f := &findings[i]
		ci := chunkAt(chunks, f.Location.Line)
		if ci < 0 {
			continue
		}
		ch := chunks[ci]
		if cache[ci] == nil {
			cache[ci] = &parsed{t: newText(ch.text), docs: parseDocuments(ch.text)}
		}
		line := f.Location.Line - ch.first + 1 // in the chunk
		root := objectRoot(cache[ci].docs, f.Object.Kind, f.Object.Name, line)
		if root == nil {
			continue
		}
		for k := range f.Fixes {
			fx := &f.Fixes[k]
			if len(fx.Creates) > 0 || len(fx.Edits) == 0 {
				continue
			}
			// One batch on the shared parse when the edits allow it (sets),
			// else one edit at a time on the text.
			// The batch editor's output is held to the sequential one's by
			// TestBatchEqualsSequential; what the sequential editor makes is
			// parsed again before it is offered.
			after, changed, ok := applyBatchOn(ch.text, cache[ci].t, root, [][]set{fx.Edits})
			if !ok {
				var ch1 bool
				after, ch1, _ = applySequential(ch.text, root.Content[0].Line, [][]set{fx.Edits})
				if ch1 && !parses(after) {
					continue
				}
				changed = []bool{ch1}
			}
			// An alternative may be there for when an earlier one is not
			// enough; a finding's only fix is made to resolve it (and held
			// to it by TestTextEditsMakeTheFix and the corpus).
			if !changed[0] || (resolved != nil && len(f.Fixes) > 1 && !resolved(file, after, f)) {
				continue
			}
			if te, ok := lineChange(file, ch, after, crlf); ok {
				fx.TextEdits = []check.TextEdit{te}
			}
		}
	}
}

// objectRoot returns the root mapping of the document of docs that holds
// line and is the object kind/name, or nil.
func objectRoot(docs []*yaml.Node, kind, name string, line int) *yaml.Node {
	var found *yaml.Node
	for _, d := range docs {
		if d.Kind != yaml.MappingNode || len(d.Content) == 0 || d.Content[0].Line > line {
			continue
		}
		if scalarAt(d, "kind") == kind && scalarAt(d, "metadata.name") == name {
			found = d
		}
	}
	return found
}

// scalarAt is the scalar value at path in root, or "".
func scalarAt(root *yaml.Node, path string) string {
	n, rest := lookup(root, manifest.ParsePath(path))
	if len(rest) > 0 || n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// chunkAt returns the index of the chunk that holds line, or -1.
func chunkAt(chunks []chunk, line int) int {
	for i, c := range chunks {
		if line >= c.first && line < c.first+c.lines {
			return i
		}
	}
	return -1
}

// lineChange is the one edit, in whole lines, that turns chunk ch into
// after: the lines between their common first and last lines. It is refused
// when a new line would show a credential value.
func lineChange(file string, ch chunk, after string, crlf bool) (check.TextEdit, bool) {
	a, b := strings.SplitAfter(ch.text, "\n"), strings.SplitAfter(after, "\n")
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	added := b[p : len(b)-s]
	if p < len(a)-s && len(added) > 0 {
		// Lines rewritten, not only inserted (a fix's inserted keys hold
		// its own values): they may hold a credential.
		redacted := secret.Lines(b)
		for i := p; i < len(b)-s; i++ {
			if redacted[i] != b[i] {
				return check.TextEdit{}, false
			}
		}
	}
	newText := strings.Join(added, "")
	if crlf {
		newText = strings.ReplaceAll(newText, "\n", "\r\n")
	}
	te := check.TextEdit{File: file, Line: ch.first + p, Column: 1, EndLine: ch.first + len(a) - s, EndColumn: 1, NewText: newText}
	if last := a[len(a)-1]; len(a)-s == len(a) && !strings.HasSuffix(last, "\n") && last != "" {
		// replaced through the end of a file without a final newline
		te.EndLine, te.EndColumn = ch.first+len(a)-1, utf16Len(last)+1
	}
	return te, true
}

// utf16Len is the length of s in UTF-16 code units, SARIF's default column
// unit.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// Resolver is what TextEdits asks whether a fix resolved its finding: the
// finding's check, run on the edited document alone with opts, no longer
// reports it (the same object, field and message).
func Resolver(checks []check.Check, opts engine.Options) func(file, doc string, f *check.Finding) bool {
	byID := make(map[string][]check.Check, len(checks))
	for _, c := range checks {
		byID[c.ID] = []check.Check{c}
	}
	opts.Fixes, opts.Suppress, opts.Target, opts.Workers = false, nil, nil, 1
	return func(file, doc string, f *check.Finding) bool {
		c, ok := byID[f.CheckID]
		if !ok {
			return false
		}
		objs, errs := manifest.Parse(file, []byte(doc))
		if len(errs) > 0 {
			return false
		}
		for _, g := range engine.Run(c, inventory.New(objs), opts).Findings {
			if g.Object.Kind == f.Object.Kind && g.Object.Name == f.Object.Name && g.Field == f.Field && g.Message == f.Message {
				return false
			}
		}
		return true
	}
}
