package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// decoder fills a typed Go value straight from a YAML node tree, following
// the json tags of k8s.io/api types, and records every unknown field,
// duplicate field and wrong type with its path and position. It never stops at
// the first problem, so one pass yields the object and all its schema errors.
type decoder struct {
	errs   []FieldError
	offset int
	strict bool
}

// fieldPath is a field path built on the stack as the decoder descends and
// turned into a string only when an error needs it.
type fieldPath struct {
	parent *fieldPath
	key    string
	index  int // -1 for a key
}

func (p *fieldPath) String() string {
	if p == nil {
		return ""
	}
	if p.index >= 0 {
		return JoinIndex(p.parent.String(), p.index)
	}
	return JoinKey(p.parent.String(), p.key)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

type field struct {
	index []int
}

// typeInfo is what the decoder needs to know of a Go type, computed once.
type typeInfo struct {
	unmarshaler bool             // *T implements json.Unmarshaler
	fields      map[string]field // for structs
}

var typeCache sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeCache.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{unmarshaler: t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(unmarshalerType)}
	if t.Kind() == reflect.Struct {
		ti.fields = fieldsOf(t)
	}
	typeCache.Store(t, ti)
	return ti
}

// fieldsOf returns the JSON-visible fields of a struct type, with embedded
// (inline) structs flattened as encoding/json does.
func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, dup := out[name]; !dup {
				out[name] = field{index: idx}
			}
		}
	}
	walk(t, nil)
	return out
}

func (d *decoder) fail(n *yaml.Node, p *fieldPath, format string, args ...any) {
	if !d.strict {
		return
	}
	path := p.String()
	for i, a := range args {
		if _, ok := a.(pathPlaceholder); ok {
			args[i] = pathOrRoot(path)
		}
	}
	d.errs = append(d.errs, FieldError{
		Path:    path,
		Message: fmt.Sprintf(format, args...),
		Line:    n.Line + d.offset,
		Column:  n.Column,
	})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		s := resolveScalar(n)
		return "a " + s.kind.String()
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// pathPlaceholder in fail's arguments is replaced by the field path, which is
// only built when an error is recorded.
type pathPlaceholder struct{}

func (pathPlaceholder) String() string { return "" }

var pathArg pathPlaceholder

func isNull(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false
	}
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag == "!!null"
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// decode fills v (addressable) from n. path names the field for errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path *fieldPath) {
	n = deref(n)
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = deref(n.Content[0])
	}
	t := v.Type()
	ti := infoOf(t)
	if ti.unmarshaler {
		if isNull(n) {
			return
		}
		var b strings.Builder
		writeJSON(&b, n)
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON([]byte(b.String())); err != nil {
			// The value itself is not repeated: it may be a secret.
			d.fail(n, path, "%s is not a valid %s", pathArg, t.Name())
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "%s must be a mapping, not %s", pathArg, kindName(n))
			return
		}
		dups := newDupKeys(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := deref(n.Content[i]), n.Content[i+1]
			key := k.Value
			fp := fieldPath{parent: path, key: key, index: -1}
			if k.Kind != yaml.ScalarNode {
				d.fail(k, path, "%s has a key that is not a string", pathArg)
				continue
			}
			if dups.at(i) {
				d.fail(k, &fp, "duplicate field %q", pathArg)
				continue
			}
			f, ok := ti.fields[key]
			if !ok {
				d.fail(k, &fp, "unknown field %q", pathArg)
				continue
			}
			d.decode(val, fieldByIndex(v, f.index), &fp)
		}
	case reflect.Slice:
		if isNull(n) {
			v.SetZero()
			return
		}
		if t.Elem().Kind() == reflect.Uint8 {
			s, ok := d.str(n, path)
			if !ok {
				return
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				d.fail(n, path, "%s must be base64-encoded", pathArg)
				return
			}
			v.SetBytes(b)
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "%s must be a list, not %s", pathArg, kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), &fieldPath{parent: path, index: i})
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "%s must be a mapping, not %s", pathArg, kindName(n))
			return
		}
		if t.Key().Kind() != reflect.String {
			d.fail(n, path, "%s has an unsupported key type", pathArg)
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		dups := newDupKeys(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			fp := fieldPath{parent: path, key: k.Value, index: -1}
			if k.Kind != yaml.ScalarNode {
				d.fail(k, path, "%s has a key that is not a string", pathArg)
				continue
			}
			if dups.at(i) {
				d.fail(k, &fp, "duplicate field %q", pathArg)
				continue
			}
			ev := reflect.New(t.Elem()).Elem()
			d.decode(n.Content[i+1], ev, &fp)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.str(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		if s.kind != scalarBool {
			d.fail(n, path, "%s must be a boolean, not %s", pathArg, kindName(n))
			return
		}
		v.SetBool(s.b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		if s.kind != scalarInt || s.big || s.u != 0 || v.OverflowInt(s.i) {
			d.fail(n, path, "%s must be an integer that fits %s, not %s", pathArg, t.Kind(), kindName(n))
			return
		}
		v.SetInt(s.i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		u, ok := s.asUint()
		if !ok || v.OverflowUint(u) {
			d.fail(n, path, "%s must be a non-negative integer, not %s", pathArg, kindName(n))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		switch {
		case s.kind == scalarFloat && !math.IsInf(s.f, 0) && !math.IsNaN(s.f):
			v.SetFloat(s.f)
		case s.kind == scalarInt && !s.big && s.u == 0:
			v.SetFloat(float64(s.i))
		default:
			d.fail(n, path, "%s must be a number, not %s", pathArg, kindName(n))
		}
	case reflect.Interface:
		if t.NumMethod() == 0 {
			v.Set(reflect.ValueOf(generic(n)))
		}
	default:
		d.fail(n, path, "%s has an unsupported type", pathArg)
	}
}

// scalar resolves a scalar node for a boolean or numeric field; it returns
// nil, leaving the zero value, for null, and records an error for a mapping
// or a list.
func (d *decoder) scalar(n *yaml.Node, path *fieldPath) *scalar {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "%s must be a scalar, not %s", pathArg, kindName(n))
		return nil
	}
	s := resolveScalar(n)
	if s.kind == scalarNull {
		return nil
	}
	return &s
}

func (d *decoder) str(n *yaml.Node, path *fieldPath) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "%s must be a string, not %s", pathArg, kindName(n))
		return "", false
	}
	s := resolveScalar(n)
	switch s.kind {
	case scalarString:
		return s.str, true
	case scalarNull:
		return "", true
	}
	d.fail(n, path, "%s must be a string, not %s (quote the value)", pathArg, kindName(n))
	return "", false
}

// dupKeys finds repeated keys in a mapping: by a linear look-back for the
// small mappings that make up manifests, by a set for large ones.
type dupKeys struct {
	n    *yaml.Node
	seen map[string]struct{}
}

func newDupKeys(n *yaml.Node) dupKeys {
	d := dupKeys{n: n}
	if len(n.Content) > 32 {
		d.seen = make(map[string]struct{}, len(n.Content)/2)
	}
	return d
}

// at reports whether the key at Content[i] appeared before it.
func (d *dupKeys) at(i int) bool {
	k := deref(d.n.Content[i]).Value
	if d.seen != nil {
		_, dup := d.seen[k]
		d.seen[k] = struct{}{}
		return dup
	}
	for j := 0; j < i; j += 2 {
		if deref(d.n.Content[j]).Value == k {
			return true
		}
	}
	return false
}

func pathOrRoot(p string) string {
	if p == "" {
		return "the object"
	}
	return p
}

func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// generic converts a node to plain Go values (map[string]any, []any, scalars).
func generic(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return generic(n.Content[0])
		}
		return nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[deref(n.Content[i]).Value] = generic(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = generic(c)
		}
		return s
	default:
		s := resolveScalar(n)
		switch s.kind {
		case scalarNull:
			return nil
		case scalarBool:
			return s.b
		case scalarInt:
			if s.big {
				return s.str
			}
			if s.u != 0 {
				return s.u
			}
			return s.i
		case scalarFloat:
			return s.f
		default:
			return s.str
		}
	}
}

// NodeJSON renders a YAML node as compact JSON, scalars resolved as
// kubectl's YAML 1.1 reader resolves them (0644 is 420, yes is true).
func NodeJSON(n *yaml.Node) string {
	var b strings.Builder
	writeJSON(&b, n)
	return b.String()
}

// writeJSON renders a node as JSON.
func writeJSON(b *strings.Builder, n *yaml.Node) {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			writeJSON(b, n.Content[0])
		} else {
			b.WriteString("null")
		}
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(deref(n.Content[i]).Value))
			b.WriteByte(':')
			writeJSON(b, n.Content[i+1])
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, c)
		}
		b.WriteByte(']')
	default:
		b.WriteString(resolveScalar(n).json())
	}
}

func reflectValue(ptr any) reflect.Value {
	return reflect.ValueOf(ptr).Elem()
}
