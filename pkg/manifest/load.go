package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Limits that keep strange input from costing unbounded time or memory.
const (
	// MaxDepth is the deepest nesting accepted in a document. Real manifests
	// stay far below it; CRD schemas reach about 40.
	MaxDepth = 128
	// MaxNodes bounds the nodes of one document after alias expansion, which
	// stops "billion laughs" documents before anything is decoded.
	MaxNodes = 2_000_000
)

// StdinName is the file name given to objects read from standard input.
const StdinName = "<stdin>"

// InputError is a problem with the input itself: an unreadable file, YAML that
// does not parse, a document that is not a Kubernetes object. The rest of the
// input is still read.
type InputError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Message)
}

// Options tune Load.
type Options struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// MaxDocumentSize overrides DefaultMaxDocumentSize when positive.
	MaxDocumentSize int64
	// Workers is the number of files parsed at once; GOMAXPROCS when zero.
	Workers int
	// Claim, when set, is asked about every folder a walk meets (and every
	// path given): a folder or file it claims (a Helm chart, a kustomization)
	// is not read as plain manifests but listed in Result.Claimed.
	Claim func(path string) bool
	// Skip, when set, is asked about every file a walk meets: a file it
	// skips (one a kustomization reads) is not read as a plain manifest.
	Skip func(path string) bool
}

// Result is what Load read.
type Result struct {
	Objects []*Object
	Errors  []InputError
	// Notices are things a user should know that are not errors: files a
	// walk passed over, files no kustomization lists.
	Notices []InputError
	// Files is the number of files read (stdin counts as one).
	Files int
	// Claimed are the paths Options.Claim took, in walk order.
	Claimed []string
}

// Load reads every path: a file, a folder (recursively, .yaml, .yml and .json
// files, hidden files and folders skipped) or "-" for stdin. Objects come out in a
// stable order: files in walk order, then document order. A path given twice
// is read once.
func Load(paths []string, opts Options) *Result {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	res := &Result{}
	var files []string
	seen := map[string]bool{}
	for _, p := range paths {
		fs, claimed, errs, notices := expand(p, opts.Claim)
		for _, f := range fs {
			key := f
			if f != StdinName {
				if abs, err := filepath.Abs(f); err == nil {
					key = abs
				}
			}
			// A file named on the command line is read whatever Skip says.
			if seen[key] || (opts.Skip != nil && f != p && opts.Skip(f)) {
				continue
			}
			seen[key] = true
			files = append(files, f)
		}
		for _, c := range claimed {
			key, _ := filepath.Abs(c)
			if !seen[key] {
				seen[key] = true
				res.Claimed = append(res.Claimed, c)
			}
		}
		res.Errors = append(res.Errors, errs...)
		res.Notices = append(res.Notices, notices...)
	}
	type out struct {
		objs []*Object
		errs []InputError
	}
	outs := make([]out, len(files))
	var wg sync.WaitGroup
	var cursor atomic.Int64 // workers take files in order from a shared counter
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(cursor.Add(1)) - 1
				if i >= len(files) {
					return
				}
				outs[i].objs, outs[i].errs = readFile(files[i], opts)
			}
		}()
	}
	wg.Wait()
	res.Files = len(files)
	for _, o := range outs {
		res.Objects = append(res.Objects, o.objs...)
		res.Errors = append(res.Errors, o.errs...)
	}
	return res
}

// inMemory is the size up to which a file is read whole; larger files and
// everything else (stdin, pipes) are streamed.
const inMemory = 64 << 20

// readFile parses one file (or stdin) as a stream.
func readFile(name string, opts Options) ([]*Object, []InputError) {
	fail := func(msg string) ([]*Object, []InputError) {
		return nil, []InputError{{File: name, Message: msg}}
	}
	var r io.Reader
	if name == StdinName {
		if opts.Stdin == nil {
			return fail("cannot read: no standard input")
		}
		r = opts.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fail(describeFSError(err))
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			return fail("cannot read: is a directory")
		}
		if err == nil && st.Mode().IsRegular() && st.Size() <= inMemory {
			// An ordinary file is read whole and cut into documents in place.
			data := make([]byte, st.Size())
			if _, err := io.ReadFull(f, data); err != nil {
				return fail(describeFSError(err))
			}
			ms := newMemStream(name, data)
			if opts.MaxDocumentSize > 0 {
				ms.maxDoc = opts.MaxDocumentSize
			}
			return ms.run()
		}
		r = f
	}
	return ParseReader(name, r, opts.MaxDocumentSize)
}

// expand turns one path argument into the files to read. A path named
// explicitly is read whatever it is (a pipe from process substitution, say);
// in a walk, only regular files and links to them are.
func expand(p string, claim func(string) bool) (files, claimed []string, errs, notices []InputError) {
	if p == "-" {
		return []string{StdinName}, nil, nil, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, nil, []InputError{{File: p, Message: describeFSError(err)}}, nil
	}
	if claim != nil && claim(p) {
		return nil, []string{p}, nil, nil
	}
	if !info.IsDir() {
		return []string{p}, nil, nil, nil
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, InputError{File: path, Message: describeFSError(err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != p && strings.HasPrefix(name, ".") {
				return fs.SkipDir
			}
			if path != p && claim != nil && claim(path) {
				claimed = append(claimed, path)
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") {
			return nil // hidden files (.rampart.yaml, editor droppings) are not manifests
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		t := d.Type()
		if t&fs.ModeSymlink != 0 {
			st, err := os.Stat(path)
			if err != nil {
				files = append(files, path) // a broken link: reading it says why
				return nil
			}
			t = st.Mode().Type()
		}
		switch {
		case t.IsRegular():
			files = append(files, path)
		case t.IsDir():
		default:
			notices = append(notices, InputError{File: path, Message: "skipped: " + specialKind(t) + ", not a regular file (name it explicitly to read it)"})
		}
		return nil
	})
	if err != nil {
		errs = append(errs, InputError{File: p, Message: describeFSError(err)})
	}
	return files, claimed, errs, notices
}

func specialKind(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0, t&fs.ModeCharDevice != 0:
		return "a device file"
	}
	return "a special file"
}

func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "cannot read: " + err.Error()
}

// newObject builds an Object from a mapping node, decoding built-in kinds.
func newObject(name string, doc, item int, n *yaml.Node, idx positions, offset int) (*Object, *InputError) {
	where := fmt.Sprintf("document %d", doc+1)
	if item >= 0 {
		where = fmt.Sprintf("item %d of document %d", item+1, doc+1)
	}
	if n.Kind != yaml.MappingNode {
		return nil, &InputError{File: name, Line: n.Line + offset, Message: where + " is " + kindName(n) + ", not a Kubernetes object; skipped"}
	}
	apiVersion := nodeString(mapGet(n, "apiVersion"))
	kind := nodeString(mapGet(n, "kind"))
	if apiVersion == "" || kind == "" {
		var missing []string
		if apiVersion == "" {
			missing = append(missing, "apiVersion")
		}
		if kind == "" {
			missing = append(missing, "kind")
		}
		line, _ := idx.locatePath("")
		return nil, &InputError{File: name, Line: line + offset, Message: where + " has no " + strings.Join(missing, " and ") + "; skipped"}
	}
	meta := mapGet(n, "metadata")
	o := &Object{
		APIVersion: apiVersion,
		Kind:       kind,
		Namespace:  nodeString(mapGet(meta, "namespace")),
		Name:       nodeString(mapGet(meta, "name")),
		File:       name,
		Doc:        doc,
		Item:       item,
		pos:        idx,
		lineOffset: offset,
	}
	if gv, err := schema.ParseGroupVersion(apiVersion); err == nil && gv.Group != "apiextensions.k8s.io" {
		// CustomResourceDefinitions are not decoded: no check reads their
		// schemas, which are the largest objects of most bundles (a
		// dependency registers their types in the client-go scheme).
		if typed, err := scheme.Scheme.New(gv.WithKind(kind)); err == nil {
			d := decoder{offset: offset, strict: true}
			d.decode(n, reflectValue(typed), nil)
			o.Typed = typed
			o.SchemaErrors = d.errs
			for _, e := range validate(typed) {
				e.Line, e.Column = idx.locatePath(e.Path)
				e.Line += offset
				o.SchemaErrors = append(o.SchemaErrors, e)
			}
			if o.Name == "" && nodeString(mapGet(meta, "generateName")) != "" {
				o.Name = nodeString(mapGet(meta, "generateName"))
			}
		} else if path, msg := unknownBuiltinKind(gv, kind); msg != "" {
			e := FieldError{Path: path, Message: msg}
			e.Line, e.Column = idx.locatePath(path)
			e.Line += offset
			o.SchemaErrors = append(o.SchemaErrors, e)
		}
	}
	if o.Typed != nil && len(o.SchemaErrors) > 0 {
		// What the typed object dropped (an unknown field) stays readable
		// for the fix that moves it where it belongs; such objects are few.
		o.node = n
	}
	if o.Typed == nil {
		// Kinds it does not know keep what can be read of them later: an
		// embedded pod template (the whole tree), a CRD's scope, and
		// metadata; not the rest (a CRD's schema can be megabytes, and a
		// kustomize tree emits it once per root).
		o.node = keepOf(n, kind)
	}
	return o, nil
}

// Decode fills out (a pointer) from the object's node at path without
// recording schema errors. It is how embedded pod templates of unknown kinds
// are read.
func (o *Object) Decode(path string, out any) bool {
	return o.decodeAt(path, out, false)
}

// DecodeStrict is Decode that fails on anything strict decoding reports: a
// value of the wrong type, an unknown or duplicate field. What a fix moves
// must be read whole or not at all.
func (o *Object) DecodeStrict(path string, out any) bool {
	return o.decodeAt(path, out, true)
}

func (o *Object) decodeAt(path string, out any, strict bool) bool {
	if o.node == nil {
		return false
	}
	n := o.node
	for _, s := range ParsePath(path) {
		if s.Index >= 0 {
			n = deref(n)
			if n.Kind != yaml.SequenceNode || s.Index >= len(n.Content) {
				return false
			}
			n = n.Content[s.Index]
			continue
		}
		n = mapGet(n, s.Key)
		if n == nil {
			return false
		}
	}
	d := decoder{strict: strict}
	d.decode(n, reflectValue(out), nil)
	return len(d.errs) == 0
}

// SortErrors orders input errors by file and line.
func SortErrors(errs []InputError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
}

// keepOf returns the part of an unknown kind's node tree worth keeping.
func keepOf(n *yaml.Node, kind string) *yaml.Node {
	if hasKey(n, "containers", 7) {
		return n
	}
	keep := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "apiVersion", "kind", "metadata":
			keep.Content = append(keep.Content, n.Content[i], n.Content[i+1])
		case "status":
			// A custom resource's status is kept when small (a Gateway's
			// addresses); a CRD's is not.
			if kind != "CustomResourceDefinition" && countNodes(n.Content[i+1], maxKeptSpecNodes) < maxKeptSpecNodes {
				keep.Content = append(keep.Content, n.Content[i], n.Content[i+1])
			}
		case "spec":
			if kind != "CustomResourceDefinition" {
				// A custom resource's spec is kept when small (the
				// credential checks read its strings); a CRD's is not.
				if countNodes(n.Content[i+1], maxKeptSpecNodes) < maxKeptSpecNodes {
					keep.Content = append(keep.Content, n.Content[i], n.Content[i+1])
				}
				continue
			}
			spec := deref(n.Content[i+1])
			small := &yaml.Node{Kind: yaml.MappingNode, Line: spec.Line, Column: spec.Column}
			for j := 0; j+1 < len(spec.Content); j += 2 {
				switch spec.Content[j].Value {
				case "group", "scope", "names":
					small.Content = append(small.Content, spec.Content[j], spec.Content[j+1])
				}
			}
			keep.Content = append(keep.Content, n.Content[i], small)
		}
	}
	return keep
}

// maxKeptSpecNodes bounds the spec kept of an object of an unknown kind.
const maxKeptSpecNodes = 4096

// countNodes counts the nodes under n, stopping at limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 1
	for _, c := range n.Content {
		if count >= limit {
			break
		}
		count += countNodes(c, limit-count)
	}
	return count
}

// Strings calls fn with the path, key and value of every string under path
// in an object of a kind the scheme does not know (what it kept of it).
// Keys of mappings are passed as key; list items get their list's key.
func (o *Object) Strings(path string, fn func(path, key, value string)) {
	if o.node == nil {
		return
	}
	n := mapGet(o.node, path)
	if n == nil {
		return
	}
	walkStrings(n, path, path, fn, 0)
}

func walkStrings(n *yaml.Node, path, key string, fn func(path, key, value string), depth int) {
	n = deref(n)
	if depth > 64 {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Tag == "" {
			fn(path, key, n.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			walkStrings(n.Content[i+1], JoinKey(path, k), k, fn, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkStrings(c, path+"["+strconv.Itoa(i)+"]", key, fn, depth+1)
		}
	}
}

// hasKey reports whether a mapping under n, at most depth levels down, has key.
func hasKey(n *yaml.Node, key string, depth int) bool {
	n = deref(n)
	if depth < 0 {
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key || hasKey(n.Content[i+1], key, depth-1) {
				return true
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if hasKey(c, key, depth-1) {
				return true
			}
		}
	}
	return false
}
