package manifest

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// MinAliasBytes is the text aliases may always expand to in one document;
// beyond it, expansion may reach AliasBytesFactor times the document's size.
// Together with MaxNodes this bounds what a document costs whatever its
// aliases do (kubectl's YAML library limits alias expansion the same way).
const (
	MinAliasBytes    = 1 << 20
	AliasBytesFactor = 4
)

var (
	aliasMsg      = fmt.Sprintf("document expands to more than %d nodes through aliases (a \"billion laughs\" document?); skipped", MaxNodes)
	aliasBytesMsg = "document's aliases expand to more than 4 times its size (a \"billion laughs\" document?); skipped"
	depthMsg      = fmt.Sprintf("document nests deeper than %d levels; skipped", MaxDepth)
)

type boundsError struct {
	line int
	msg  string
}

// bounds walks a document as a decoder would see it, aliases expanded,
// charging every node and every byte reached through an alias.
type bounds struct {
	nodes      int // left
	aliasBytes int // left
}

// checkBounds enforces MaxDepth, MaxNodes and the alias byte budget on a
// document of size bytes before anything else walks it.
func checkBounds(n *yaml.Node, size int) *boundsError {
	b := bounds{nodes: MaxNodes, aliasBytes: max(MinAliasBytes, AliasBytesFactor*size)}
	return b.walk(n, 0, false)
}

func (b *bounds) walk(n *yaml.Node, depth int, viaAlias bool) *boundsError {
	b.nodes--
	if b.nodes < 0 {
		return &boundsError{line: n.Line, msg: aliasMsg}
	}
	if depth > MaxDepth {
		return &boundsError{line: n.Line, msg: depthMsg}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil
		}
		if err := b.walk(n.Alias, depth+1, true); err != nil {
			if err.line == 0 || err.msg != depthMsg {
				err.line = n.Line
			}
			return err
		}
		return nil
	}
	if viaAlias {
		b.aliasBytes -= len(n.Value) + len(n.Tag)
		if b.aliasBytes < 0 {
			return &boundsError{line: n.Line, msg: aliasBytesMsg}
		}
	}
	for _, c := range n.Content {
		if err := b.walk(c, depth+1, viaAlias); err != nil {
			return err
		}
	}
	return nil
}

// applyMerges applies YAML merge keys ("<<: *anchor" or "<<: [*a, *b]") in
// every mapping under n as kubectl's YAML library (sigs.k8s.io/yaml, from
// go-yaml v2) does: entries in document order, the last writer of a key
// winning, a merge writing its mapping's keys where it stands (of a list,
// the first mapping wins). The merged keys keep the positions of the anchor
// they come from. done holds the nodes already seen.
func applyMerges(n *yaml.Node, done map[*yaml.Node]bool) {
	if n == nil || done[n] {
		return
	}
	done[n] = true
	if n.Kind == yaml.AliasNode {
		applyMerges(n.Alias, done)
		return
	}
	for _, c := range n.Content {
		applyMerges(c, done)
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMergeKey(n.Content[i]) {
			hasMerge = true
			break
		}
	}
	if !hasMerge {
		return
	}
	at := map[string]int{} // key → index of its value in content
	var content []*yaml.Node
	set := func(k, v *yaml.Node) {
		if i, ok := at[k.Value]; ok {
			content[i-1], content[i] = k, v
			return
		}
		content = append(content, k, v)
		at[k.Value] = len(content) - 1
	}
	mergeFrom := func(src *yaml.Node) {
		src = deref(src)
		if src.Kind != yaml.MappingNode {
			return // kubectl refuses these; the decoder reports the type
		}
		for i := 0; i+1 < len(src.Content); i += 2 {
			set(src.Content[i], src.Content[i+1])
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			set(k, v)
			continue
		}
		if v = deref(v); v.Kind == yaml.SequenceNode {
			for j := len(v.Content) - 1; j >= 0; j-- {
				mergeFrom(v.Content[j])
			}
		} else {
			mergeFrom(v)
		}
	}
	n.Content = content
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "" || k.Style == 0)
}

// hasMergeKey reports whether any mapping under n has a "<<" key.
func hasMergeKey(n *yaml.Node, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && isMergeKey(c) {
			return true
		}
		if c.Kind != yaml.ScalarNode && c.Kind != yaml.AliasNode && hasMergeKey(c, depth+1) {
			return true
		}
	}
	return false
}
