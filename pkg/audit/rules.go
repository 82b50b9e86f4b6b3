package audit

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

//go:embed rules/*.yaml
var builtin embed.FS

// Item is one entry of a rules file, as in Falco's rule files: a list, a
// macro or a rule. A later item with the name of an earlier one replaces
// it, or with append (or override) adds to it; a rule given only with
// enabled switches it on or off.
type Item struct {
	List  string `json:"list,omitempty"`
	Items []any  `json:"items,omitempty"`

	Macro string `json:"macro,omitempty"`

	Rule      string `json:"rule,omitempty"`
	Desc      string `json:"desc,omitempty"`
	Condition string `json:"condition,omitempty"`
	// Output is the alert's message: {user}, {verb}, {resource},
	// {subresource}, {namespace}, {name}, {uri}, {code}, {sourceIP},
	// {userAgent}, {reason}, {images} and {/json/pointer} are replaced by
	// the event's values.
	Output string `json:"output,omitempty"`
	// Severity is Rampart's (critical, high, medium, low, info); Priority
	// is Falco's (EMERGENCY ... DEBUG), read when Severity is not given.
	Severity    string   `json:"severity,omitempty"`
	Priority    string   `json:"priority,omitempty"`
	MITRE       []string `json:"mitre,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`

	// Stateful rules: at most one of these (state.go).
	Threshold *Threshold `json:"threshold,omitempty"`
	FirstSeen *FirstSeen `json:"first_seen,omitempty"`
	Sequence  *Sequence  `json:"sequence,omitempty"`

	Append   bool              `json:"append,omitempty"`
	Override map[string]string `json:"override,omitempty"`

	// Falco's file-level entries, accepted and ignored.
	Source                 string `json:"source,omitempty"`
	RequiredEngineVersion  any    `json:"required_engine_version,omitempty"`
	RequiredPluginVersions any    `json:"required_plugin_versions,omitempty"`
	Exceptions             any    `json:"exceptions,omitempty"`
}

// Rule is a compiled rule.
type Rule struct {
	Name        string           `json:"rule"`
	Desc        string           `json:"desc,omitempty"`
	Severity    finding.Severity `json:"severity"`
	MITRE       []string         `json:"mitre,omitempty"`
	Remediation string           `json:"remediation,omitempty"`
	Tags        []string         `json:"tags,omitempty"`
	Condition   string           `json:"condition"`
	Output      string           `json:"output,omitempty"`
	Source      string           `json:"source"` // the file that defined it last

	// Stateful is "threshold", "first_seen" or "sequence" for rules that
	// remember across events.
	Stateful string `json:"stateful,omitempty"`

	program   cel.Program
	prefilter prefilter
	stateful  *stateful
}

// Ruleset is the lists, macros and rules of one or more files, in order.
type Ruleset struct {
	lists  map[string][]string
	macros map[string]string
	rules  map[string]*Item
	order  []string
	from   map[string]string
}

// NewRuleset returns an empty ruleset.
func NewRuleset() *Ruleset {
	return &Ruleset{lists: map[string][]string{}, macros: map[string]string{}, rules: map[string]*Item{}, from: map[string]string{}}
}

// Builtin returns the built-in rules.
func Builtin() *Ruleset {
	rs := NewRuleset()
	files, _ := fs.Glob(builtin, "rules/*.yaml")
	sort.Strings(files)
	for _, f := range files {
		data, _ := builtin.ReadFile(f)
		if err := rs.Add(path.Base(f), data); err != nil {
			panic(fmt.Sprintf("built-in audit rules %s: %v", f, err)) // caught by TestBuiltinRulesCompile
		}
	}
	return rs
}

// Add reads a rules file into the set.
func (rs *Ruleset) Add(name string, data []byte) error {
	var items []Item
	if err := yaml.UnmarshalStrict(data, &items); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i, it := range items {
		if err := rs.add(name, it); err != nil {
			return fmt.Errorf("%s: item %d: %w", name, i+1, err)
		}
	}
	return nil
}

func appends(it Item, field string) bool {
	return it.Append || it.Override[field] == "append"
}

func (rs *Ruleset) add(file string, it Item) error {
	switch {
	case it.List != "":
		items := make([]string, 0, len(it.Items))
		for _, x := range it.Items {
			items = append(items, fmt.Sprint(x))
		}
		if appends(it, "items") {
			if _, ok := rs.lists[it.List]; !ok {
				return fmt.Errorf("list %s: append to a list that is not defined", it.List)
			}
			rs.lists[it.List] = append(rs.lists[it.List], items...)
		} else {
			rs.lists[it.List] = items
		}
	case it.Macro != "":
		if appends(it, "condition") {
			old, ok := rs.macros[it.Macro]
			if !ok {
				return fmt.Errorf("macro %s: append to a macro that is not defined", it.Macro)
			}
			rs.macros[it.Macro] = old + " " + it.Condition
		} else {
			if strings.TrimSpace(it.Condition) == "" {
				return fmt.Errorf("macro %s has no condition", it.Macro)
			}
			rs.macros[it.Macro] = it.Condition
		}
	case it.Rule != "":
		old, exists := rs.rules[it.Rule]
		onlyEnabled := it.Enabled != nil && it.Condition == "" && it.Output == "" && it.Desc == "" && !it.Append && len(it.Override) == 0
		switch {
		case onlyEnabled || (exists && (it.Append || len(it.Override) > 0)):
			if !exists {
				return fmt.Errorf("rule %s: changes a rule that is not defined", it.Rule)
			}
			merged := *old
			if it.Enabled != nil {
				merged.Enabled = it.Enabled
			}
			if it.Condition != "" {
				if appends(it, "condition") {
					merged.Condition = old.Condition + " " + it.Condition
				} else {
					merged.Condition = it.Condition
				}
			}
			for _, f := range []struct {
				name     string
				dst, src *string
			}{{"output", &merged.Output, &it.Output}, {"desc", &merged.Desc, &it.Desc}, {"severity", &merged.Severity, &it.Severity},
				{"priority", &merged.Priority, &it.Priority}, {"remediation", &merged.Remediation, &it.Remediation}} {
				if *f.src != "" {
					*f.dst = *f.src
				}
			}
			if len(it.MITRE) > 0 {
				merged.MITRE = it.MITRE
			}
			if it.Threshold != nil || it.FirstSeen != nil || it.Sequence != nil {
				merged.Threshold, merged.FirstSeen, merged.Sequence = it.Threshold, it.FirstSeen, it.Sequence
			}
			if len(it.Tags) > 0 {
				merged.Tags = append(append([]string{}, old.Tags...), it.Tags...)
			}
			rs.rules[it.Rule] = &merged
		case it.Append:
			return fmt.Errorf("rule %s: append to a rule that is not defined", it.Rule)
		default:
			if strings.TrimSpace(it.Condition) == "" {
				return fmt.Errorf("rule %s has no condition", it.Rule)
			}
			c := it
			rs.rules[it.Rule] = &c
			if !exists {
				rs.order = append(rs.order, it.Rule)
			}
		}
		rs.from[it.Rule] = file
	}
	return nil
}

// List returns the items of a list, with the lists it names expanded.
func (rs *Ruleset) List(name string) []string { return rs.expandList(name, 0) }

func (rs *Ruleset) expandList(name string, depth int) []string {
	var out []string
	for _, x := range rs.lists[name] {
		if _, isList := rs.lists[x]; isList && depth < 16 && x != name {
			out = append(out, rs.expandList(x, depth+1)...)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// expand replaces the macro and list names of a condition by their text,
// recursively: macros in parentheses, lists as CEL list literals.
func (rs *Ruleset) expand(cond string, depth int) (string, error) {
	if depth > 32 {
		return "", errors.New("macros nested more than 32 deep (a cycle?)")
	}
	var b strings.Builder
	for i := 0; i < len(cond); {
		c := cond[i]
		switch {
		case c == '"' || c == '\'':
			// A string literal, copied as it is: triple-quoted ("""...""")
			// or not, raw (r"...": a backslash escapes nothing) or not.
			raw := i > 0 && (cond[i-1] == 'r' || cond[i-1] == 'R') && (i < 2 || !isIdent(cond[i-2]))
			quote := string(c)
			if strings.HasPrefix(cond[i:], strings.Repeat(quote, 3)) {
				quote = strings.Repeat(quote, 3)
			}
			j := i + len(quote)
			for j < len(cond) && !strings.HasPrefix(cond[j:], quote) {
				if cond[j] == '\\' && !raw {
					j++
				}
				j++
			}
			j = min(j+len(quote), len(cond))
			b.WriteString(cond[i:j])
			i = j
		case isIdentStart(c):
			j := i
			for j < len(cond) && isIdent(cond[j]) {
				j++
			}
			word := cond[i:j]
			prev := lastNonSpace(cond[:i])
			if prev == '?' && lastNonSpace(strings.TrimRight(cond[:i], " \t\n")[:len(strings.TrimRight(cond[:i], " \t\n"))-1]) == '.' {
				prev = '.' // optional field selection: x.?field
			}
			next := firstNonSpace(cond[j:])
			if prev != '.' && next != '(' {
				if m, ok := rs.macros[word]; ok {
					inner, err := rs.expand(m, depth+1)
					if err != nil {
						return "", fmt.Errorf("macro %s: %w", word, err)
					}
					b.WriteString("(" + inner + ")")
					i = j
					continue
				}
				if _, ok := rs.lists[word]; ok {
					items := rs.List(word)
					q := make([]string, len(items))
					for k, x := range items {
						q[k] = strconv.Quote(x)
					}
					b.WriteString("[" + strings.Join(q, ", ") + "]")
					i = j
					continue
				}
			}
			b.WriteString(word)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || (c >= '0' && c <= '9') }

func lastNonSpace(s string) byte {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			return s[i]
		}
	}
	return 0
}

func firstNonSpace(s string) byte {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			return s[i]
		}
	}
	return 0
}

// severityOf reads a rule's severity, or maps Falco's priority.
func severityOf(it *Item) (finding.Severity, error) {
	if it.Severity != "" {
		return finding.ParseSeverity(it.Severity)
	}
	switch strings.ToUpper(it.Priority) {
	case "EMERGENCY", "ALERT", "CRITICAL":
		return finding.Critical, nil
	case "ERROR":
		return finding.High, nil
	case "WARNING", "WARN":
		return finding.Medium, nil
	case "NOTICE":
		return finding.Low, nil
	case "INFO", "INFORMATIONAL", "DEBUG", "":
		return finding.Info, nil
	}
	return 0, fmt.Errorf("priority %q is not one of Falco's", it.Priority)
}

// env is the CEL environment rules are compiled in: the event as `event`,
// optional field selection (event.?objectRef.?namespace), the string
// extensions, image_repo (an image without tag or digest), to_json (a
// value's JSON text), ip_public (an address outside private ranges),
// intel_ip and intel_any (an address, any address of a list, on the threat
// intelligence lists: SetIntel).
func env() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.DynType),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.Function("to_json",
			cel.Overload("to_json_dyn", []*cel.Type{cel.DynType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					switch x := v.(type) {
					case jsonObject:
						return types.String(x.v.String())
					case jsonArray:
						return types.String(x.v.String())
					}
					return v.ConvertToType(types.StringType)
				}))),
		stringPredicate("ip_public", PublicAddress),
		cel.Function("intel_any",
			cel.Overload("intel_any_list", []*cel.Type{cel.ListType(cel.DynType)}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					in := intel.Load()
					l, ok := v.(traits.Lister)
					if in == nil || !ok {
						return types.False
					}
					for it := l.Iterator(); it.HasNext() == types.True; {
						if s, ok := it.Next().(types.String); ok && in.has(string(s)) {
							return types.True
						}
					}
					return types.False
				}))),
		stringPredicate("intel_ip", intelIP),
		cel.Function("image_repo",
			cel.Overload("image_repo_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.NewErr("image_repo wants a string")
					}
					return types.String(ImageRepository(string(s)))
				}))),
	)
}

// stringPredicate declares a CEL function name(string) bool.
func stringPredicate(name string, f func(string) bool) cel.EnvOption {
	return cel.Function(name, cel.Overload(name+"_string", []*cel.Type{cel.StringType}, cel.BoolType,
		cel.UnaryBinding(func(v ref.Val) ref.Val {
			s, ok := v.(types.String)
			if !ok {
				return types.NewErr("%s wants a string", name)
			}
			return types.Bool(f(string(s)))
		})))
}

// PublicAddress reports an IP address outside the private, shared,
// loopback and link-local ranges (an address that is not one is not
// public).
func PublicAddress(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	return !cgnat.Contains(a) // 100.64.0.0/10: carrier-grade NAT, and many clusters' pod networks
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// ImageRepository is an image reference without its tag or digest
// (Falco's image.repository).
func ImageRepository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i >= 0 && !strings.Contains(image[i:], "/") {
		image = image[:i]
	}
	return image
}

// Compile compiles the enabled rules, in the order they were first
// defined.
func (rs *Ruleset) Compile() ([]*Rule, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	fold, err := cel.NewConstantFoldingOptimizer()
	if err != nil {
		return nil, err
	}
	folder, err := cel.NewStaticOptimizer(fold)
	if err != nil {
		return nil, err
	}
	var out []*Rule
	var errs []error
	for _, name := range rs.order {
		it := rs.rules[name]
		if it.Enabled != nil && !*it.Enabled {
			continue
		}
		cond, err := rs.expand(it.Condition, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rule %q: %w", rs.from[name], name, err))
			continue
		}
		ast, iss := e.Compile(cond)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("%s: rule %q: %w", rs.from[name], name, iss.Err()))
			continue
		}
		// Lists and switched-off macros are constants: folded, a rule whose
		// condition can never hold is dropped, and what the condition
		// demands of the stage, verb and resource becomes its prefilter.
		if folded, iss := folder.Optimize(e, ast); iss.Err() == nil {
			ast = folded
		}
		if lit := ast.NativeRep().Expr(); lit.Kind() == celast.LiteralKind && lit.AsLiteral() == types.False {
			continue
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			errs = append(errs, fmt.Errorf("%s: rule %q: the condition is a %v, not a bool", rs.from[name], name, ast.OutputType()))
			continue
		}
		prg, err := e.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rule %q: %w", rs.from[name], name, err))
			continue
		}
		sev, err := severityOf(it)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rule %q: %w", rs.from[name], name, err))
			continue
		}
		st, err := rs.compileStateful(e, it)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rule %q: %w", rs.from[name], name, err))
			continue
		}
		kind := ""
		switch {
		case it.Threshold != nil:
			kind = "threshold"
		case it.FirstSeen != nil:
			kind = "first_seen"
		case it.Sequence != nil:
			kind = "sequence"
		}
		out = append(out, &Rule{prefilter: prefilterOf(ast.NativeRep().Expr()), stateful: st, Stateful: kind, Name: name, Desc: strings.TrimSpace(it.Desc), Severity: sev, MITRE: it.MITRE, Remediation: strings.TrimSpace(it.Remediation),
			Tags: it.Tags, Condition: strings.TrimSpace(it.Condition), Output: strings.TrimSpace(it.Output), Source: rs.from[name], program: prg})
	}
	return out, errors.Join(errs...)
}
