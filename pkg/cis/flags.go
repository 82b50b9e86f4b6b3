package cis

import (
	"strings"
)

// Arg is one flag of a command line.
type Arg struct {
	// Name is the flag with its dashes: "--profiling".
	Name  string
	Value string
	// Inline: given as --name=value (or a bool flag alone); otherwise the
	// value is the next item.
	Inline bool
	// Item is the index of the flag's item in the command line; the value
	// is at Item+1 when not Inline.
	Item int
	// Stray is a "true" or "false" after a boolean flag given alone: the
	// flag library does not read it as the flag's value.
	Stray string
}

// CommandLine is a component's flags, parsed as the component's flag
// library parses them.
type CommandLine struct {
	Items []string
	Args  []Arg
	// Positional are the items that are not flags (the binary first).
	Positional []string
}

// ParseCommandLine reads argv (the binary first, when present) as pflag
// does: --name=value; --name value for flags that are not booleans (the next
// item is the value, whatever it looks like, unless it is a flag); a
// boolean alone is true; -- ends the flags. Single-dash long flags (-name)
// are accepted for etcd, whose flag library reads them.
func ParseCommandLine(argv []string, comp *Component) *CommandLine {
	cl := &CommandLine{Items: argv}
	singleDash := comp != nil && comp.Binary == "etcd"
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			cl.Positional = append(cl.Positional, argv[i+1:]...)
			break
		}
		name := ""
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name = a
		case singleDash && len(a) > 2 && a[0] == '-' && a[1] != '-' && !isNumber(a[1:]):
			name = "-" + a
		default:
			cl.Positional = append(cl.Positional, a)
			continue
		}
		arg := Arg{Item: i, Inline: true}
		if n, v, ok := strings.Cut(name, "="); ok {
			arg.Name, arg.Value = normalize(n), v
		} else {
			arg.Name = normalize(name)
			name = arg.Name
			isBool := comp != nil && comp.isBool(name)
			if isBool {
				arg.Value = "true"
				if i+1 < len(argv) && (strings.EqualFold(argv[i+1], "true") || strings.EqualFold(argv[i+1], "false")) {
					arg.Stray = argv[i+1]
				}
			} else if i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "--") {
				arg.Value, arg.Inline = argv[i+1], false
				i++
			}
		}
		cl.Args = append(cl.Args, arg)
	}
	return cl
}

// normalize spells a flag name as Kubernetes components do before looking
// it up: underscores are dashes (--token_auth_file is --token-auth-file).
func normalize(name string) string { return "--" + strings.ReplaceAll(name[2:], "_", "-") }

func isNumber(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return s != ""
}

// Lookup is a flag's effective value: the last one given, or for list flags
// every value given joined with commas, or for map flags the keys merged.
// The Arg is the last occurrence (where a fix edits).
func (cl *CommandLine) Lookup(name string, comp *Component) (value string, arg *Arg) {
	if cl == nil {
		return "", nil
	}
	var parts []string
	for i := range cl.Args {
		a := &cl.Args[i]
		if a.Name != name {
			continue
		}
		arg = a
		if comp != nil && (comp.isList(name) || comp.isMap(name)) {
			if a.Value != "" {
				parts = append(parts, a.Value)
			}
		} else {
			value = a.Value
		}
	}
	if arg != nil && comp != nil && comp.isMap(name) {
		return joinMap(parseMap(strings.Join(parts, ","))), arg
	}
	if arg != nil && comp != nil && comp.isList(name) {
		return strings.Join(parts, ","), arg
	}
	return value, arg
}

// parseMap reads "a=true,b=false" (later keys win).
func parseMap(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, _ := strings.Cut(kv, "=")
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// splitList splits a comma list, trimming spaces and dropping empties.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
