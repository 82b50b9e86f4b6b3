package exposure

import (
	"reflect"
	"sort"
)

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Change is one entry NEW adds, removes or changes (its sources,
// addresses, TLS or what it reaches) compared with OLD.
type Change struct {
	Op    string `json:"change"`
	Entry Entry  `json:"entry"`
	Was   *Entry `json:"was,omitempty"`
}

// Diff compares two inventories' entries by ID, ignoring where they are
// written (file and line).
func Diff(oldE, newE []Entry) []Change {
	old := map[string]Entry{}
	for _, e := range oldE {
		old[e.ID] = e
	}
	seen := map[string]bool{}
	out := []Change{}
	for _, e := range newE {
		seen[e.ID] = true
		o, ok := old[e.ID]
		switch {
		case !ok:
			out = append(out, Change{Op: Added, Entry: e})
		case !same(o, e):
			was := o
			out = append(out, Change{Op: Changed, Entry: e, Was: &was})
		}
	}
	for _, e := range oldE {
		if !seen[e.ID] {
			out = append(out, Change{Op: Removed, Entry: e})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Entry.ID != out[j].Entry.ID {
			return out[i].Entry.ID < out[j].Entry.ID
		}
		return out[i].Op < out[j].Op
	})
	return out
}

func same(a, b Entry) bool {
	a.Where, b.Where = nil, nil
	a.Field, b.Field = "", ""
	return reflect.DeepEqual(a, b)
}
