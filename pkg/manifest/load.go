package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Limits that keep strange input from costing unbounded time or memory.
const (
	// DefaultMaxFileSize is the largest file read; larger ones are input errors.
	DefaultMaxFileSize = 32 << 20
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
	// MaxFileSize overrides DefaultMaxFileSize when positive.
	MaxFileSize int64
	// Workers is the number of files parsed at once; GOMAXPROCS when zero.
	Workers int
	// Claim, when set, is asked about every folder a walk meets (and every
	// path given): a folder or file it claims (a Helm chart, a kustomization)
	// is not read as plain manifests but listed in Result.Claimed.
	Claim func(path string) bool
}

// Result is what Load read.
type Result struct {
	Objects []*Object
	Errors  []InputError
	// Files is the number of files read (stdin counts as one).
	Files int
	// Claimed are the paths Options.Claim took, in walk order.
	Claimed []string
}

// Load reads every path: a file, a folder (recursively, .yaml, .yml and .json
// files, hidden files and folders skipped) or "-" for stdin. Objects come out in a
// stable order: files in walk order, then document order.
func Load(paths []string, opts Options) *Result {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	res := &Result{}
	var files []string
	for _, p := range paths {
		fs, claimed, errs := expand(p, opts.Claim)
		files = append(files, fs...)
		res.Claimed = append(res.Claimed, claimed...)
		res.Errors = append(res.Errors, errs...)
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
				data, err := readFile(files[i], opts)
				if err != nil {
					outs[i].errs = []InputError{{File: files[i], Message: err.Error()}}
					continue
				}
				outs[i].objs, outs[i].errs = Parse(files[i], data)
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

// expand turns one path argument into the files to read.
func expand(p string, claim func(string) bool) ([]string, []string, []InputError) {
	if p == "-" {
		return []string{StdinName}, nil, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, nil, []InputError{{File: p, Message: describeFSError(err)}}
	}
	if claim != nil && claim(p) {
		return nil, []string{p}, nil
	}
	if !info.IsDir() {
		return []string{p}, nil, nil
	}
	var files, claimed []string
	var errs []InputError
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
			if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, InputError{File: p, Message: describeFSError(err)})
	}
	return files, claimed, errs
}

func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "cannot read: " + err.Error()
}

func readFile(name string, opts Options) ([]byte, error) {
	var r io.Reader
	var hint int64
	if name == StdinName {
		if opts.Stdin == nil {
			return nil, errors.New("cannot read: no standard input")
		}
		r = opts.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, errors.New(describeFSError(err))
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			return nil, errors.New("cannot read: is a directory")
		}
		if err == nil && st.Mode().IsRegular() {
			hint = st.Size()
		}
		r = f
	}
	return readLimited(r, hint, opts.MaxFileSize)
}

// readLimited reads r to the end into a buffer sized from hint, failing once
// it holds more than limit bytes.
func readLimited(r io.Reader, hint, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(hint, limit)+512)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("file is larger than %d MiB; not read", limit>>20)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return nil, errors.New(describeFSError(err))
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// Parse reads the objects of one file's content. name is used in positions.
func Parse(name string, data []byte) ([]*Object, []InputError) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line := 1 + bytes.Count(data[:i], []byte("\n"))
		return nil, []InputError{{File: name, Line: line, Message: "binary file (NUL byte), not YAML or JSON"}}
	}
	if !utf8.Valid(data) {
		line := 1
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			if r == '\n' {
				line++
			}
			i += size
		}
		return nil, []InputError{{File: name, Line: line, Message: "invalid UTF-8: not a text file"}}
	}
	// The common case, a file that parses, goes through one parser; a file
	// with a broken document is parsed again document by document, so that
	// its other documents are still read and the error names the right line.
	p := newFileParser(name, data)
	objs, errs, ok := p.stream(data)
	if !ok {
		p = newFileParser(name, data)
		objs, errs = nil, nil
		for _, d := range splitDocuments(data) {
			o, e := p.document(d)
			objs = append(objs, o...)
			errs = append(errs, e...)
		}
	}
	if len(objs) == 0 && len(errs) == 0 {
		errs = append(errs, InputError{File: name, Line: 1, Message: "no Kubernetes object in file (empty or only comments)"})
	}
	return objs, errs
}

type document struct {
	text []byte
	line int // 1-based first line in the file
}

// splitDocuments cuts a YAML stream at "---" document markers. A marker
// at column 0 always starts a document in YAML, so no scalar can contain one.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if end >= 0 {
			next = i + end + 1
		}
		l := data[i:next]
		if bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\n' || l[3] == '\r') {
			if i > start {
				docs = append(docs, document{text: data[start:i], line: startLine})
			}
			start, startLine = i, line
		}
		i = next
		line++
	}
	if start < len(data) {
		docs = append(docs, document{text: data[start:], line: startLine})
	}
	return docs
}

// fileParser reads the documents of one file, counting the ones with content
// (Object.Doc). The position indexes of all its documents share one arena
// sized from the file's line count (about one field a line), so indexing
// costs one allocation a file.
type fileParser struct {
	name  string
	docs  int
	arena positions
}

func newFileParser(name string, data []byte) *fileParser {
	return &fileParser{name: name, arena: make(positions, 0, bytes.Count(data, []byte("\n"))+16)}
}

// stream parses every document with one decoder; ok is false when a
// document does not parse.
func (p *fileParser) stream(data []byte) (objs []*Object, errs []InputError, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		if err := dec.Decode(&root); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, errs, true
			}
			return nil, nil, false
		}
		o, e := p.fromRoot(&root, 0)
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
}

// document parses one document cut out of a file.
func (p *fileParser) document(d document) ([]*Object, []InputError) {
	offset := d.line - 1
	var root yaml.Node
	if err := yaml.Unmarshal(d.text, &root); err != nil {
		return nil, []InputError{yamlError(p.name, offset, d, err)}
	}
	return p.fromRoot(&root, offset)
}

// fromRoot turns a parsed document into objects; offset is added to lines.
func (p *fileParser) fromRoot(root *yaml.Node, offset int) ([]*Object, []InputError) {
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil // an empty document, such as a trailing "---"
	}
	n := root.Content[0]
	if n.Kind == yaml.ScalarNode && isNull(n) {
		return nil, nil
	}
	name, index := p.name, p.docs
	p.docs++
	idx, berr := p.index(n)
	if berr != nil {
		return nil, []InputError{{File: name, Line: berr.line + offset, Message: berr.msg}}
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, []InputError{{File: name, Line: n.Line + offset, Message: fmt.Sprintf("document %d is %s, not a Kubernetes object; skipped", index+1, kindName(n))}}
	}
	kind := nodeString(mapGet(n, "kind"))
	if items := mapGet(n, "items"); strings.HasSuffix(kind, "List") && items != nil {
		if items.Kind != yaml.SequenceNode {
			if isNull(items) {
				return nil, nil
			}
			return nil, []InputError{{File: name, Line: items.Line + offset, Message: "items of " + kind + " must be a list"}}
		}
		var objs []*Object
		var errs []InputError
		for i, it := range items.Content {
			it = deref(it)
			itemIdx, berr := p.index(it)
			if berr != nil {
				errs = append(errs, InputError{File: name, Line: berr.line + offset, Message: berr.msg})
				continue
			}
			o, err := newObject(name, index, i, it, itemIdx, offset)
			if err != nil {
				errs = append(errs, *err)
				continue
			}
			objs = append(objs, o)
		}
		return objs, errs
	}
	o, err := newObject(name, index, -1, n, idx, offset)
	if err != nil {
		return nil, []InputError{*err}
	}
	return []*Object{o}, nil
}

// yaml.v3 reports parser errors (unlike scanner errors) with a 0-based line;
// these are the messages that need one added.
var zeroBasedYAMLErrors = []string{
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"found a tab character that violates indentation",
}

var unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// index builds a document's position index in the arena, or in its own
// slice when the arena is full.
func (p *fileParser) index(n *yaml.Node) (positions, *boundsError) {
	start := len(p.arena)
	idx, err := indexDocument(n, p.arena[start:start])
	if err != nil {
		return nil, err
	}
	if start+len(idx) <= cap(p.arena) {
		p.arena = p.arena[:start+len(idx)] // written in place
	}
	return idx[:len(idx):len(idx)], nil
}

func yamlError(name string, offset int, d document, err error) InputError {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		for _, z := range zeroBasedYAMLErrors {
			if msg == z {
				line++
				break
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil {
			if i := bytes.Index(d.text, []byte("*"+m[1])); i >= 0 {
				line = 1 + bytes.Count(d.text[:i], []byte("\n"))
			}
		}
	}
	if line == 0 {
		line = 1
	}
	return InputError{File: name, Line: line + offset, Message: "invalid YAML: " + msg}
}

type boundsError struct {
	line int
	msg  string
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
	if gv, err := schema.ParseGroupVersion(apiVersion); err == nil {
		if typed, err := scheme.Scheme.New(gv.WithKind(kind)); err == nil {
			d := decoder{offset: offset, strict: true}
			d.decode(n, reflectValue(typed), nil)
			o.Typed = typed
			o.SchemaErrors = d.errs
			if o.Name == "" && nodeString(mapGet(meta, "generateName")) != "" {
				o.Name = nodeString(mapGet(meta, "generateName"))
			}
		}
	}
	if o.Typed == nil {
		// Kinds it does not know keep their node tree, so a pod template
		// they embed can be found and decoded later.
		o.node = n
	}
	return o, nil
}

// Decode fills out (a pointer) from the object's node at path without
// recording schema errors. It is how embedded pod templates of unknown kinds
// are read.
func (o *Object) Decode(path string, out any) bool {
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
	d := decoder{}
	d.decode(n, reflectValue(out), nil)
	return true
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
