package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultMaxDocumentSize is the largest single document read; a larger one
// is an input error that costs only itself. Files and streams are read
// document by document, so their own size is not limited.
const DefaultMaxDocumentSize = 256 << 20

// bigJSONList is the size from which a JSON List's items are parsed one at a
// time instead of as one YAML node tree (which takes about 20 times the text).
const bigJSONList = 4 << 20

// Parse reads the objects of one file's content. name is used in positions.
// A file without any object is an input error.
func Parse(name string, data []byte) ([]*Object, []InputError) {
	return newMemStream(name, data).run()
}

// ParseAt reads the objects of a piece of a larger text whose first line is
// firstLine (a document Helm's splitter cut out of a rendered template). A
// piece with no object (only comments or white space) is not an error.
func ParseAt(name string, data []byte, firstLine int) ([]*Object, []InputError) {
	s := newMemStream(name, data)
	s.base = firstLine - 1
	s.allowEmpty = true
	return s.run()
}

// ParseReader reads the objects of a stream document by document: memory is
// bounded by the largest document, not by the stream. maxDoc limits one
// document (DefaultMaxDocumentSize when zero or less).
func ParseReader(name string, r io.Reader, maxDoc int64) ([]*Object, []InputError) {
	if maxDoc <= 0 {
		maxDoc = DefaultMaxDocumentSize
	}
	s := &stream{name: name, br: bufio.NewReaderSize(r, 32<<10), maxDoc: maxDoc, line: 1, p: fileParser{name: name, chunk: 4096}}
	return s.run()
}

func newMemStream(name string, data []byte) *stream {
	s := &stream{name: name, data: data, mem: true, maxDoc: DefaultMaxDocumentSize, line: 1, p: fileParser{name: name}}
	// One arena for the whole text, sized from its lines (about one field a
	// line): indexing costs one allocation a file.
	s.p.arena = make(positions, 0, bytes.Count(data, []byte("\n"))+16)
	return s
}

// stream splits a YAML or JSON stream into documents as kubectl reads it:
// YAML documents at "---" (and "...") lines; concatenated JSON values and
// JSON lines one value at a time. Each document is checked and parsed on its
// own, so a broken one costs only itself. Text already in memory (mem) is
// cut into slices without copying; a reader is read through a small buffer.
type stream struct {
	name       string
	maxDoc     int64
	base       int // added to every line (ParseAt)
	allowEmpty bool

	mem  bool
	data []byte // mem: the whole text
	off  int    // mem: the next byte
	br   *bufio.Reader

	line int // number of the next line to read, 1-based

	p    fileParser
	objs []*Object
	errs []InputError
}

func (s *stream) fail(line int, msg string) {
	s.errs = append(s.errs, InputError{File: s.name, Line: line + s.base, Message: msg})
}

// readLine returns the next line with its newline. Lines longer than the
// document limit are cut (and their document then refused).
func (s *stream) readLine() ([]byte, error) {
	if s.mem {
		if s.off >= len(s.data) {
			return nil, io.EOF
		}
		end := len(s.data)
		if i := bytes.IndexByte(s.data[s.off:], '\n'); i >= 0 {
			end = s.off + i + 1
		}
		l := s.data[s.off:end]
		s.off = end
		return l, nil
	}
	var line []byte
	for {
		chunk, err := s.br.ReadSlice('\n')
		if int64(len(line)) <= s.maxDoc {
			line = append(line, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		case err != nil:
			return nil, err
		}
		return line, nil
	}
}

func (s *stream) readByte() (byte, error) {
	if s.mem {
		if s.off >= len(s.data) {
			return 0, io.EOF
		}
		s.off++
		return s.data[s.off-1], nil
	}
	return s.br.ReadByte()
}

func (s *stream) unreadByte() {
	if s.mem {
		s.off--
		return
	}
	_ = s.br.UnreadByte()
}

// first returns the first byte that is not white space, without reading it.
func (s *stream) first() byte {
	if s.mem {
		if i := bytes.IndexFunc(s.data[s.off:], func(r rune) bool { return r != ' ' && r != '\t' && r != '\r' && r != '\n' }); i >= 0 {
			return s.data[s.off+i]
		}
		return 0
	}
	for n := 1; n <= 32<<10; n++ {
		p, err := s.br.Peek(n)
		if len(p) < n || err != nil {
			return 0
		}
		if c := p[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	return 0
}

func (s *stream) run() ([]*Object, []InputError) {
	bom := []byte("\xef\xbb\xbf")
	if s.mem {
		if bytes.HasPrefix(s.data, bom) {
			s.off = len(bom)
		}
	} else if p, _ := s.br.Peek(3); bytes.Equal(p, bom) {
		_, _ = s.br.Discard(3)
	}
	if c := s.first(); c == '{' || c == '[' {
		s.json()
	}
	s.yaml()
	if len(s.objs) == 0 && len(s.errs) == 0 && !s.allowEmpty {
		s.fail(1, "no Kubernetes object in file (empty or only comments)")
	}
	return s.objs, s.errs
}

func (s *stream) readError(err error) {
	if err != nil && !errors.Is(err, io.EOF) {
		s.fail(s.line, describeFSError(err))
	}
}

// isMarker reports whether a line starts or ends a YAML document: "---" or
// "..." at column 0 followed by nothing or white space.
func isMarker(l []byte) (start, end bool) {
	if len(l) < 3 || (l[0] != '-' && l[0] != '.') {
		return false, false
	}
	if !bytes.HasPrefix(l, []byte("---")) && !bytes.HasPrefix(l, []byte("...")) {
		return false, false
	}
	if len(l) > 3 && l[3] != ' ' && l[3] != '\t' && l[3] != '\n' && l[3] != '\r' {
		return false, false
	}
	return l[0] == '-', l[0] == '.'
}

// yaml reads YAML documents to the end of the stream.
func (s *stream) yaml() {
	if s.mem && s.yamlAtOnce() {
		return
	}
	var doc []byte
	docLine, docStart := s.line, s.off
	tooBig := false
	flush := func() {
		switch {
		case tooBig:
			s.fail(docLine, "document is larger than "+sizeString(s.maxDoc)+"; skipped")
		case len(doc) > 0:
			s.document(doc, docLine)
		}
		doc, tooBig = nil, false
	}
	for {
		lineStart := s.off
		l, err := s.readLine()
		if err != nil {
			s.readError(err)
			break
		}
		start, end := isMarker(l)
		switch {
		case start:
			flush()
			docLine, docStart = s.line, lineStart
		case end:
			flush()
			s.line++
			docLine, docStart = s.line, s.off
			continue
		}
		switch {
		case tooBig:
		case int64(len(doc)+len(l)) > s.maxDoc:
			tooBig, doc = true, nil
		case s.mem:
			doc = s.data[docStart:s.off]
		default:
			doc = append(doc, l...)
		}
		s.line++
	}
	flush()
}

// yamlAtOnce is the fast path for text in memory: one decoder over the
// rest of the text. It gives up (and changes nothing) at the first document
// that is not clean text or does not parse; the caller then goes document by
// document so that the error names its own document and costs only it.
func (s *stream) yamlAtOnce() bool {
	rest := s.data[s.off:]
	if int64(len(rest)) > s.maxDoc {
		return false // some document may be too large: the splitter says which
	}
	if msg, _ := undecodable(rest, s.off > 0); msg != "" {
		return false
	}
	if bytes.Contains(rest, []byte("\n...")) {
		return false // document end markers: the splitter counts lines right
	}
	if bytes.IndexByte(rest, '&') >= 0 && bytes.IndexByte(rest, '*') >= 0 {
		// Possibly aliases: one decoder would let a document use another's
		// anchors (kubectl reads each alone) and bound their expansion by
		// the file's size instead of the document's.
		return false
	}
	if i := bytes.IndexByte(rest, '\r'); i >= 0 && bytes.Contains(bytes.ReplaceAll(rest, []byte("\r\n"), nil), []byte("\r")) {
		return false // a line break of its own (old Mac files): split by lines first
	}
	p := s.p
	var objs []*Object
	var errs []InputError
	dec := yaml.NewDecoder(bytes.NewReader(rest))
	offset := s.line - 1 + s.base
	for {
		var root yaml.Node
		if err := dec.Decode(&root); err != nil {
			if !errors.Is(err, io.EOF) {
				return false
			}
			break
		}
		o, e := p.fromRoot(&root, offset, len(rest))
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	s.p = p
	s.objs = append(s.objs, objs...)
	s.errs = append(s.errs, errs...)
	s.off = len(s.data)
	return true
}

// json reads concatenated JSON values (a file, JSON lines, kubectl output);
// it returns at the end of the stream or at the first byte that cannot start
// a JSON value, where YAML takes over.
func (s *stream) json() {
	for {
		// Skip white space between values, counting lines.
		var c byte
		for {
			b, err := s.readByte()
			if err != nil {
				s.readError(err)
				return
			}
			if b == '\n' {
				s.line++
				continue
			}
			if b == ' ' || b == '\t' || b == '\r' {
				continue
			}
			c = b
			break
		}
		if c != '{' && c != '[' {
			s.unreadByte()
			return
		}
		start := s.line
		text, err := s.jsonValue(c)
		if err != nil {
			s.fail(start, err.Error())
			if text == nil {
				return
			}
			continue
		}
		s.jsonDocument(text, start)
	}
}

// jsonValue reads the rest of one JSON object or array that began with c,
// tracking strings and nesting only; the parser judges the rest.
func (s *stream) jsonValue(c byte) ([]byte, error) {
	from := s.off - 1
	var buf []byte
	if !s.mem {
		buf = []byte{c}
	}
	depth, inString, escaped := 1, false, false
	tooBig := false
	for depth > 0 {
		b, err := s.readByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("invalid JSON: the stream ends inside a value")
			}
			return nil, errors.New(describeFSError(err))
		}
		if !s.mem && !tooBig {
			buf = append(buf, b)
			if int64(len(buf)) > s.maxDoc {
				tooBig, buf = true, nil
			}
		}
		switch {
		case b == '\n':
			s.line++
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		}
	}
	if s.mem {
		buf = s.data[from:s.off]
		tooBig = int64(len(buf)) > s.maxDoc
	}
	if tooBig {
		return []byte{}, errors.New("document is larger than " + sizeString(s.maxDoc) + "; skipped")
	}
	return buf, nil
}

// jsonDocument parses one JSON value; a large List has its items parsed one
// at a time so that memory stays proportional to the text.
func (s *stream) jsonDocument(text []byte, line int) {
	if len(text) >= bigJSONList && text[0] == '{' {
		if items, ok := jsonListItems(text); ok {
			for _, it := range items {
				s.document(it.text, line+it.line-1)
			}
			return
		}
	}
	s.document(text, line)
}

type jsonItem struct {
	text []byte
	line int // 1-based, relative to the value
}

// jsonListItems returns the items of a JSON object whose kind ends in List,
// with the line each starts on; ok is false for anything else.
func jsonListItems(text []byte) ([]jsonItem, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var kind string
	var items []jsonItem
	hasItems := false
	line, counted := 1, 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := t.(string)
		switch key {
		case "kind":
			if err := dec.Decode(&kind); err != nil {
				return nil, false
			}
		case "items":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil, false
			}
			hasItems = true
			for dec.More() {
				off := int(dec.InputOffset())
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return nil, false
				}
				start := off + bytes.IndexAny(text[off:], "{[\"0123456789-tfn")
				line += bytes.Count(text[counted:start], []byte("\n"))
				counted = start
				items = append(items, jsonItem{text: raw, line: line})
			}
			if _, err := dec.Token(); err != nil {
				return nil, false
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, false
			}
		}
	}
	return items, hasItems && strings.HasSuffix(kind, "List")
}

// document checks and parses one document whose first line is line.
func (s *stream) document(text []byte, line int) {
	if msg, at := undecodable(text, s.objs != nil || s.errs != nil || line > 1); msg != "" {
		s.fail(line+at-1, msg)
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		s.errs = append(s.errs, yamlError(s.name, line-1+s.base, text, err))
		return
	}
	o, e := s.p.fromRoot(&root, line-1+s.base, len(text))
	s.objs = append(s.objs, o...)
	s.errs = append(s.errs, e...)
	// A chunk the line splitter saw as one document can hold more when a
	// lone carriage return breaks lines: say so rather than drop them.
	var more yaml.Node
	if err := dec.Decode(&more); err == nil && more.Kind != 0 && len(more.Content) > 0 && !(more.Content[0].Kind == yaml.ScalarNode && isNull(more.Content[0])) {
		s.fail(line+more.Line-1, "another document starts here without a \"---\" line of its own (carriage-return line breaks?); not read")
	}
}

// undecodable says why a document cannot be text YAML, and on which of its
// lines: a NUL byte (binary or UTF-16), invalid UTF-8, a control character,
// or a byte order mark that does not start the stream.
func undecodable(text []byte, later bool) (string, int) {
	lineAt := func(i int) int { return 1 + bytes.Count(text[:i], []byte("\n")) }
	if i := bytes.IndexByte(text, 0); i >= 0 {
		return "binary file or UTF-16 text (NUL byte), not YAML or JSON; document skipped", lineAt(i)
	}
	if later {
		if i := bytes.Index(text, []byte("\xef\xbb\xbf")); i >= 0 && len(bytes.TrimLeft(text[:i], "-\r\n \t")) == 0 {
			return "byte order mark inside the stream (a file pasted after another?); document skipped", lineAt(i)
		}
	}
	for i := 0; i < len(text); {
		b := text[i]
		if b < utf8.RuneSelf {
			switch {
			case b < 0x20 && b != '\t' && b != '\n' && b != '\r', b == 0x7f:
				return fmt.Sprintf("control character %s is not allowed in YAML; document skipped", strconv.QuoteRune(rune(b))), lineAt(i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && size == 1 {
			return "invalid UTF-8: not a text file; document skipped", lineAt(i)
		}
		if r == '\ufeff' && i > 3 {
			return "byte order mark inside a document; document skipped", lineAt(i)
		}
		i += size
	}
	return "", 0
}

// fileParser turns the documents of one file into objects, counting the ones
// with content (Object.Doc). Position indexes share arenas of a few thousand
// fields, so indexing costs about one allocation per thousand lines.
type fileParser struct {
	name  string
	docs  int
	arena positions
	chunk int // size of a new arena when one is full; 0: the rest get their own
}

// fromRoot turns a parsed document into objects; offset is added to lines,
// size is the document's length in bytes (it bounds alias expansion).
func (p *fileParser) fromRoot(root *yaml.Node, offset, size int) ([]*Object, []InputError) {
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil // an empty document, such as a trailing "---"
	}
	n := root.Content[0]
	if n.Kind == yaml.ScalarNode && isNull(n) {
		return nil, nil
	}
	name, index := p.name, p.docs
	p.docs++
	if berr := checkBounds(n, size); berr != nil {
		return nil, []InputError{{File: name, Line: berr.line + offset, Message: berr.msg}}
	}
	if hasMergeKey(n, 0) {
		applyMerges(n, map[*yaml.Node]bool{})
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, []InputError{{File: name, Line: n.Line + offset, Message: fmt.Sprintf("document %d is %s, not a Kubernetes object; skipped", index+1, kindName(n))}}
	}
	var objs []*Object
	var errs []InputError
	p.object(n, index, -1, offset, &objs, &errs)
	return objs, errs
}

// object adds the object n, or the items of a List (nested Lists flattened).
func (p *fileParser) object(n *yaml.Node, doc, item, offset int, objs *[]*Object, errs *[]InputError) {
	kind := nodeString(mapGet(n, "kind"))
	if items := mapGet(n, "items"); strings.HasSuffix(kind, "List") && items != nil {
		if items.Kind != yaml.SequenceNode {
			if !isNull(items) {
				*errs = append(*errs, InputError{File: p.name, Line: items.Line + offset, Message: "items of " + kind + " must be a list"})
			}
			return
		}
		for i, it := range items.Content {
			it = deref(it)
			if it.Kind != yaml.MappingNode {
				*errs = append(*errs, InputError{File: p.name, Line: it.Line + offset, Message: fmt.Sprintf("item %d of document %d is %s, not a Kubernetes object; skipped", i+1, doc+1, kindName(it))})
				continue
			}
			at := i
			if item >= 0 {
				at = item // a nested List's items keep the outer item's index
			}
			p.object(it, doc, at, offset, objs, errs)
		}
		return
	}
	o, err := newObject(p.name, doc, item, n, p.index(n), offset)
	if err != nil {
		*errs = append(*errs, *err)
		return
	}
	*objs = append(*objs, o)
}

// index builds a node's position index in the arena, starting a new arena
// when the current one is nearly full.
func (p *fileParser) index(n *yaml.Node) positions {
	if p.chunk > 0 && cap(p.arena)-len(p.arena) < 64 {
		p.arena = make(positions, 0, p.chunk)
	}
	start := len(p.arena)
	idx := indexDocument(n, p.arena[start:start])
	if start+len(idx) <= cap(p.arena) {
		p.arena = p.arena[:start+len(idx)] // written in place
	}
	return idx[:len(idx):len(idx)]
}

var (
	yamlLineRE      = regexp.MustCompile(`^yaml: line (\d+): `)
	unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

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

func yamlError(name string, offset int, text []byte, err error) InputError {
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
			if i := bytes.Index(text, []byte("*"+m[1])); i >= 0 {
				line = 1 + bytes.Count(text[:i], []byte("\n"))
			}
		}
	}
	if line == 0 {
		line = 1
	}
	return InputError{File: name, Line: line + offset, Message: "invalid YAML: " + msg}
}

func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
