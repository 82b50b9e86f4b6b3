package manifest

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// scalarKind is the type a YAML scalar resolves to.
type scalarKind int

const (
	scalarString scalarKind = iota
	scalarNull
	scalarBool
	scalarInt
	scalarFloat
)

func (k scalarKind) String() string {
	switch k {
	case scalarNull:
		return "null"
	case scalarBool:
		return "boolean"
	case scalarInt:
		return "integer"
	case scalarFloat:
		return "number"
	default:
		return "string"
	}
}

// scalar is a resolved YAML scalar.
type scalar struct {
	kind scalarKind
	str  string
	b    bool
	i    int64
	u    uint64 // set with isUint when the value does not fit int64
	f    float64
	big  bool // integer that fits neither int64 nor uint64
}

// resolveScalar resolves a scalar node the way kubectl does: sigs.k8s.io/yaml
// decodes with YAML 1.1 rules, so plain yes/no/on/off are booleans and 0644 is
// octal. Quoted scalars and explicit !!str are always strings.
func resolveScalar(n *yaml.Node) scalar {
	v := n.Value
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return scalar{kind: scalarString, str: v}
	}
	if n.Style&yaml.TaggedStyle != 0 {
		switch n.Tag {
		case "!!str", "!!binary":
			return scalar{kind: scalarString, str: v}
		case "!!null":
			return scalar{kind: scalarNull}
		}
	}
	switch v {
	case "", "~", "null", "Null", "NULL":
		return scalar{kind: scalarNull}
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return scalar{kind: scalarBool, b: true}
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return scalar{kind: scalarBool, b: false}
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return scalar{kind: scalarFloat, f: math.Inf(1)}
	case "-.inf", "-.Inf", "-.INF":
		return scalar{kind: scalarFloat, f: math.Inf(-1)}
	case ".nan", ".NaN", ".NAN":
		return scalar{kind: scalarFloat, f: math.NaN()}
	}
	c := v[0]
	if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' {
		return scalar{kind: scalarString, str: v}
	}
	if s, ok := resolveInt(v); ok {
		return s
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil && looksFloat(v) {
		return scalar{kind: scalarFloat, f: f}
	}
	return scalar{kind: scalarString, str: v}
}

func looksFloat(v string) bool {
	// Reject forms ParseFloat accepts but YAML does not (hex floats, "Inf", "NaN").
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r == '.', r == 'e', r == 'E', r == '+', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func resolveInt(v string) (scalar, bool) {
	plain := strings.ReplaceAll(v, "_", "")
	neg := false
	body := plain
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" {
		return scalar{}, false
	}
	base := 10
	switch {
	case strings.HasPrefix(body, "0b"):
		base, body = 2, body[2:]
	case strings.HasPrefix(body, "0x"):
		base, body = 16, body[2:]
	case strings.HasPrefix(body, "0o"):
		base, body = 8, body[2:]
	case len(body) > 1 && body[0] == '0':
		base, body = 8, body[1:]
	}
	if body == "" {
		return scalar{}, false
	}
	u, err := strconv.ParseUint(body, base, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return scalar{kind: scalarInt, big: true, str: v}, true
		}
		return scalar{}, false
	}
	switch {
	case neg && u > 1<<63:
		return scalar{kind: scalarInt, big: true, str: v}, true
	case neg && u == 1<<63:
		return scalar{kind: scalarInt, i: math.MinInt64}, true
	case neg:
		return scalar{kind: scalarInt, i: -int64(u)}, true //nolint:gosec // u < 1<<63 here
	case u > math.MaxInt64:
		return scalar{kind: scalarInt, u: u, i: -1}, true
	}
	return scalar{kind: scalarInt, i: int64(u)}, true
}

// asUint returns a non-negative integer scalar as a uint64.
func (s scalar) asUint() (uint64, bool) {
	switch {
	case s.kind != scalarInt || s.big:
		return 0, false
	case s.u != 0:
		return s.u, true
	case s.i < 0:
		return 0, false
	}
	return uint64(s.i), true
}

// json renders the scalar as a JSON value.
func (s scalar) json() string {
	switch s.kind {
	case scalarNull:
		return "null"
	case scalarBool:
		if s.b {
			return "true"
		}
		return "false"
	case scalarInt:
		if s.big {
			return jsonString(s.str)
		}
		if s.u != 0 {
			return strconv.FormatUint(s.u, 10)
		}
		return strconv.FormatInt(s.i, 10)
	case scalarFloat:
		if math.IsInf(s.f, 0) || math.IsNaN(s.f) {
			return "null"
		}
		return strconv.FormatFloat(s.f, 'g', -1, 64)
	default:
		return jsonString(s.str)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
