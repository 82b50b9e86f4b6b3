package cis

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// Status is a control's outcome.
type Status string

// Statuses, from best to worst for a reader; Combine ranks them.
const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	Warn          Status = "warn"
	NotApplicable Status = "not-applicable"
	NotEvaluated  Status = "not-evaluated"
)

// Result is one control's outcome with its evidence.
type Result struct {
	ID        string           `json:"id"`
	Title     string           `json:"title"`
	Section   string           `json:"section"`
	Automated bool             `json:"automated"`
	Severity  finding.Severity `json:"severity"`
	Status    Status           `json:"status"`
	// Reason says why a control is not applicable or not evaluated (with the
	// permission missing), or what to check by hand.
	Reason   string     `json:"reason,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
	// NodeOnly: live mode cannot read this; a node's results can.
	NodeOnly bool `json:"-"`
	// Rest is the worst status of what gave no finding (a node not
	// evaluated beside one that failed): what the result becomes when its
	// findings are suppressed.
	Rest Status `json:"-"`
	// Findings are what the result reports (fail and warn), with fixes.
	Findings []finding.Finding `json:"-"`
}

// Evidence is one thing a control inspected: a flag, configuration key or
// file, the value found and the value expected.
type Evidence struct {
	Node     string             `json:"node,omitempty"`
	Source   string             `json:"source,omitempty"`
	Location *finding.Location  `json:"location,omitempty"`
	Object   *finding.ObjectRef `json:"object,omitempty"`
	Field    string             `json:"field,omitempty"`
	// Key is the flag ("--profiling"), configuration key, or "mode" and
	// "owner" of a file.
	Key      string `json:"key"`
	Found    string `json:"found"`
	Expected string `json:"expected"`
	// Default: Found is the component's default, the key being absent.
	Default bool `json:"default,omitempty"`
	OK      bool `json:"ok"`
	// valueField is the path of the value's own item (--flag value).
	valueField string
	// flagValue is the whole value of a map flag whose key Found is.
	flagValue string
	// noFix: the value is not the flag's to change (another file decides).
	noFix bool
}

// EvaluateNode answers sections 1 to 4 for one node.
func (b *Benchmark) EvaluateNode(n *Node) []Result {
	var out []Result
	for _, c := range b.Controls {
		if strings.HasPrefix(c.ID, "5.") {
			continue // EvaluatePolicies
		}
		r := b.newResult(c)
		controlPlane := strings.HasPrefix(c.ID, "1.") || strings.HasPrefix(c.ID, "2.") || strings.HasPrefix(c.ID, "3.")
		switch {
		case controlPlane && !n.ControlPlane && n.live:
			r.Status, r.Reason = NotApplicable, "not a control-plane node (no kube-apiserver, controller-manager, scheduler or etcd mirror pod in kube-system)"
		case controlPlane && !n.ControlPlane:
			r.Status, r.Reason = NotApplicable, "not a control-plane node (no kube-apiserver, controller-manager, scheduler or etcd static pod manifest)"
		case c.File != nil:
			b.evalFile(c, n, &r)
		case c.Test != nil:
			b.evalTest(c, n, &r)
		default:
			r.Status, r.Reason = Warn, c.Manual
		}
		if !c.Automated && r.Status == Fail {
			// A manual control's failed test is a warning: its value
			// may be right for the cluster; a person decides.
			r.Status = Warn
		}
		b.findings(c, &r)
		out = append(out, r)
	}
	return out
}

func (b *Benchmark) newResult(c *Control) Result {
	return Result{ID: c.ID, Title: c.Title, Section: c.Section(), Automated: c.Automated, Severity: c.Severity}
}

// evalFile inspects the files of a control's target.
func (b *Benchmark) evalFile(c *Control, n *Node, r *Result) {
	if n.live {
		r.Status, r.NodeOnly = NotEvaluated, true
		r.Reason = "file permissions and owners are read on the node (rampart cis --root, or the node job)"
		return
	}
	if spec := b.Files[c.File.Target]; spec != nil && spec.Component != "" {
		if in := n.instances[spec.Component]; in != nil && in.absent {
			r.Status, r.Reason = NotApplicable, in.comp.Binary+" does not run on this node ("+in.missing+")"
			return
		}
	}
	files := n.files[c.File.Target]
	if len(files) == 0 {
		if c.File.Optional {
			r.Status, r.Reason = NotApplicable, "no such file on this node: "+n.filesMissing[c.File.Target]
			return
		}
		r.Status, r.Reason = Fail, "missing: "+n.filesMissing[c.File.Target]
		r.Evidence = append(r.Evidence, Evidence{Node: n.Name, Source: n.filesMissing[c.File.Target], Key: fileKey(c.File), Found: "missing", Expected: fileExpected(c.File)})
		return
	}
	for _, f := range files {
		if f.Err != nil {
			r.Status, r.Reason = NotEvaluated, "unreadable: "+f.Err.Error()
			r.Evidence = nil
			return
		}
	}
	r.Status = Pass
	for _, f := range files {
		ev := Evidence{Node: n.Name, Source: f.Path, Location: &finding.Location{File: n.real(f.Path)}, Key: fileKey(c.File), Expected: fileExpected(c.File)}
		if c.File.Mode != "" {
			ev.Found = fmt.Sprintf("%o", f.Mode)
			ev.OK = f.Mode&^c.File.mode == 0
		} else {
			ev.Found = f.User + ":" + f.Group
			ev.OK = ev.Found == c.File.Owner
		}
		if !ev.OK {
			r.Status = Fail
		}
		r.Evidence = append(r.Evidence, ev)
	}
}

func fileKey(f *FileTest) string {
	if f.Mode != "" {
		return "mode"
	}
	return "owner"
}

func fileExpected(f *FileTest) string {
	if f.Mode != "" {
		return f.Mode + " or more restrictive"
	}
	return f.Owner
}

// evalTest compares a component's flags.
func (b *Benchmark) evalTest(c *Control, n *Node, r *Result) {
	in := n.instances[c.Test.Component]
	if in != nil && in.absent && !n.live && in.comp.Name == "proxy" {
		r.Status, r.Reason = NotEvaluated, "kube-proxy runs as no static pod here (usually a DaemonSet: rampart cis --cluster reads it)"
		return
	}
	if in != nil && in.absent && !n.live {
		r.Status, r.Reason = NotApplicable, in.comp.Binary+" does not run on this node ("+in.missing+")"
		return
	}
	if in == nil || in.missing != "" {
		r.Status = NotEvaluated
		if in != nil {
			r.Reason = in.missing
			r.NodeOnly = n.live && strings.HasPrefix(in.missing, nodeOnlyKubelet)
		} else {
			r.Reason = "no " + c.Test.Component + " found"
		}
		return
	}
	okCount := 0
	var unreadable []string
	for _, it := range c.Test.Items {
		ev, ok, evaluable := b.evalItem(it, in)
		if !evaluable {
			why := ev.Found
			if why == "" {
				why = "the kubelet's command line"
			}
			unreadable = append(unreadable, why)
		}
		ev.Node = n.Name
		if ok {
			okCount++
		}
		r.Evidence = append(r.Evidence, ev)
	}
	switch {
	case len(unreadable) == 0:
	case in.configMissing != "":
		r.Status, r.Reason, r.Evidence = NotEvaluated, in.configMissing, nil
		return
	case !n.live:
		r.Status, r.Reason, r.Evidence = NotEvaluated, "unreadable: "+unreadable[0], nil
		return
	default:
		// What only the node has: its results (the node job) answer.
		r.Status, r.NodeOnly, r.Evidence = NotEvaluated, true, nil
		r.Reason = "on the node only (" + unreadable[0] + "): rampart cis --root, or the node job, reads it"
		return
	}
	pass := okCount == len(c.Test.Items)
	if c.Test.Any {
		pass = okCount > 0
	}
	if pass {
		r.Status = Pass
	} else {
		r.Status = Fail
	}
}

// authorizers reads an AuthorizationConfiguration file's authorizer types
// ("Node,RBAC").
func authorizers(in *instance, p string) (string, error) {
	data, err := in.readFile(p)
	if err != nil {
		return "", fmt.Errorf("--authorization-config %s: %v", p, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return "", fmt.Errorf("--authorization-config %s: not YAML", p)
	}
	list := child(doc.Content[0], "authorizers")
	if list == nil || list.Kind != yaml.SequenceNode {
		return "", fmt.Errorf("--authorization-config %s: no authorizers", p)
	}
	var types []string
	for _, a := range list.Content {
		types = append(types, scalar(child(a, "type")))
	}
	return strings.Join(types, ","), nil
}

// nodeOnlyKubelet is the reason live mode gives for a kubelet it cannot
// read.
const nodeOnlyKubelet = "the kubelet's configuration could not be read through the API"

// resolved is a flag's value as the component sees it.
type resolved struct {
	value   string
	set     bool // given explicitly (flag, environment or configuration key)
	def     bool // value is the default
	known   bool // value is known (set or default)
	source  string
	loc     *finding.Location
	field   string
	arg     *Arg
	fromCfg bool
	// valueField: the value is the next command item, at this path.
	valueField string
	// flagValue is the whole value of a map flag (its last occurrence).
	flagValue string
	// elsewhere: the value is in a file this mode cannot read (why).
	elsewhere string
	noFix     bool
}

// resolve reads an item's value: the flag (last wins; lists and maps
// merged), else the environment variable, else the configuration key, else
// the default.
func (b *Benchmark) resolve(it *Item, in *instance) resolved {
	var r resolved
	if in.cl != nil {
		if v, arg := in.cl.Lookup(it.Flag, in.comp); arg != nil {
			r.flagValue = arg.Value
			if it.Key != "" {
				m := parseMap(v)
				if kv, ok := m[it.Key]; ok {
					r.value, r.set, r.known = kv, true, true
				}
			} else {
				r.value, r.set, r.known = v, true, true
			}
			// Where the flag is (a fix edits it there, even when it lacks
			// the map key asked for).
			r.field = in.pathOf(arg.Item)
			if !arg.Inline {
				r.valueField = in.pathOf(arg.Item + 1)
			}
			if r.set {
				r.arg = arg
				r.source = in.source
				if arg.Item < len(in.sources) {
					r.source = in.sources[arg.Item]
				}
				r.loc = in.location(arg.Item)
				return r
			}
		}
	}
	if it.Flag == "--authorization-mode" && in.comp.Binary == "kube-apiserver" {
		if p, arg := in.cl.Lookup("--authorization-config", in.comp); arg != nil && p != "" {
			// The structured configuration replaces the flag: its
			// authorizers' types are the modes.
			r.source, r.noFix = p, true
			r.field = in.pathOf(arg.Item)
			r.loc = in.location(arg.Item)
			if in.readFile == nil {
				r.elsewhere = "the authorizers are in " + p + ", a file on the node"
				return r
			}
			modes, err := authorizers(in, p)
			if err != nil {
				r.elsewhere = err.Error()
				return r
			}
			r.value, r.set, r.known = modes, true, true
			return r
		}
	}
	if it.Env != "" {
		if v, ok := in.env[it.Env]; ok {
			r.value, r.set, r.known, r.source = v, true, true, in.source
			return r
		}
	}
	if it.Config != "" && in.config != nil {
		layers := append([]configLayer{{root: in.config, shown: in.configFile, real: in.configReal}}, in.layers...)
		for i := len(layers) - 1; i >= 0; i-- {
			v, line, ok := configValue(layers[i].root, it.Config)
			if !ok {
				continue
			}
			r.value, r.set, r.known, r.fromCfg = v, true, true, true
			r.source = layers[i].shown
			if line > 0 && layers[i].real != "" {
				r.loc = &finding.Location{File: layers[i].real, Line: line, Column: 1}
			}
			r.field = it.Config
			return r
		}
	}
	if it.Key != "" {
		return r
	}
	if in.config != nil && it.Config != "" {
		if d, ok := in.comp.ConfigDefaults[it.Config]; ok {
			r.value, r.known, r.def = d, true, true
			r.source = in.configFile
			return r
		}
	}
	if d, ok := in.comp.Defaults[it.Flag]; ok && (in.config == nil || it.Config == "") {
		r.value, r.known, r.def = d, true, true
		r.source = in.source
	}
	return r
}

// pathOf is the field path of command item i ("" when the command line
// has no object, as a kubelet's unit).
func (in *instance) pathOf(i int) string {
	if in.itemPath == nil {
		return ""
	}
	return in.itemPath(i)
}

func (in *instance) location(i int) *finding.Location {
	if in.locs != nil {
		if i >= 0 && i < len(in.locs) {
			l := in.locs[i]
			return &l
		}
		return in.unsetLoc
	}
	if in.live || in.file == "" {
		return nil
	}
	l := &finding.Location{File: in.real, Column: 1}
	if l.File == "" {
		l.File = in.file
	}
	if i >= 0 && i < len(in.lines) {
		l.Line = in.lines[i]
	}
	return l
}

// evalItem compares one item; evaluable is false when the value lives
// where this mode cannot read (live mode, a command-line-only flag).
func (b *Benchmark) evalItem(it *Item, in *instance) (ev Evidence, ok, evaluable bool) {
	if it.Special == "encryption-providers" {
		return b.evalEncryption(it, in)
	}
	ev.Key = it.Flag
	if it.Key != "" {
		ev.Key = it.Flag + " " + it.Key
	}
	if in.cl == nil && it.Config == "" && it.Env == "" {
		// Live kubelet: configz has no command line.
		return ev, false, false
	}
	v := b.resolve(it, in)
	if !v.set && it.Config != "" && in.configMissing != "" {
		return ev, false, false
	}
	if v.elsewhere != "" {
		ev.Found = v.elsewhere
		return ev, false, false
	}
	if v.fromCfg || (v.arg == nil && it.Config != "" && in.config != nil) {
		ev.Key = it.Config
	}
	ev.Source, ev.Location, ev.Field, ev.Default, ev.valueField, ev.flagValue, ev.noFix = v.source, v.loc, v.field, v.def, v.valueField, v.flagValue, v.noFix
	if in.object != nil && !v.fromCfg {
		o := *in.object
		ev.Object = &o
	}
	if ev.Field == "" && v.arg == nil && in.listPath != "" && ev.Key == it.Flag {
		ev.Field = in.listPath
	}
	ev.Expected = expected(it)
	switch {
	case v.set:
		ev.Found = v.value
		if v.value == "" {
			ev.Found = "(no value)"
		}
		if v.arg != nil && v.arg.Stray != "" {
			ev.Found += fmt.Sprintf(" (the item %q after it is not its value: a boolean flag takes %s=%s)", v.arg.Stray, v.arg.Name, v.arg.Stray)
		}
	case v.known:
		ev.Found = v.value + " (default)"
	default:
		ev.Found = "not set"
	}
	switch it.Op {
	case "set":
		ok = v.set
	case "unset":
		ok = !v.set
	default:
		ok = v.known && compare(it, v.value)
	}
	ev.OK = ok
	return ev, ok, true
}

func expected(it *Item) string {
	switch it.Op {
	case "set":
		return "set"
	case "unset":
		return "not set"
	case "eq":
		return it.Value
	case "noteq":
		return "not " + it.Value
	case "gte":
		return ">= " + it.Value
	case "has":
		return "includes " + it.Value
	case "nothave":
		return "does not include " + it.Value
	case "valid_elements":
		return "only " + it.Value
	case "regex":
		return "matches " + it.Value
	}
	return it.Op + " " + it.Value
}

// compare applies an item's op to a value that is known.
func compare(it *Item, found string) bool {
	switch it.Op {
	case "eq":
		return equalValue(found, it.Value)
	case "noteq":
		return !equalValue(found, it.Value)
	case "gte":
		f, err1 := strconv.ParseFloat(strings.TrimSpace(found), 64)
		w, err2 := strconv.ParseFloat(it.Value, 64)
		return err1 == nil && err2 == nil && f >= w
	case "has":
		for _, e := range splitList(found) {
			if e == it.Value {
				return true
			}
		}
		return false
	case "nothave":
		for _, e := range splitList(found) {
			if e == it.Value {
				return false
			}
		}
		return true
	case "valid_elements":
		allowed := map[string]bool{}
		for _, a := range splitList(it.Value) {
			allowed[a] = true
		}
		els := splitList(found)
		for _, e := range els {
			if !allowed[e] {
				return false
			}
		}
		return len(els) > 0
	case "regex":
		return it.re != nil && it.re.MatchString(found)
	}
	return false
}

// equalValue compares as the component would read both: booleans without
// case, numbers as numbers, durations as durations ("0" is "0s").
func equalValue(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if strings.EqualFold(b, "true") || strings.EqualFold(b, "false") {
		ab, ok := parseBool(a)
		return ok && ab == strings.EqualFold(b, "true")
	}
	if a == b {
		return true
	}
	fa, err1 := strconv.ParseFloat(a, 64)
	fb, err2 := strconv.ParseFloat(b, 64)
	if err1 == nil && err2 == nil {
		return fa == fb
	}
	da, ok1 := duration(a)
	db, ok2 := duration(b)
	return ok1 && ok2 && da == db
}

// parseBool reads a boolean as the flag library (1, t, TRUE, 0, f, ...)
// and YAML 1.1 (yes, no, on, off) read them.
func parseBool(s string) (bool, bool) {
	if v, err := strconv.ParseBool(s); err == nil {
		return v, true
	}
	switch strings.ToLower(s) {
	case "yes", "on", "y":
		return true, true
	case "no", "off", "n":
		return false, true
	}
	return false, false
}

func duration(s string) (time.Duration, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f), true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// Combine merges the results of several nodes (or of the API and the
// nodes) control by control: the worst status wins (fail, warn, not
// evaluated, pass, not applicable) and the evidence is kept from all.
func Combine(b *Benchmark, sets ...[]Result) []Result {
	byID := map[string]*Result{}
	var order []string
	for _, set := range sets {
		for _, r := range set {
			cur := byID[r.ID]
			if cur == nil {
				c := r
				c.Evidence = append([]Evidence(nil), r.Evidence...)
				c.Findings = append([]finding.Finding(nil), r.Findings...)
				byID[r.ID] = &c
				order = append(order, r.ID)
				continue
			}
			cur.Evidence = append(cur.Evidence, r.Evidence...)
			cur.Findings = append(cur.Findings, r.Findings...)
			cur.Rest = worse(worse(cur.Rest, restOf(*cur)), restOf(r))
			if rank(r.Status) > rank(cur.Status) {
				cur.Status, cur.Reason = r.Status, r.Reason
			}
			cur.NodeOnly = cur.NodeOnly && r.NodeOnly
		}
	}
	out := make([]Result, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	SortResults(b, out)
	return out
}

// restOf is a part's status besides its findings.
func restOf(r Result) Status {
	if r.Status == Fail || r.Status == Warn {
		return r.Rest
	}
	return r.Status
}

func worse(a, b Status) Status {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(s Status) int {
	switch s {
	case Fail:
		return 4
	case Warn:
		return 3
	case NotEvaluated:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// SortResults orders results as the benchmark lists its controls.
func SortResults(b *Benchmark, rs []Result) {
	pos := map[string]int{}
	for i, c := range b.Controls {
		pos[c.ID] = i
	}
	sort.SliceStable(rs, func(i, j int) bool { return pos[rs[i].ID] < pos[rs[j].ID] })
}
