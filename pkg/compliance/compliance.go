// Package compliance maps Rampart's results to compliance frameworks: each
// control of a framework (data in frameworks/, or the CIS benchmark's own
// catalog) gets a status — pass, fail, manual, not applicable or not
// evaluated — with the checks that evidence it and, as evidence, the
// objects and fields they judged. A control never passes when nothing was
// evaluated. The package decides nothing about findings: it reads a scan's
// engine.Result and a CIS report.
package compliance

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
)

//go:embed frameworks/*.yaml
var files embed.FS

// CISFramework is the name under which the CIS benchmark's catalog serves
// as a framework.
const CISFramework = "cis-1.12"

// Framework is a set of controls.
type Framework struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	URL      string    `json:"url"`
	Scope    string    `json:"scope"`
	Controls []Control `json:"controls"`
}

// Control is one control and its status rule: exactly one of Checks
// (mapped), Manual (guidance for a person) and NotApplicable (why a
// scanner cannot evidence it).
type Control struct {
	ID            string   `json:"id"`
	Title         string   `json:"title"`
	Section       string   `json:"section"`
	Description   string   `json:"description"`
	Checks        []string `json:"checks,omitempty"`
	Manual        string   `json:"manual,omitempty"`
	NotApplicable string   `json:"notApplicable,omitempty"`
	// Guidance is what the checks leave to a person.
	Guidance string `json:"guidance,omitempty"`
	// Detections are audit rules (rampart audit) that watch for it at run time.
	Detections []string `json:"detections,omitempty"`
}

// Names lists the frameworks, sorted.
func Names() []string {
	names := []string{CISFramework}
	entries, _ := files.ReadDir("frameworks")
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Load returns a framework by name.
func Load(name string) (*Framework, error) {
	if name == CISFramework {
		return fromCIS()
	}
	data, err := files.ReadFile(path.Join("frameworks", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("unknown framework %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return parse(name, data)
}

func parse(name string, data []byte) (*Framework, error) {
	var f Framework
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("framework %s: %w", name, err)
	}
	if f.ID != name {
		return nil, fmt.Errorf("framework %s: id is %q", name, f.ID)
	}
	seen := map[string]bool{}
	for _, c := range f.Controls {
		if seen[c.ID] {
			return nil, fmt.Errorf("framework %s: control %s is listed twice", name, c.ID)
		}
		seen[c.ID] = true
		if err := c.valid(); err != nil {
			return nil, fmt.Errorf("framework %s: control %s: %w", name, c.ID, err)
		}
	}
	return &f, nil
}

func (c Control) valid() error {
	rules := 0
	for _, set := range []bool{len(c.Checks) > 0, c.Manual != "", c.NotApplicable != ""} {
		if set {
			rules++
		}
	}
	switch {
	case c.ID == "" || c.Title == "":
		return fmt.Errorf("needs an id and a title")
	case rules != 1:
		return fmt.Errorf("needs exactly one status rule (checks, manual or notApplicable), has %d", rules)
	case c.Guidance != "" && len(c.Checks) == 0:
		return fmt.Errorf("guidance goes with checks")
	}
	return nil
}

// fromCIS makes the benchmark's catalog a framework: every control is
// answered by the CIS evaluator's result of the same ID (cis-ID), manual
// ones included (their result says what to check by hand).
func fromCIS() (*Framework, error) {
	b, err := cis.Load(CISFramework)
	if err != nil {
		return nil, err
	}
	f := &Framework{ID: CISFramework, Name: b.Title, Version: strings.TrimPrefix(CISFramework, "cis-"),
		URL:   "https://www.cisecurity.org/benchmark/kubernetes",
		Scope: "Sections 1 to 4 are the control plane's and the nodes' flags and files: rampart reads them on a node (--root) or from a live cluster (--cluster), else they are not evaluated. Section 5 (policies) is read from the manifests or the cluster. Manual controls are listed with what to check by hand."}
	for _, c := range b.Controls {
		f.Controls = append(f.Controls, Control{ID: c.ID, Title: c.Title, Section: c.Section(), Checks: []string{"cis-" + c.ID}})
	}
	return f, nil
}

// Status is a control's outcome.
type Status string

// The statuses, worst first in reports.
const (
	Fail          Status = "fail"
	NotEvaluated  Status = "not-evaluated"
	Manual        Status = "manual"
	Pass          Status = "pass"
	NotApplicable Status = "not-applicable"
)

// Input is what the controls are judged on.
type Input struct {
	// Result is a scan's: its findings fail checks, its Objects say which
	// checks applied to what.
	Result *engine.Result
	// CIS holds the CIS benchmark's results (node, live or policies only),
	// answering the cis-ID checks; nil when the benchmark was not run.
	CIS []cis.Result
	// CISWhy says why the CIS node controls were not run (for their reason).
	CISWhy string
	// Rel, when set, rewrites the file paths of the evidence (relative to
	// the working folder, as the scan reports show them).
	Rel func(string) string
}

// CheckResult is one check's part in a control.
type CheckResult struct {
	ID string `json:"id"`
	// Evaluated counts the objects (or CIS results) it was judged on;
	// Failed, its unsuppressed findings; Suppressed, those accepted with a
	// reason.
	Evaluated  int `json:"evaluated"`
	Failed     int `json:"failed"`
	Suppressed int `json:"suppressed"`
	// Evidence lists the objects and fields: the failing ones, else those
	// judged.
	Evidence []string `json:"evidence,omitempty"`
	// Status is this check's own: pass, fail, not-evaluated (or manual and
	// not-applicable from a CIS result).
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// ControlResult is a control's status and evidence.
type ControlResult struct {
	ID         string        `json:"id"`
	Title      string        `json:"title"`
	Section    string        `json:"section,omitempty"`
	Status     Status        `json:"status"`
	Checks     []CheckResult `json:"checks,omitempty"`
	Guidance   string        `json:"guidance,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Detections []string      `json:"detections,omitempty"`
}

// Report is a framework's outcome.
type Report struct {
	Framework FrameworkInfo   `json:"framework"`
	Summary   map[Status]int  `json:"summary"`
	Controls  []ControlResult `json:"controls"`
}

// FrameworkInfo names the framework in a report.
type FrameworkInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
	Scope   string `json:"scope"`
}

const maxEvidence = 200

// Evaluate judges every control of f.
func Evaluate(f *Framework, in Input) *Report {
	type tally struct {
		evaluated, failed, suppressed int
		evidence                      []string
		status                        Status
		reason                        string
	}
	checks := map[string]*tally{}
	get := func(id string) *tally {
		t := checks[id]
		if t == nil {
			t = &tally{}
			checks[id] = t
		}
		return t
	}
	add := func(t *tally, s string) {
		if len(t.evidence) < maxEvidence {
			t.evidence = append(t.evidence, s)
		}
	}
	if in.Result != nil {
		for _, o := range in.Result.Objects {
			for _, id := range o.Checks {
				get(id).evaluated++
			}
		}
		for _, fd := range in.Result.Findings {
			t := get(fd.CheckID)
			t.failed++
			add(t, evidence(fd, in.Rel))
		}
		for _, s := range in.Result.Suppressed {
			t := get(s.CheckID)
			t.suppressed++
			add(t, evidence(s.Finding, in.Rel)+" (suppressed by "+s.By+": "+s.Justification+")")
		}
	}
	for _, r := range in.CIS {
		t := get("cis-" + r.ID)
		t.reason = r.Reason
		switch r.Status {
		case cis.Pass:
			t.evaluated++
			t.status = Pass
		case cis.Fail:
			t.evaluated++
			t.status = Fail
			t.failed += max(1, len(r.Findings))
		case cis.Warn:
			t.status = Manual
		case cis.NotApplicable:
			t.status = NotApplicable
		case cis.NotEvaluated:
			t.status = NotEvaluated
		}
		for _, e := range r.Evidence {
			add(t, cisEvidence(e, in.Rel))
		}
	}
	rep := &Report{Framework: FrameworkInfo{ID: f.ID, Name: f.Name, Version: f.Version, URL: f.URL, Scope: f.Scope}, Summary: map[Status]int{Pass: 0, Fail: 0, Manual: 0, NotApplicable: 0, NotEvaluated: 0}}
	for _, c := range f.Controls {
		cr := ControlResult{ID: c.ID, Title: c.Title, Section: c.Section, Guidance: c.Guidance, Detections: c.Detections}
		switch {
		case c.NotApplicable != "":
			cr.Status, cr.Reason = NotApplicable, c.NotApplicable
		case c.Manual != "":
			cr.Status, cr.Guidance = Manual, c.Manual
		default:
			evaluated, failed, manual, na := 0, 0, 0, 0
			var why []string
			for _, id := range c.Checks {
				t := get(id)
				ck := CheckResult{ID: id, Evaluated: t.evaluated, Failed: t.failed, Suppressed: t.suppressed, Evidence: t.evidence, Reason: t.reason}
				switch {
				case t.failed > 0:
					ck.Status = Fail
				case t.status == Manual || t.status == NotApplicable:
					ck.Status = t.status
				case t.evaluated > 0:
					ck.Status = Pass
				default:
					ck.Status = NotEvaluated
					if ck.Reason == "" {
						ck.Reason = notEvaluatedWhy(id, in)
					}
				}
				switch ck.Status {
				case Fail:
					failed++
				case Pass:
					evaluated++
				case Manual:
					manual++
					if ck.Reason != "" {
						why = append(why, ck.Reason)
					}
				case NotApplicable:
					na++
					if ck.Reason != "" {
						why = append(why, ck.Reason)
					}
				}
				cr.Checks = append(cr.Checks, ck)
			}
			switch {
			case failed > 0:
				cr.Status = Fail
			case evaluated > 0:
				cr.Status = Pass
			case manual > 0:
				cr.Status = Manual
			case na == len(c.Checks):
				cr.Status = NotApplicable
			default:
				cr.Status = NotEvaluated
			}
			if len(why) > 0 && (cr.Status == Manual || cr.Status == NotApplicable) {
				cr.Reason = strings.Join(why, " ")
			}
		}
		rep.Summary[cr.Status]++
		rep.Controls = append(rep.Controls, cr)
	}
	return rep
}

func notEvaluatedWhy(id string, in Input) string {
	switch {
	case strings.HasPrefix(id, "cis-"):
		if in.CISWhy != "" {
			return in.CISWhy
		}
		return "the CIS benchmark was not run"
	case id == "image-vulnerability":
		return "no image was matched with advisories (--images --db)"
	case strings.HasPrefix(id, "image-"):
		return "no image was scanned (--images)"
	}
	return "the input holds nothing this check applies to"
}

func relLocation(l *finding.Location, rel func(string) string) string {
	if rel == nil {
		return l.String()
	}
	c := *l
	c.File = rel(c.File)
	return c.String()
}

func evidence(f finding.Finding, rel func(string) string) string {
	var b bytes.Buffer
	b.WriteString(f.Object.String())
	if f.Field != "" {
		b.WriteString(" " + f.Field)
	}
	if f.Location != nil && f.Location.File != "" {
		b.WriteString(" (" + relLocation(f.Location, rel) + ")")
	}
	return b.String()
}

func cisEvidence(e cis.Evidence, rel func(string) string) string {
	var b strings.Builder
	if e.Node != "" {
		b.WriteString(e.Node + ": ")
	}
	if e.Object != nil {
		b.WriteString(e.Object.String() + " ")
	}
	b.WriteString(e.Key + " = " + e.Found)
	if e.Expected != "" {
		b.WriteString(" (expected " + e.Expected + ")")
	}
	if e.Location != nil && e.Location.File != "" {
		b.WriteString(" at " + relLocation(e.Location, rel))
	}
	return b.String()
}
