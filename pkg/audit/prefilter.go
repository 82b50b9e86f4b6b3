package audit

import (
	"slices"

	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/valyala/fastjson"
)

// A prefilter is what a rule's condition demands of four fields every
// event has, read from the condition itself: a rule whose condition is
// `kevt && pod && kcreate && ...` is only evaluated on completed creates
// of pods. The test costs a few map lookups and no allocation; most events
// of a busy cluster (lease renewals, reads, watches) then reach only the
// few rules that look at every event.
type prefilter [len(prefilterFields)]map[string]bool // nil: any value

// The fields a prefilter can test, and how the conditions read them.
var prefilterFields = [...][]string{{"stage"}, {"verb"}, {"objectRef", "resource"}, {"objectRef", "subresource"}}

// The prefilter fields' indexes.
const (
	fieldStage = iota
	fieldVerb
	fieldResource
	fieldSubresource
)

// eventFields are an event's values of the prefilter fields ("" when
// missing, as orValue("") reads them), read once per event.
type eventFields [len(prefilterFields)][]byte

func fieldsOf(v *fastjson.Value) eventFields {
	var f eventFields
	for i, path := range prefilterFields {
		f[i] = v.GetStringBytes(path...)
	}
	return f
}

// allows reports whether field i's value can satisfy the condition.
func (p *prefilter) allows(i int, v []byte) bool {
	return p[i] == nil || p[i][string(v)]
}

// prefilterOf collects the constraints of the condition's top-level
// conjunction: `F == "x"`, `F in ["x", "y"]`, and disjunctions of those on
// one field, where F is event.stage, event.verb, or
// event.?objectRef.?resource / ?subresource .orValue("").
func prefilterOf(e ast.Expr) prefilter {
	var p prefilter
	var conj func(e ast.Expr)
	conj = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == "_&&_" {
			for _, a := range e.AsCall().Args() {
				conj(a)
			}
			return
		}
		if i, set, ok := constraint(e); ok {
			if old := p[i]; old != nil {
				both := map[string]bool{}
				for v := range set {
					if old[v] {
						both[v] = true
					}
				}
				set = both
			}
			p[i] = set
		}
	}
	conj(e)
	return p
}

// constraint reads one conjunct as a set of allowed values of one field
// (its index).
func constraint(e ast.Expr) (int, map[string]bool, bool) {
	if e.Kind() != ast.CallKind {
		return 0, nil, false
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case "_==_":
		if len(args) != 2 {
			return 0, nil, false
		}
		for _, pair := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if key, ok := accessor(pair[0]); ok {
				if s, ok := stringLiteral(pair[1]); ok {
					return key, map[string]bool{s: true}, true
				}
			}
		}
	case "@in":
		if len(args) != 2 || args[1].Kind() != ast.ListKind {
			return 0, nil, false
		}
		key, ok := accessor(args[0])
		if !ok {
			return 0, nil, false
		}
		set := map[string]bool{}
		for _, el := range args[1].AsList().Elements() {
			s, ok := stringLiteral(el)
			if !ok {
				return 0, nil, false
			}
			set[s] = true
		}
		return key, set, true
	case "_||_":
		key := -1
		set := map[string]bool{}
		for _, a := range args {
			k, s, ok := constraint(a)
			if !ok || (key >= 0 && k != key) {
				return 0, nil, false
			}
			key = k
			for v := range s {
				set[v] = true
			}
		}
		return key, set, key >= 0
	}
	return 0, nil, false
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// accessor recognizes event.stage, event.verb (a missing field is an
// error, so no match: the same as reading "") and
// event.?F.orValue("") for them and for objectRef's resource and
// subresource, and returns the field's index.
func accessor(e ast.Expr) (int, bool) {
	var path []string
	switch e.Kind() {
	case ast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() || s.Operand().Kind() != ast.IdentKind || s.Operand().AsIdent() != "event" {
			return 0, false
		}
		path = []string{s.FieldName()}
	case ast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != "orValue" || !c.IsMemberFunction() || len(c.Args()) != 1 {
			return 0, false
		}
		if def, ok := stringLiteral(c.Args()[0]); !ok || def != "" {
			return 0, false
		}
		p, ok := optionalPath(c.Target())
		if !ok {
			return 0, false
		}
		path = p
	default:
		return 0, false
	}
	for i, f := range prefilterFields {
		if slices.Equal(f, path) {
			return i, true
		}
	}
	return 0, false
}

// optionalPath reads event.?a.?b as [a b].
func optionalPath(e ast.Expr) ([]string, bool) {
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "_?._" || len(e.AsCall().Args()) != 2 {
		return nil, false
	}
	args := e.AsCall().Args()
	field, ok := stringLiteral(args[1])
	if !ok {
		return nil, false
	}
	if args[0].Kind() == ast.IdentKind && args[0].AsIdent() == "event" {
		return []string{field}, true
	}
	base, ok := optionalPath(args[0])
	if !ok {
		return nil, false
	}
	return append(base, field), true
}
