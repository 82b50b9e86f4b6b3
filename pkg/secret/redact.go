package secret

import (
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces a credential value in text shown to people.
const Redacted = "<redacted>"

// Redactor hides credential values in lines of manifest text shown to
// people (the diff fix prints): what every detector finds in a line, the
// value of a key whose name says secret, the value after an env var's name
// that says secret, the body of a private key block, and every value in a
// Secret's data and stringData. Feed it the lines of a file in order: it
// follows names, blocks and documents across lines.
type Redactor struct {
	name string // the last `name:` seen, for the `value:` that follows
	pem  bool   // inside a private key block
	flag string // the flag a block sequence's item named, for the item that follows

	secret bool // the document is a Secret
	inData bool // inside the Secret's data or stringData
}

var (
	kindRE  = regexp.MustCompile(`^kind:\s*["']?Secret["']?\s*(#.*)?$`)
	dataKey = regexp.MustCompile(`^(\s*)(data|stringData):\s*(#.*)?$`)
	// flowData is a Secret's data written on one line: data: {k: v, ...}
	flowData = regexp.MustCompile(`^((?:data|stringData):\s*)\{.*$`)
)

// Lines returns the lines of a manifest file (newlines kept or not) with
// every credential value replaced by Redacted. Every line of the file is
// needed: a Secret's kind may come after its data.
func Lines(lines []string) []string {
	return ShownLines(lines, nil)
}

// ShownLines is Lines for the lines shown[i] marks (nil: all): only the
// documents that hold one are redacted; the other lines are returned empty.
func ShownLines(lines []string, shown []bool) []string {
	out := make([]string, len(lines))
	// Documents: [start, end) ranges of lines, the separator line outside.
	type doc struct{ start, end int }
	var docs []doc
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && !docStart(lines[i]) {
			continue
		}
		if shown == nil || slices.Contains(shown[start:i], true) {
			docs = append(docs, doc{start, i})
		}
		if i < len(lines) {
			out[i] = lines[i]
		}
		start = i + 1
	}
	// Each document is redacted on its own, in parallel.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(len(docs), runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(docs) {
					return
				}
				d := docs[k]
				r := Redactor{}
				for _, l := range lines[d.start:d.end] {
					if kindRE.MatchString(strings.TrimRight(l, "\r\n")) {
						r.secret = true
					}
				}
				for j := d.start; j < d.end; j++ {
					out[j] = r.Line(lines[j])
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func docStart(l string) bool {
	l = strings.TrimRight(l, "\r\n")
	return l == "---" || strings.HasPrefix(l, "--- ")
}

// Line returns l with every credential value it holds replaced by Redacted;
// a newline at its end is kept.
func (r *Redactor) Line(l string) string {
	nl := ""
	if strings.HasSuffix(l, "\n") {
		l, nl = l[:len(l)-1], "\n"
	}
	return r.line(l) + nl
}

func (r *Redactor) line(l string) string {
	trimmed := strings.TrimRight(l, "\r")
	if strings.HasPrefix(trimmed, "kind:") && kindRE.MatchString(trimmed) {
		r.secret = true
	}
	if r.secret {
		indent := len(trimmed) - len(strings.TrimLeft(trimmed, " "))
		if indent == 0 && (strings.HasPrefix(trimmed, "data:") || strings.HasPrefix(trimmed, "stringData:")) {
			if m := flowData.FindStringSubmatch(trimmed); m != nil {
				return m[1] + "{" + Redacted + "}"
			}
		}
		if indent == 0 && (strings.HasPrefix(trimmed, "data:") || strings.HasPrefix(trimmed, "stringData:")) && dataKey.MatchString(trimmed) {
			r.inData = true
			return l
		}
		if r.inData && strings.TrimSpace(trimmed) != "" && !strings.HasPrefix(strings.TrimSpace(trimmed), "#") {
			if indent == 0 {
				r.inData = false
			} else if prefix, key, val, ok := splitKV(trimmed); ok && val != "" {
				return prefix + key + ": " + Redacted
			} else {
				return strings.Repeat(" ", indent) + Redacted
			}
		}
	}
	if r.pem {
		if strings.Contains(l, "-----END") {
			r.pem = false
		} else if strings.TrimSpace(l) != "" {
			return leading(l) + Redacted
		}
	}
	if strings.Contains(l, "PRIVATE KEY") && strings.Contains(l, "-----BEGIN") && !strings.Contains(l, "-----END") {
		r.pem = true
	}
	l = r.sequenceItems(l, trimmed)
	if !strings.Contains(trimmed, ":") {
		return redactMatches(l)
	}
	l = redactFlowMappings(l)
	if _, rawKey, rawVal, ok := splitKV(trimmed); ok {
		key := strings.Trim(rawKey, `"'`)
		val := rawVal
		if i := strings.Index(val, " #"); i >= 0 && !strings.HasPrefix(val, `"`) && !strings.HasPrefix(val, "'") {
			val = strings.TrimSpace(val[:i])
		}
		val = strings.Trim(val, `"'`)
		switch {
		case key == "name":
			r.name = val
		case val != "":
			k := key
			if key == "value" && r.name != "" {
				k = r.name
			}
			if d := nameDetector(k); d != nil && credentialValue(val) {
				l = strings.ReplaceAll(l, val, Redacted)
			}
		}
	}
	return redactMatches(l)
}

var (
	blockItem = regexp.MustCompile(`^\s*-\s+("[^"]*"|'[^']*'|[^\s#]+)\s*(#.*)?$`)
	flowSeq   = regexp.MustCompile(`\[([^\[\]]*)\]`)
	flowItem  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'|[^,\s][^,]*`)
)

// sequenceItems redacts the value that follows a flag naming a secret in an
// argument list: in a flow sequence on the line (args: ["--token", "V"]),
// or on this block sequence item after the previous one (- --token / - V).
func (r *Redactor) sequenceItems(l, trimmed string) string {
	flag := r.flag
	r.flag = ""
	if !strings.HasPrefix(strings.TrimLeft(trimmed, " "), "-") && !strings.Contains(trimmed, "[") {
		return l
	}
	if m := blockItem.FindStringSubmatch(trimmed); m != nil {
		item := strings.Trim(m[1], `"'`)
		if flag != "" {
			if ms := Args([]string{flag, item}); len(ms) > 0 && ms[0].Index == 1 {
				return strings.Replace(l, item, Redacted, 1)
			}
		}
		if strings.HasPrefix(item, "-") && !strings.Contains(item, "=") {
			r.flag = item
		}
		if k, v, ok := strings.Cut(strings.TrimLeft(item, "-"), "="); ok && strings.HasPrefix(item, "-") && v != "" {
			if _, ok := Detect(k, v); ok {
				return strings.Replace(l, v, Redacted, 1)
			}
		}
		return l
	}
	for _, loc := range flowSeq.FindAllStringSubmatchIndex(l, -1) {
		inner := l[loc[2]:loc[3]]
		var items []string
		for _, it := range flowItem.FindAllString(inner, -1) {
			items = append(items, strings.Trim(strings.TrimSpace(it), `"'`))
		}
		for _, m := range Args(items) {
			v := items[m.Index]
			if _, val, ok := strings.Cut(v, "="); ok && strings.HasPrefix(v, "-") {
				v = val
			}
			if v != "" && !strings.Contains(Redacted, v) && !strings.Contains(v, " ") {
				l = strings.ReplaceAll(l, v, Redacted)
			}
		}
	}
	return l
}

// Text returns s with every credential Find recognises replaced.
func Text(s string) string {
	return redactMatches(s)
}

func redactMatches(l string) string {
	ms := Find(l)
	if len(ms) == 0 {
		return l
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(l[last:m.Start])
		b.WriteString(Redacted)
		last = m.End
	}
	b.WriteString(l[last:])
	return b.String()
}

func leading(l string) string {
	return l[:len(l)-len(strings.TrimLeft(l, " \t"))]
}

// libraryValue matches what libraries put in parentheses after a key in
// their log messages: Helm's "Ignoring non-table value (VALUE)".
var libraryValue = regexp.MustCompile(`\(([^()]*)\)`)

// Message returns a log message or attribute written by a library (Helm,
// kustomize) with the values it may quote replaced: every parenthesised
// value, and every credential Find recognises. Libraries log values from
// charts and kustomizations (Helm's values coalescing prints the value it
// drops); Rampart's own records hold counts, paths and durations.
func Message(s string) string {
	return redactMatches(libraryValue.ReplaceAllString(s, "("+Redacted+")"))
}

// splitKV reads a "key: value" line of YAML (after an optional "- "): the
// text before the key, the key (quotes kept), and the value trimmed; ok is
// false for other lines (a key must be followed by ": " or end the line).
func splitKV(l string) (prefix, key, val string, ok bool) {
	i := 0
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	if i+1 < len(l) && l[i] == '-' && (l[i+1] == ' ' || l[i+1] == '\t') {
		for i++; i < len(l) && (l[i] == ' ' || l[i] == '\t'); i++ {
		}
	}
	prefix, rest := l[:i], l[i:]
	if rest == "" {
		return "", "", "", false
	}
	var after string
	switch rest[0] {
	case '"', '\'':
		j := strings.IndexByte(rest[1:], rest[0])
		if j < 0 || !strings.HasPrefix(rest[j+2:], ":") {
			return "", "", "", false
		}
		key, after = rest[:j+2], rest[j+3:]
	case ' ', '\t', ':', '#', '{', '[':
		return "", "", "", false
	default:
		j := strings.IndexAny(rest, ":#")
		if j < 0 || rest[j] == '#' {
			return "", "", "", false
		}
		key, after = rest[:j], rest[j+1:]
	}
	if after != "" && after[0] != ' ' && after[0] != '\t' {
		return "", "", "", false
	}
	return prefix, key, strings.TrimSpace(after), true
}

var flowMap = regexp.MustCompile(`\{([^{}]*)\}`)

// redactFlowMappings redacts, in each one-line flow mapping of l, the value
// of a key that says secret, and the value beside a name that says secret
// ({name: DB_PASSWORD, value: ...}, as env vars are written in flow style).
func redactFlowMappings(l string) string {
	for _, m := range flowMap.FindAllStringSubmatch(l, -1) {
		fields := map[string]string{}
		var order []string
		for _, it := range flowItem.FindAllString(m[1], -1) {
			k, v, ok := strings.Cut(it, ":")
			if !ok {
				continue
			}
			k, v = strings.Trim(strings.TrimSpace(k), `"'`), strings.Trim(strings.TrimSpace(v), `"'`)
			fields[k] = v
			order = append(order, k)
		}
		for _, k := range order {
			v, key := fields[k], k
			if k == "value" && fields["name"] != "" {
				key = fields["name"]
			}
			if v != "" && nameDetector(key) != nil && credentialValue(v) {
				l = strings.ReplaceAll(l, v, Redacted)
			}
		}
	}
	return l
}
