package manifest

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Segment is one step of a field path: a mapping key or a sequence index.
type Segment struct {
	Key   string
	Index int // -1 for a key
}

// ParsePath splits a field path such as
// spec.containers[0].securityContext.privileged or
// metadata.annotations["rampart.dev/ignore"] into segments.
func ParsePath(p string) []Segment {
	var segs []Segment
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return segs
			}
			inner := p[i+1 : i+end]
			if n, err := strconv.Atoi(inner); err == nil {
				segs = append(segs, Segment{Index: n})
			} else if uq, err := strconv.Unquote(inner); err == nil {
				segs = append(segs, Segment{Key: uq, Index: -1})
			} else {
				segs = append(segs, Segment{Key: inner, Index: -1})
			}
			i += end + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, Segment{Key: p[i:j], Index: -1})
			i = j
		}
	}
	return segs
}

// JoinKey appends a mapping key to a path, quoting keys that are not plain.
func JoinKey(base, key string) string {
	plain := key != ""
	for _, r := range key {
		if r != '_' && r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			plain = false
			break
		}
	}
	if !plain {
		return base + "[" + strconv.Quote(key) + "]"
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// JoinIndex appends a sequence index to a path.
func JoinIndex(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// JoinPath is the inverse of ParsePath.
func JoinPath(segs []Segment) string {
	p := ""
	for _, s := range segs {
		if s.Index >= 0 {
			p = JoinIndex(p, s.Index)
		} else {
			p = JoinKey(p, s.Key)
		}
	}
	return p
}

// mapGet returns the value node for key in a mapping node, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// nodeString returns the string value of a scalar node, or "".
func nodeString(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
