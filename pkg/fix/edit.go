// Package fix rewrites manifests into hardened ones. Edits are made on the
// file's text at positions the YAML parser reports, so that comments, key
// order, quoting, document separators and every untouched line stay
// byte-identical: only the lines a fix changes differ.
package fix

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// errNotEditable is returned when a field sits in YAML the editor does not
// rewrite (a multi-line flow collection, an alias, a block scalar).
var errNotEditable = errors.New("the YAML around this field is not in a form rampart edits automatically")

// text is a file's content with a line index.
type text struct {
	src        string
	lineStarts []int // byte offset of each line (0-based line numbers)
}

func newText(src string) *text {
	t := &text{src: src, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			t.lineStarts = append(t.lineStarts, i+1)
		}
	}
	return t
}

// offset of a 1-based line and column.
func (t *text) offset(line, col int) int {
	if line-1 >= len(t.lineStarts) {
		return len(t.src)
	}
	return t.lineStarts[line-1] + col - 1
}

// line returns a 1-based line without its newline.
func (t *text) line(n int) string {
	if n < 1 || n > len(t.lineStarts) {
		return ""
	}
	start := t.lineStarts[n-1]
	end := len(t.src)
	if n < len(t.lineStarts) {
		end = t.lineStarts[n] - 1
	}
	return strings.TrimSuffix(t.src[start:end], "\r")
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// edit replaces src[start:end] with insert.
type edit struct {
	start, end int
	insert     string
	indent     int // of the keys an insertion adds (orders inserts at one offset)
}

func apply(src string, edits []edit) string {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	for _, e := range edits {
		src = src[:e.start] + e.insert + src[e.end:]
	}
	return src
}

// parseDocuments parses every document of src; node lines are absolute.
func parseDocuments(src string) []*yaml.Node {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var out []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return out
		}
		if len(n.Content) == 1 {
			out = append(out, n.Content[0])
		}
	}
}

// lookup walks path from n; it returns the deepest node reached, the
// segments left, and the mapping key node of the last step (nil at the root
// or after an index).
func lookup(n *yaml.Node, segs []manifest.Segment) (*yaml.Node, []manifest.Segment) {
	n, rest, _ := lookupKey(n, segs)
	return n, rest
}

// lookupKey is lookup that also returns the key node of the value reached.
func lookupKey(n *yaml.Node, segs []manifest.Segment) (*yaml.Node, []manifest.Segment, *yaml.Node) {
	var key *yaml.Node
	for i, s := range segs {
		if n.Kind == yaml.AliasNode {
			return n, segs[i:], key
		}
		if s.Index >= 0 {
			if n.Kind != yaml.SequenceNode || s.Index >= len(n.Content) {
				return n, segs[i:], key
			}
			n, key = n.Content[s.Index], nil
			continue
		}
		if n.Kind != yaml.MappingNode {
			return n, segs[i:], key
		}
		found := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == s.Key {
				n, key, found = n.Content[j+1], n.Content[j], true
				break
			}
		}
		if !found {
			return n, segs[i:], key
		}
	}
	return n, nil, key
}

// scalarSpan returns the byte span of a single-line scalar's source text.
func scalarSpan(t *text, n *yaml.Node) (int, int, error) {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return 0, 0, errNotEditable
	}
	start := t.offset(n.Line, n.Column)
	rest := t.src[start:]
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[:nl]
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return start, start + i + 1, nil
			}
		}
		return 0, 0, errNotEditable
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start, start + i + 1, nil
			}
		}
		return 0, 0, errNotEditable
	}
	if !strings.HasPrefix(rest, n.Value) {
		return 0, 0, errNotEditable // a plain scalar spanning lines
	}
	return start, start + len(n.Value), nil
}

// chain renders keys nested down to value, in block style at indent, or in
// flow style when flow is true.
func chain(keys []string, value string, indent int, flow bool) string {
	if flow {
		s := value
		for i := len(keys) - 1; i > 0; i-- {
			s = "{" + keys[i] + ": " + s + "}"
		}
		return keys[0] + ": " + s
	}
	var b strings.Builder
	for i, k := range keys {
		b.WriteString(strings.Repeat(" ", indent+2*i))
		b.WriteString(k)
		b.WriteString(":")
		if i == len(keys)-1 {
			b.WriteString(" " + value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// endOfMapping returns the 1-based last content line of a block mapping m.
func endOfMapping(t *text, m *yaml.Node) int {
	lastKey, lastVal := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
	indent := lastKey.Column - 1
	end := lastKey.Line
	for l := lastKey.Line + 1; l <= len(t.lineStarts); l++ {
		s := t.line(l)
		trimmed := strings.TrimSpace(s)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // belongs to the entry only if content follows
		}
		if strings.HasPrefix(trimmed, "---") && indentOf(s) == 0 || trimmed == "..." {
			break
		}
		in := indentOf(s)
		if in > indent || (in == indent && strings.HasPrefix(trimmed, "-") && lastVal.Kind == yaml.SequenceNode && l > lastKey.Line) {
			end = l
			continue
		}
		break
	}
	// A flow collection that spans lines ends at its closing bracket,
	// whatever the indentation of the lines in between.
	if lastVal.Style&yaml.FlowStyle != 0 && (lastVal.Kind == yaml.MappingNode || lastVal.Kind == yaml.SequenceNode) {
		if e := endLineOfFlow(t, lastVal); e > end {
			end = e
		}
	}
	return end
}

// setEdit computes the edit that makes path hold value (YAML text: a scalar
// or a flow collection) in the document root, creating missing mappings.
func setEdit(t *text, root *yaml.Node, path, value string) (edit, bool, error) {
	n, rest, key := lookupKey(root, manifest.ParsePath(path))
	if len(rest) == 0 && key != nil && n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0 {
		return replaceBlockSequence(t, key, value)
	}
	if len(rest) == 0 {
		if n.Kind == yaml.ScalarNode {
			start, end, err := scalarSpan(t, n)
			if err != nil {
				return edit{}, false, err
			}
			if jsonDoc(t.src) {
				v, err := toJSON(value, 0)
				if err != nil {
					return edit{}, false, err
				}
				value = v
			}
			if t.src[start:end] == value {
				return edit{}, false, nil // already so
			}
			return edit{start: start, end: end, insert: value}, true, nil
		}
		if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle != 0 && n.Line == endLineOfFlow(t, n) {
			start := t.offset(n.Line, n.Column)
			end := strings.IndexByte(t.src[start:], ']')
			if end < 0 {
				return edit{}, false, errNotEditable
			}
			if jsonDoc(t.src) {
				v, err := toJSON(value, 0)
				if err != nil {
					return edit{}, false, err
				}
				value = v
			}
			if t.src[start:start+end+1] == value {
				return edit{}, false, nil
			}
			return edit{start: start, end: start + end + 1, insert: value}, true, nil
		}
		return edit{}, false, errNotEditable
	}
	keys := make([]string, 0, len(rest))
	for _, s := range rest {
		if s.Index >= 0 {
			return edit{}, false, errNotEditable // no list items are created
		}
		keys = append(keys, s.Key)
	}
	if n.Kind == yaml.ScalarNode && n.Value == "" && n.Tag == "!!null" {
		return edit{}, false, errNotEditable
	}
	if n.Kind != yaml.MappingNode {
		return edit{}, false, errNotEditable
	}
	if n.Style&yaml.FlowStyle != 0 {
		if n.Line != endLineOfFlow(t, n) {
			return edit{}, false, errNotEditable
		}
		start := t.offset(n.Line, n.Column)
		closing := matchingBrace(t.src, start)
		if closing < 0 {
			return edit{}, false, errNotEditable
		}
		sep := ", "
		if len(n.Content) == 0 {
			sep = ""
		}
		insert := sep + chain(keys, value, 0, true)
		if jsonDoc(t.src) {
			j, err := toJSON(insert, yaml.MappingNode)
			if err != nil {
				return edit{}, false, err
			}
			insert = j
		}
		return edit{start: closing, end: closing, insert: insert}, true, nil
	}
	if len(n.Content) == 0 {
		return edit{}, false, errNotEditable
	}
	indent := n.Content[0].Column - 1
	end := endOfMapping(t, n)
	at := len(t.src)
	if end < len(t.lineStarts) {
		at = t.lineStarts[end]
	}
	ins := chain(keys, value, indent, false)
	if at == len(t.src) && !strings.HasSuffix(t.src, "\n") {
		ins = "\n" + strings.TrimSuffix(ins, "\n")
	}
	return edit{start: at, end: at, insert: ins}, true, nil
}

func endLineOfFlow(t *text, n *yaml.Node) int {
	start := t.offset(n.Line, n.Column)
	var closeAt int
	if n.Kind == yaml.MappingNode {
		closeAt = matchingBrace(t.src, start)
	} else {
		closeAt = strings.IndexByte(t.src[start:], ']')
		if closeAt >= 0 {
			closeAt += start
		}
	}
	if closeAt < 0 {
		return -1
	}
	return strings.Count(t.src[:closeAt], "\n") + 1
}

// matchingBrace returns the offset of the } closing the { at start.
func matchingBrace(s string, start int) int {
	depth := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		case '"', '\'':
			q := s[i]
			for i++; i < len(s) && s[i] != q; i++ {
				if q == '"' && s[i] == '\\' {
					i++
				}
			}
		}
	}
	return -1
}

// Set returns src with path of the object whose root mapping starts at
// line set to value; changed is false when it already held it.
func Set(src string, rootLine int, path, value string) (string, bool, error) {
	return setField(src, rootLine, path, value, false)
}

// setField is Set; with ifMissing, a field that exists is left as it is (one
// parse for both).
func setField(src string, rootLine int, path, value string, ifMissing bool) (string, bool, error) {
	t := newText(src)
	for _, root := range parseDocuments(src) {
		if root.Kind == yaml.MappingNode && len(root.Content) > 0 && root.Content[0].Line == rootLine {
			if ifMissing {
				if _, rest := lookup(root, manifest.ParsePath(path)); len(rest) == 0 {
					return src, false, nil
				}
			}
			if err := shared(root, path); err != nil {
				return src, false, err
			}
			e, changed, err := setEdit(t, root, path, value)
			if err != nil || !changed {
				return src, false, err
			}
			return apply(src, []edit{e}), true, nil
		}
	}
	return src, false, fmt.Errorf("no document starts at line %d", rootLine)
}

// replaceBlockSequence replaces a block sequence value (key:, then "- item"
// lines) with a flow value on the key's line.
func replaceBlockSequence(t *text, key *yaml.Node, value string) (edit, bool, error) {
	keyText := t.line(key.Line)
	colon := strings.Index(keyText[key.Column-1:], ":")
	if colon < 0 || strings.TrimSpace(keyText[key.Column-1+colon+1:]) != "" {
		return edit{}, false, errNotEditable // a comment or value after the key
	}
	indent := key.Column - 1
	last := key.Line
	for l := key.Line + 1; l <= len(t.lineStarts); l++ {
		s := t.line(l)
		trimmed := strings.TrimSpace(s)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if in := indentOf(s); in > indent || (in == indent && strings.HasPrefix(trimmed, "-")) {
			last = l
			continue
		}
		break
	}
	start := t.offset(key.Line, key.Column) + colon + 1
	end := t.offset(last, 1) + len(t.line(last))
	return edit{start: start, end: end, insert: " " + value}, true, nil
}

// findRoot returns the document mapping whose first key is on rootLine.
func findRoot(src string, rootLine int) (*yaml.Node, error) {
	for _, root := range parseDocuments(src) {
		if root.Kind == yaml.MappingNode && len(root.Content) > 0 && root.Content[0].Line == rootLine {
			return root, nil
		}
	}
	return nil, fmt.Errorf("no document starts at line %d", rootLine)
}

// blockEnd returns the last line of a block node that starts on line start
// at indentation indent (0-based): following lines that are more indented,
// or that continue a sequence at the same indentation when seqAtIndent.
func blockEnd(t *text, start, indent int, seqAtIndent bool) int {
	end := start
	for l := start + 1; l <= len(t.lineStarts); l++ {
		s := t.line(l)
		trimmed := strings.TrimSpace(s)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		in := indentOf(s)
		if in > indent || (seqAtIndent && in == indent && strings.HasPrefix(trimmed, "-")) {
			end = l
			continue
		}
		break
	}
	return end
}

// deleteLines removes whole lines first..last (1-based, inclusive).
func deleteLines(t *text, first, last int) edit {
	start := t.lineStarts[first-1]
	end := len(t.src)
	if last < len(t.lineStarts) {
		end = t.lineStarts[last]
	}
	return edit{start: start, end: end}
}

// Delete removes the field or list item at path of the object starting at
// rootLine; changed is false when it is already absent. Only block-style
// entries and items are removed.
func Delete(src string, rootLine int, path string) (string, bool, error) {
	root, err := findRoot(src, rootLine)
	if err != nil {
		return src, false, err
	}
	if err := shared(root, path); err != nil {
		return src, false, err
	}
	t := newText(src)
	segs := manifest.ParsePath(path)
	if len(segs) == 0 {
		return src, false, errNotEditable
	}
	parent, rest, _ := lookupKey(root, segs[:len(segs)-1])
	if len(rest) > 0 {
		return src, false, nil // the parent is missing, so the field is too
	}
	last := segs[len(segs)-1]
	if last.Index >= 0 {
		if parent.Kind != yaml.SequenceNode || last.Index >= len(parent.Content) {
			return src, false, nil
		}
		if parent.Style&yaml.FlowStyle != 0 {
			return src, false, errNotEditable
		}
		if len(parent.Content) == 1 && len(segs) > 1 && segs[len(segs)-2].Index < 0 {
			// Removing the only item removes the list's key too, rather
			// than leave an empty "key:" behind.
			if out, changed, err := Delete(src, rootLine, pathOf(segs[:len(segs)-1])); err == nil && changed {
				return out, true, nil
			}
		}
		item := parent.Content[last.Index]
		if !strings.HasPrefix(strings.TrimLeft(t.line(item.Line), " "), "-") {
			return src, false, errNotEditable
		}
		dash := indentOf(t.line(item.Line))
		return apply(src, []edit{deleteLines(t, item.Line, blockEnd(t, item.Line, dash, false))}), true, nil
	}
	if parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle != 0 {
		return src, false, errNotEditable
	}
	for j := 0; j+1 < len(parent.Content); j += 2 {
		k := parent.Content[j]
		if k.Value != last.Key {
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(t.line(k.Line), " "), "-") {
			return src, false, errNotEditable // the first key of a list item shares the dash line
		}
		end := blockEnd(t, k.Line, k.Column-1, parent.Content[j+1].Kind == yaml.SequenceNode)
		return apply(src, []edit{deleteLines(t, k.Line, end)}), true, nil
	}
	return src, false, nil
}

// Append adds item (a flow-style YAML value) to the sequence at path,
// creating it as a flow sequence when missing.
func Append(src string, rootLine int, path, item string) (string, bool, error) {
	root, err := findRoot(src, rootLine)
	if err != nil {
		return src, false, err
	}
	if err := shared(root, path); err != nil {
		return src, false, err
	}
	t := newText(src)
	n, rest, _ := lookupKey(root, manifest.ParsePath(path))
	if len(rest) > 0 {
		return Set(src, rootLine, path, "["+item+"]")
	}
	if n.Kind != yaml.SequenceNode {
		return src, false, errNotEditable
	}
	if n.Style&yaml.FlowStyle != 0 {
		start := t.offset(n.Line, n.Column)
		closing := strings.IndexByte(t.src[start:], ']')
		if closing < 0 || endLineOfFlow(t, n) != n.Line {
			return src, false, errNotEditable
		}
		sep := ", "
		if len(n.Content) == 0 {
			sep = ""
		}
		insert := sep + item
		if jsonDoc(src) {
			j, err := toJSON(insert, yaml.SequenceNode)
			if err != nil {
				return src, false, err
			}
			insert = j
		}
		return apply(src, []edit{{start: start + closing, end: start + closing, insert: insert}}), true, nil
	}
	lastItem := n.Content[len(n.Content)-1]
	dash := indentOf(t.line(lastItem.Line))
	end := blockEnd(t, lastItem.Line, dash, false)
	at := len(t.src)
	if end < len(t.lineStarts) {
		at = t.lineStarts[end]
	}
	return apply(src, []edit{{start: at, end: at, insert: strings.Repeat(" ", dash) + "- " + item + "\n"}}), true, nil
}

// pathOf renders segments back into a field path.
func pathOf(segs []manifest.Segment) string {
	p := ""
	for _, s := range segs {
		if s.Index >= 0 {
			p = manifest.JoinIndex(p, s.Index)
		} else {
			p = manifest.JoinKey(p, s.Key)
		}
	}
	return p
}

// shared refuses an edit whose field lies in YAML that other places share:
// a node with an anchor (&name) or reached through an alias (*name), on the
// way to the field or at it. Editing the text there would change every place
// that uses the anchor (a pod-level securityContext would get
// container-only fields).
func shared(root *yaml.Node, path string) error {
	n := root
	check := func(n *yaml.Node) error {
		switch {
		case n.Kind == yaml.AliasNode:
			return fmt.Errorf("the field is reached through the YAML alias *%s, which other places share; edit it by hand, or give this object its own copy", n.Value)
		case n.Anchor != "" && n != root:
			return fmt.Errorf("the field is inside the YAML anchor &%s, which other places share; edit it by hand, or give this object its own copy", n.Anchor)
		}
		return nil
	}
	for _, s := range manifest.ParsePath(path) {
		if err := check(n); err != nil {
			return err
		}
		var next *yaml.Node
		if s.Index >= 0 {
			if n.Kind == yaml.SequenceNode && s.Index < len(n.Content) {
				next = n.Content[s.Index]
			}
		} else if n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == s.Key {
					next = n.Content[j+1]
					break
				}
			}
		}
		if next == nil {
			return nil // the rest of the path is missing: added below n
		}
		n = next
	}
	return check(n)
}
