package manifest

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// posNode is one field of a document in a compact position index: a few
// words per field instead of a whole yaml.Node, so a scan of a large
// repository does not keep every parsed node tree alive.
//
// Positions are int32: a document has at most MaxNodes entries and
// DefaultMaxDocumentSize bytes, far below 1<<31.
type posNode struct {
	key         string // mapping key; "" for sequence items
	line, col   int32
	first, next int32 // first child and next sibling, -1 when none
}

// positions indexes a document's fields; entry 0 is the root.
type positions []posNode

// indexNode appends the position index of n (aliases are indexed at the
// alias, not expanded). checkBounds has bounded depth and size before.
func indexNode(n *yaml.Node, idx *positions) int32 {
	if n.Kind == yaml.AliasNode {
		return -1
	}
	var first, last int32 = -1, -1
	link := func(child int32) {
		if first < 0 {
			first = child
		} else {
			(*idx)[last].next = child
		}
		last = child
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			self := int32(len(*idx))                                                                                   //nolint:gosec // bounded by MaxNodes
			*idx = append(*idx, posNode{key: k.Value, line: int32(k.Line), col: int32(k.Column), first: -1, next: -1}) //nolint:gosec // bounded by the document size
			(*idx)[self].first = indexNode(v, idx)
			link(self)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			self := int32(len(*idx))                                                                           //nolint:gosec // bounded by MaxNodes
			*idx = append(*idx, posNode{line: int32(item.Line), col: int32(item.Column), first: -1, next: -1}) //nolint:gosec // bounded by the document size
			(*idx)[self].first = indexNode(item, idx)
			link(self)
		}
	default:
		for _, c := range n.Content {
			indexNode(c, idx)
		}
	}
	return first
}

// indexDocument builds the position index of a document's root node.
func indexDocument(n *yaml.Node, buf positions) positions {
	line, col := n.Line, n.Column
	if n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		line, col = n.Content[0].Line, n.Content[0].Column
	}
	idx := append(buf[:0], posNode{line: int32(line), col: int32(col), first: -1, next: -1}) //nolint:gosec // bounded by the document size
	idx[0].first = indexNode(n, &idx)
	return idx
}

// locatePath is locate for a path string, parsed as it is walked, without
// allocating: the hot path of every finding.
func (p positions) locatePath(path string) (int, int) {
	if len(p) == 0 {
		return 0, 0
	}
	cur := int32(0)
	for i := 0; i < len(path); {
		var key string
		index := -1
		switch path[i] {
		case '.':
			i++
			continue
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return int(p[cur].line), int(p[cur].col)
			}
			inner := path[i+1 : i+end]
			i += end + 1
			if n, err := strconv.Atoi(inner); err == nil {
				index = n
			} else if uq, err := strconv.Unquote(inner); err == nil {
				key = uq
			} else {
				key = inner
			}
		default:
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			key, i = path[i:j], j
		}
		c, n := p[cur].first, 0
		for ; c >= 0; c, n = p[c].next, n+1 {
			if index >= 0 && p[c].key == "" && n == index || index < 0 && p[c].key == key && key != "" {
				break
			}
		}
		if c < 0 {
			break
		}
		cur = c
	}
	return int(p[cur].line), int(p[cur].col)
}

// has reports whether every segment of path exists.
func (p positions) has(path string) bool {
	if len(p) == 0 {
		return false
	}
	cur := int32(0)
	for _, s := range ParsePath(path) {
		c, n := p[cur].first, 0
		for ; c >= 0; c, n = p[c].next, n+1 {
			if s.Index >= 0 && p[c].key == "" && n == s.Index || s.Index < 0 && p[c].key == s.Key && p[c].key != "" {
				break
			}
		}
		if c < 0 {
			return false
		}
		cur = c
	}
	return true
}
