package source

import (
	"regexp"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// Helm output is mapped back to template lines by aligning the lines of each
// rendered document with the lines of its template: both are read as YAML
// outlines (each line's key path, found from indentation), template actions
// ({{ ... }}) standing for any text. A rendered line takes the template line
// with the same key path and a compatible value, searched forward from the
// last match (so the second container, the second object, the third subject
// each get their own line) and, for loops, again from the start of the
// template's document. Lines a template writes through toYaml or include
// have no line of their own: they resolve to the nearest ancestor that has
// one, and the values key comes from the action written under it.

// helmSeparator is Helm's own document separator (releaseutil.SplitManifests):
// a line starting with "---", whatever follows it.
var helmSeparator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type helmPiece struct {
	text string
	line int // 1-based line of text in the rendered template
}

// splitHelm cuts a rendered template into documents exactly as Helm does
// (so "---#" starts one, as does "---" followed by anything), keeping the
// line each starts on.
func splitHelm(rendered string) []helmPiece {
	trimmed := strings.TrimSpace(rendered)
	lead := strings.Index(rendered, trimmed)
	var out []helmPiece
	from := 0
	add := func(to int) {
		seg := trimmed[from:to]
		t := strings.TrimSpace(seg)
		if t == "" {
			return
		}
		at := lead + from + strings.Index(seg, t)
		out = append(out, helmPiece{text: t, line: 1 + strings.Count(rendered[:at], "\n")})
	}
	for _, m := range helmSeparator.FindAllStringIndex(trimmed, -1) {
		add(m[0])
		from = m[1]
	}
	add(len(trimmed))
	return out
}

// outline is one line of a template or rendered document read as YAML.
type outline struct {
	path  string // key path from the root, keys only ("spec/containers/name"); "-" for a scalar list item
	key   string
	value string // literal value after the colon (or of the item); hole marks an action
	col   int    // 1-based column of the key
	sep   bool   // a document separator

	// Template lines only.
	values string // the .Values key a content-writing action on the line reads ("." for the dot)
	writes bool   // an action on the line writes content (toYaml, include, tpl, a value)
	with   string // the .Values key of a {{ with }} on the line
}

const hole = "\x00"

var (
	actionRE  = regexp.MustCompile(`\{\{.*?\}\}`)
	openRE    = regexp.MustCompile(`\{\{-?\s*(.*?)\s*-?(?:\}\}|$)`)
	dotRE     = regexp.MustCompile(`^(?:toYaml|toJson|tpl)?\s*(?:\.|\$)\s*(?:\||$)|\btoYaml\s+(?:\.|\$)(?:\s|\)|$)`)
	keyRE     = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#'"{}\[\],&*!|>%@` + hole + `][^:#` + hole + `]*?)\s*:(?:\s+(.*))?$`)
	valuesRE  = regexp.MustCompile(`\$?\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)`)
	blockSign = regexp.MustCompile(`^[|>][-+0-9]*\s*(#.*)?$`)
)

// outlines reads text (a template or a rendered document) line by line.
func outlines(text string, template bool) []outline {
	lines := strings.Split(text, "\n")
	out := make([]outline, len(lines))
	type frame struct {
		col  int
		path string
	}
	var stack []frame
	inAction := false // inside an action spanning lines
	blockCol := -1    // inside a block scalar whose key is at this column
	for i, raw := range lines {
		l := strings.TrimRight(raw, "\r")
		if template {
			readActions(l, inAction, &out[i])
			if inAction {
				end := strings.Index(l, "}}")
				if end < 0 {
					continue
				}
				l = strings.Repeat(" ", end+2) + l[end+2:]
				inAction = false
			}
			if open := strings.LastIndex(l, "{{"); open >= 0 && !strings.Contains(l[open:], "}}") {
				l = l[:open]
				inAction = true
			}
			l = actionRE.ReplaceAllString(l, hole)
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		out[i].col = indent + 1
		if strings.TrimSpace(strings.ReplaceAll(l, hole, "")) == "" {
			continue
		}
		if blockCol >= 0 {
			if indent > blockCol {
				continue
			}
			blockCol = -1
		}
		if indent == 0 && strings.HasPrefix(l, "---") {
			out[i].sep = true
			stack = stack[:0]
			continue
		}
		rest := l[indent:]
		col := indent
		item := false
		for strings.HasPrefix(rest, "- ") || rest == "-" {
			rest = strings.TrimLeft(rest[1:], " ")
			col = len(l) - len(rest)
			item = true
		}
		if strings.HasPrefix(rest, "#") {
			continue
		}
		m := keyRE.FindStringSubmatch(rest)
		if m == nil {
			if item && rest != "" {
				// A scalar list item ("- NET_ADMIN"): its own line.
				for len(stack) > 0 && stack[len(stack)-1].col >= col {
					stack = stack[:len(stack)-1]
				}
				path := "-"
				if len(stack) > 0 {
					path = stack[len(stack)-1].path + "/-"
				}
				out[i].path, out[i].key, out[i].value, out[i].col = path, "-", strings.TrimSpace(rest), col+1
			}
			continue
		}
		key := strings.Trim(m[1], `"'`)
		for len(stack) > 0 && stack[len(stack)-1].col >= col {
			stack = stack[:len(stack)-1]
		}
		path := key
		if len(stack) > 0 {
			path = stack[len(stack)-1].path + "/" + key
		}
		stack = append(stack, frame{col: col, path: path})
		value := strings.TrimSpace(m[2])
		if blockSign.MatchString(value) {
			blockCol = col
		}
		out[i].path, out[i].key, out[i].value, out[i].col = path, key, value, col+1
	}
	return out
}

// compatible reports whether a template line can have produced a rendered
// line with the same path: a literal value must be equal; a value with an
// action can be anything.
func compatible(tpl, got outline) bool {
	if strings.Contains(tpl.value, hole) {
		return true
	}
	return tpl.value == got.value
}

// template is a template's outline cut into its documents.
type template struct {
	lines   []outline
	regions [][2]int // [start, end) line indexes of each document
	next    int      // the region the next rendered document starts looking at
}

func newTemplate(text string) *template {
	t := &template{lines: outlines(text, true)}
	start := 0
	for i, l := range t.lines {
		if l.sep {
			t.regions = append(t.regions, [2]int{start, i})
			start = i + 1
		}
	}
	t.regions = append(t.regions, [2]int{start, len(t.lines)})
	return t
}

// align maps each rendered line (index into got) to a template line index
// in region r, or -1. The score counts the lines matched (a literal value
// twice) less the region's key lines nothing matched: a document of the
// template that did not render (switched off by an if) explains less than
// the short one whose rules came from an include.
func (t *template) align(r [2]int, got []outline) ([]int, int) {
	m := make([]int, len(got))
	used := map[int]bool{}
	score := 0
	p := r[0]
	find := func(from, to int, g outline) int {
		for j := from; j < to; j++ {
			if t.lines[j].path == g.path && g.path != "" && compatible(t.lines[j], g) {
				return j
			}
		}
		return -1
	}
	for i, g := range got {
		m[i] = -1
		if g.path == "" {
			continue
		}
		j := find(p, r[1], g)
		if j < 0 {
			j = find(r[0], p, g)
		}
		if j < 0 {
			continue
		}
		m[i] = j
		p = j + 1
		score++
		if !strings.Contains(t.lines[j].value, hole) && t.lines[j].value != "" {
			score++ // a literal value seen again says more than a key
		}
		used[j] = true
	}
	for j := r[0]; j < r[1]; j++ {
		if t.lines[j].key != "" && !used[j] {
			score--
		}
	}
	return m, score
}

// mapping is the alignment of one rendered document: rendered line
// (1-based, in the rendered template) to template line index.
type mapping struct {
	t      *template
	first  int   // rendered line of the document's first line
	lines  []int // per rendered line of the document
	region [2]int
	paths  []outline
}

// place aligns a rendered document with the template document that best
// explains it. Among equally good ones it takes the first after the one used
// last (documents of the same shape come out in order), then that one again
// (a range), then earlier ones.
func (t *template) place(p helmPiece) *mapping {
	got := outlines(p.text, false)
	last := t.next - 1
	order := make([]int, 0, len(t.regions))
	for ri := last + 1; ri < len(t.regions); ri++ {
		order = append(order, ri)
	}
	for ri := min(last, len(t.regions)-1); ri >= 0; ri-- {
		order = append(order, ri)
	}
	best, bestScore, bestLines := -1, 0, []int(nil)
	for _, ri := range order {
		lines, score := t.align(t.regions[ri], got)
		if best < 0 || score > bestScore {
			best, bestScore, bestLines = ri, score, lines
		}
	}
	t.next = best + 1
	return &mapping{t: t, first: p.line, lines: bestLines, region: t.regions[best], paths: got}
}

// locator returns the locator for an object of this document: the template
// line of a field, or of its nearest ancestor the template writes, and the
// values key the field comes from.
func (m *mapping) locator(o *manifest.Object, prefix string) func(string) (int, int, string) {
	return func(path string) (int, int, string) {
		segs := manifest.ParsePath(path)
		rendered := o.HasParsed(path) // written by the chart, if not on a line of its own
		var missing []manifest.Segment
		for {
			p := manifest.JoinPath(segs)
			loc := o.LocateParsed(p)
			i := loc.Line - m.first
			if i >= 0 && i < len(m.lines) && m.lines[i] >= 0 && (len(segs) == 0 || m.paths[i].key != "") && o.HasParsed(p) {
				j := m.lines[i]
				tl := m.t.lines[j]
				if len(missing) == 0 {
					hint := ""
					if tl.values != "" && tl.values != "." {
						hint = prefix + tl.values
					}
					return j + 1, tl.col, hint
				}
				writer, key := m.writer(j)
				hint := ""
				if key != "" {
					rest := manifest.JoinPath(missing)
					if !strings.HasPrefix(rest, "[") {
						rest = "." + rest
					}
					hint = prefix + key + rest
				}
				if rendered && writer >= 0 {
					// The field is in the output: the action that wrote it is
					// its line (an include, a toYaml).
					return writer + 1, m.t.lines[writer].col, hint
				}
				return j + 1, tl.col, hint
			}
			if len(segs) == 0 {
				return m.regionStart(), 1, ""
			}
			missing = append([]manifest.Segment{segs[len(segs)-1]}, missing...)
			segs = segs[:len(segs)-1]
		}
	}
}

// regionStart is the first line of the template document with content.
func (m *mapping) regionStart() int {
	for j := m.region[0]; j < m.region[1]; j++ {
		if m.t.lines[j].key != "" {
			return j + 1
		}
	}
	return m.region[0] + 1
}

// writer finds the action that writes the content under template line j
// (toYaml .Values.x on j itself, or an include or toYaml in j's block) and
// the values key it reads, resolving the dot of a {{ with .Values.x }} just
// above j. It returns -1 and "" when j's block has no such action.
func (m *mapping) writer(j int) (int, string) {
	parent := m.t.lines[j]
	resolve := func(k int, v string) (int, string) {
		if v != "." {
			return k, v
		}
		for w := j - 1; w >= m.region[0] && w >= j-3; w-- {
			if m.t.lines[w].with != "" {
				return k, m.t.lines[w].with
			}
			if m.t.lines[w].key != "" {
				break
			}
		}
		return k, ""
	}
	if parent.writes {
		return resolve(j, parent.values)
	}
	// An action writes the content of the nearest key above it that opens
	// a block (templates indent toYaml output with nindent, so its column
	// says nothing): only one whose block opener is j writes j's content.
	owner := j
	for k := j + 1; k < m.region[1]; k++ {
		l := m.t.lines[k]
		if l.key != "" {
			if l.col <= parent.col {
				break
			}
			if l.value == "" {
				owner = k
			}
			continue
		}
		if l.writes && owner == j {
			return resolve(k, l.values)
		}
	}
	return -1, ""
}

// readActions records what the actions on a template line do: a {{ with
// .Values.x }}, and an action that writes content with the values key it
// reads ("." when it writes the dot of a with).
func readActions(l string, continued bool, o *outline) {
	if continued {
		return // the rest of an action begun above
	}
	for _, m := range openRE.FindAllStringSubmatch(l, -1) {
		body := strings.TrimSpace(m[1])
		word, _, _ := strings.Cut(body, " ")
		switch {
		case body == "" || strings.HasPrefix(body, "/*"):
		case word == "with":
			if v := valuesRE.FindStringSubmatch(body); v != nil {
				o.with = v[1]
			}
		case word == "if" || word == "else" || word == "end" || word == "range" || word == "define" || word == "block" ||
			word == "break" || word == "continue" || strings.HasPrefix(body, "$") && strings.Contains(body, ":="):
		default:
			o.writes = true
			if o.values != "" {
				continue
			}
			if v := valuesRE.FindStringSubmatch(body); v != nil {
				o.values = v[1]
			} else if dotRE.MatchString(body) {
				o.values = "."
			}
		}
	}
}
