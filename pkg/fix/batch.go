package fix

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// applyBatch makes the sets of several recipes (one alternative each) on
// one parse of src, as making them one after the other would: values
// replaced in place, and the keys created under one mapping merged into one
// block (or flow) insertion, in the order they were asked for. It returns
// the new text and, per recipe, whether it changed anything. ok is false
// when the batch cannot be made on one parse — JSON, an operation other
// than set, YAML the editor does not rewrite, two recipes that disagree on
// a field — and the caller then makes the recipes one at a time.
func applyBatch(src string, rootLine int, recipes [][]set) (string, []bool, bool) {
	if jsonDoc(src) {
		return src, nil, false
	}
	root, err := findRoot(src, rootLine)
	if err != nil {
		return src, nil, false
	}
	return applyBatchOn(src, newText(src), root, recipes)
}

// applyBatchOn is applyBatch on a parse of src already made (t and the
// object's root mapping), which it leaves as it was.
func applyBatchOn(src string, t *text, root *yaml.Node, recipes [][]set) (string, []bool, bool) {
	b := batch{t: t, root: root, replaced: map[*yaml.Node]string{}, trees: map[*yaml.Node]*keyTree{}}
	changed := make([]bool, len(recipes))
	for i, sets := range recipes {
		for _, s := range sets {
			ch, ok := b.set(s)
			if !ok {
				return src, nil, false
			}
			changed[i] = changed[i] || ch
		}
	}
	edits := b.edits
	for _, n := range b.order {
		e, ok := b.trees[n].edit(t, n)
		if !ok {
			return src, nil, false
		}
		edits = append(edits, e)
	}
	// Made from the end of the text back. Inserts at one offset: the
	// deeper mapping's keys must come first in the text (it ends where its
	// parent ends), so they are inserted last.
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start > edits[j].start
		}
		return edits[i].indent < edits[j].indent
	})
	out := src
	for _, e := range edits {
		out = out[:e.start] + e.insert + out[e.end:]
	}
	return out, changed, true
}

type batch struct {
	t        *text
	root     *yaml.Node
	edits    []edit
	replaced map[*yaml.Node]string // existing nodes given a new value
	trees    map[*yaml.Node]*keyTree
	order    []*yaml.Node // mappings that get keys, first asked first
}

// set records one set; ok is false when it cannot join the batch.
func (b *batch) set(s set) (changed, ok bool) {
	if s.Op != opSet {
		return false, false
	}
	if shared(b.root, s.Path) != nil {
		return false, false
	}
	n, rest, _ := lookupKey(b.root, manifest.ParsePath(s.Path))
	if len(rest) == 0 {
		if s.IfMissing {
			return false, true
		}
		if v, ok := b.replaced[n]; ok {
			return false, v == s.Value
		}
		if b.trees[n] != nil {
			return false, false // a value set where keys were added
		}
		e, ch, err := setEdit(b.t, b.root, s.Path, s.Value)
		if err != nil {
			return false, false
		}
		if ch {
			b.replaced[n] = s.Value
			b.edits = append(b.edits, e)
		}
		return ch, true
	}
	keys := make([]string, 0, len(rest))
	for _, seg := range rest {
		if seg.Index >= 0 {
			return false, false
		}
		keys = append(keys, seg.Key)
	}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 && n.Style&yaml.FlowStyle == 0 {
		return false, false
	}
	if _, ok := b.replaced[n]; ok {
		return false, false
	}
	tree := b.trees[n]
	if tree == nil {
		// setEdit says whether the mapping takes new keys at all.
		if _, _, err := setEdit(b.t, b.root, s.Path, s.Value); err != nil {
			return false, false
		}
		tree = &keyTree{}
		b.trees[n] = tree
		b.order = append(b.order, n)
	}
	return tree.add(keys, s.Value, s.IfMissing)
}

// keyTree is the keys a batch creates under one mapping, in order.
type keyTree struct {
	keys     []string
	children map[string]*keyTree
	values   map[string]string // leaves
}

func (k *keyTree) add(keys []string, value string, ifMissing bool) (changed, ok bool) {
	if k.children == nil {
		k.children, k.values = map[string]*keyTree{}, map[string]string{}
	}
	key := keys[0]
	v, leaf := k.values[key]
	child, inner := k.children[key]
	if len(keys) == 1 {
		switch {
		case inner:
			return false, false // a value where keys were added
		case leaf && (ifMissing || v == value):
			return false, true
		case leaf:
			return false, false // two recipes disagree
		}
		k.keys = append(k.keys, key)
		k.values[key] = value
		return true, true
	}
	if leaf {
		return false, false
	}
	if !inner {
		child = &keyTree{}
		k.children[key] = child
		k.keys = append(k.keys, key)
	}
	return child.add(keys[1:], value, ifMissing)
}

// edit renders the keys as the insertion setEdit makes for one of them.
func (k *keyTree) edit(t *text, n *yaml.Node) (edit, bool) {
	if n.Style&yaml.FlowStyle != 0 {
		if n.Line != endLineOfFlow(t, n) {
			return edit{}, false
		}
		closing := matchingBrace(t.src, t.offset(n.Line, n.Column))
		if closing < 0 {
			return edit{}, false
		}
		sep := ", "
		if len(n.Content) == 0 {
			sep = ""
		}
		return edit{start: closing, end: closing, insert: sep + k.flow()}, true
	}
	indent := n.Content[0].Column - 1
	end := endOfMapping(t, n)
	at := len(t.src)
	if end < len(t.lineStarts) {
		at = t.lineStarts[end]
	}
	var sb strings.Builder
	k.block(&sb, indent)
	ins := sb.String()
	if at == len(t.src) && !strings.HasSuffix(t.src, "\n") {
		ins = "\n" + strings.TrimSuffix(ins, "\n")
	}
	return edit{start: at, end: at, insert: ins, indent: indent}, true
}

func (k *keyTree) block(sb *strings.Builder, indent int) {
	for _, key := range k.keys {
		sb.WriteString(strings.Repeat(" ", indent))
		sb.WriteString(key)
		sb.WriteString(":")
		if v, ok := k.values[key]; ok {
			sb.WriteString(" " + v + "\n")
			continue
		}
		sb.WriteString("\n")
		k.children[key].block(sb, indent+2)
	}
}

func (k *keyTree) flow() string {
	parts := make([]string, 0, len(k.keys))
	for _, key := range k.keys {
		if v, ok := k.values[key]; ok {
			parts = append(parts, key+": "+v)
			continue
		}
		parts = append(parts, key+": {"+k.children[key].flow()+"}")
	}
	return strings.Join(parts, ", ")
}
