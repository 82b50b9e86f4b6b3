package secret

import (
	"regexp"
	"strings"
)

// Redacted replaces a credential value in text shown to people.
const Redacted = "<redacted>"

// Redactor hides credential values in lines of manifest text shown to
// people (the diff fix prints): the value of a key whose name says secret,
// the value after an env var's name that says secret, NAME=value and
// --flag=value pairs, and known token formats anywhere. Feed it the lines in
// order: it remembers the last `name:` for the `value:` that follows.
type Redactor struct {
	name string
}

var (
	yamlKV   = regexp.MustCompile(`^(\s*(?:-\s+)?)("[^"]*"|'[^']*'|[^\s:#"'{\[][^:#]*?):(?:\s+(.*?))?\s*$`)
	assign   = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.-]*)=("[^"]*"|'[^']*'|[^\s"',\]\}]+)`)
	tokenSep = regexp.MustCompile(`[\s"',\[\]{}=]+`)
)

// Line returns l with every credential value it holds replaced by Redacted.
func (r *Redactor) Line(l string) string {
	if m := yamlKV.FindStringSubmatch(l); m != nil {
		key := strings.Trim(m[2], `"'`)
		val := strings.Trim(m[3], `"'`)
		switch {
		case key == "name":
			r.name = val
		case val != "":
			k := key
			if key == "value" && r.name != "" {
				k = r.name
			}
			if _, ok := Detect(k, val); ok {
				l = strings.ReplaceAll(l, val, Redacted)
			}
		}
	}
	for _, m := range assign.FindAllStringSubmatch(l, -1) {
		v := strings.Trim(m[2], `"'`)
		if _, ok := Detect(m[1], v); ok {
			l = strings.ReplaceAll(l, v, Redacted)
		}
	}
	for _, tok := range tokenSep.Split(l, -1) {
		if len(tok) >= 8 && tok != Redacted {
			if _, ok := Detect("", tok); ok {
				l = strings.ReplaceAll(l, tok, Redacted)
			}
		}
	}
	return l
}
