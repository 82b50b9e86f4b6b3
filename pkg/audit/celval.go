package audit

import (
	"fmt"
	"math"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/valyala/fastjson"
	"sigs.k8s.io/json"
)

// The event as CEL sees it: objects and arrays of the JSON tree are
// wrapped, not converted, so a rule pays only for the fields it reads.

// jsonValue converts a JSON value for CEL: scalars become CEL's, objects
// and arrays are wrapped.
func jsonValue(v *fastjson.Value) ref.Val {
	if v == nil {
		return types.NullValue
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return types.String(b)
	case fastjson.TypeNumber:
		f, _ := v.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return types.Int(int64(f))
		}
		return types.Double(f)
	case fastjson.TypeTrue:
		return types.True
	case fastjson.TypeFalse:
		return types.False
	case fastjson.TypeObject:
		return jsonObject{v}
	case fastjson.TypeArray:
		a, _ := v.Array()
		return jsonArray{v, a}
	}
	return types.NullValue
}

func native(v *fastjson.Value) (any, error) {
	var out any
	err := json.UnmarshalCaseSensitivePreserveInts(v.MarshalTo(nil), &out)
	return out, err
}

type jsonObject struct{ v *fastjson.Value }

var (
	_ traits.Mapper = jsonObject{}
	_ traits.Lister = jsonArray{}
)

func (o jsonObject) ConvertToNative(t reflect.Type) (any, error) { return nativeAs(o.v, t) }

// nativeAs is v decoded into Go values, if they are of type t.
func nativeAs(v *fastjson.Value, t reflect.Type) (any, error) {
	n, err := native(v)
	if err != nil {
		return nil, err
	}
	if n != nil && reflect.TypeOf(n).AssignableTo(t) {
		return n, nil
	}
	return nil, fmt.Errorf("cannot convert %s JSON to %v", v.Type(), t)
}

func (o jsonObject) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	case types.StringType:
		return types.String(o.v.String())
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

func (o jsonObject) Equal(other ref.Val) ref.Val {
	if x, ok := other.(jsonObject); ok {
		return types.Bool(o.v.String() == x.v.String())
	}
	return types.False
}

func (o jsonObject) Type() ref.Type { return types.MapType }
func (o jsonObject) Value() any     { return o.v }

func (o jsonObject) key(k ref.Val) (string, bool) {
	s, ok := k.(types.String)
	return string(s), ok
}

func (o jsonObject) Contains(k ref.Val) ref.Val {
	s, ok := o.key(k)
	return types.Bool(ok && o.v.Get(s) != nil)
}

func (o jsonObject) Get(k ref.Val) ref.Val {
	if v, ok := o.Find(k); ok {
		return v
	}
	return types.NewErr("no such key: %v", k)
}

func (o jsonObject) Find(k ref.Val) (ref.Val, bool) {
	s, ok := o.key(k)
	if !ok {
		return nil, false
	}
	v := o.v.Get(s)
	if v == nil {
		return nil, false
	}
	return jsonValue(v), true
}

func (o jsonObject) Size() ref.Val {
	obj, _ := o.v.Object()
	return types.Int(obj.Len())
}

func (o jsonObject) Iterator() traits.Iterator {
	obj, _ := o.v.Object()
	var keys []ref.Val
	obj.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, types.String(k)) })
	return &sliceIterator{vals: keys}
}

type jsonArray struct {
	v *fastjson.Value
	a []*fastjson.Value
}

func (a jsonArray) ConvertToNative(t reflect.Type) (any, error) { return nativeAs(a.v, t) }

func (a jsonArray) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.ListType:
		return a
	case types.TypeType:
		return types.ListType
	case types.StringType:
		return types.String(a.v.String())
	}
	return types.NewErr("type conversion error from list to '%s'", t)
}

func (a jsonArray) Equal(other ref.Val) ref.Val {
	if x, ok := other.(jsonArray); ok {
		return types.Bool(a.v.String() == x.v.String())
	}
	l, ok := other.(traits.Lister)
	if !ok || l.Size() != types.Int(len(a.a)) {
		return types.False
	}
	for i, v := range a.a {
		if jsonValue(v).Equal(l.Get(types.Int(i))) != types.True {
			return types.False
		}
	}
	return types.True
}

func (a jsonArray) Type() ref.Type { return types.ListType }
func (a jsonArray) Value() any     { return a.v }

func (a jsonArray) Add(other ref.Val) ref.Val {
	l, ok := other.(traits.Lister)
	if !ok {
		return types.NewErr("no such overload")
	}
	vals := make([]ref.Val, 0, len(a.a))
	for _, v := range a.a {
		vals = append(vals, jsonValue(v))
	}
	return types.DefaultTypeAdapter.NativeToValue(vals).(traits.Lister).Add(l)
}

func (a jsonArray) Contains(elem ref.Val) ref.Val {
	for _, v := range a.a {
		if jsonValue(v).Equal(elem) == types.True {
			return types.True
		}
	}
	return types.False
}

func (a jsonArray) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok || i < 0 || int(i) >= len(a.a) {
		return types.NewErr("index out of range: %v", index)
	}
	return jsonValue(a.a[i])
}

func (a jsonArray) Size() ref.Val { return types.Int(len(a.a)) }

func (a jsonArray) Iterator() traits.Iterator {
	vals := make([]ref.Val, len(a.a))
	for i, v := range a.a {
		vals[i] = jsonValue(v)
	}
	return &sliceIterator{vals: vals}
}

type sliceIterator struct {
	vals []ref.Val
	i    int
}

func (it *sliceIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.vals)) }
func (it *sliceIterator) Next() ref.Val {
	if it.i >= len(it.vals) {
		return nil
	}
	v := it.vals[it.i]
	it.i++
	return v
}
func (it *sliceIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("an iterator is not a value")
}
func (it *sliceIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("an iterator is not a value")
}
func (it *sliceIterator) Equal(ref.Val) ref.Val { return types.False }
func (it *sliceIterator) Type() ref.Type        { return types.IteratorType }
func (it *sliceIterator) Value() any            { return nil }
