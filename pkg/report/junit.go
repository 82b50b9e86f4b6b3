package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

// JUnit writes one testsuite per file and one testcase per object and check
// that applied to it; a testcase fails when the check found something. Input
// errors are testcases with an <error>.
type JUnit struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Write implements Reporter.
func (JUnit) Write(w io.Writer, res *engine.Result, opts Options) error {
	type key struct{ obj, check string }
	found := map[key][]check.Finding{}
	for _, f := range res.Findings {
		k := key{f.Object.String(), f.CheckID}
		found[k] = append(found[k], f)
	}
	silenced := map[key]string{}
	for _, s := range res.Suppressed {
		silenced[key{s.Object.String(), s.CheckID}] = "suppressed by " + s.By + ": " + s.Justification
	}
	suites := map[string]*junitSuite{}
	suite := func(file string) *junitSuite {
		if file == "" {
			file = "(cluster)"
		}
		s, ok := suites[file]
		if !ok {
			s = &junitSuite{Name: file}
			suites[file] = s
		}
		return s
	}
	for _, ev := range res.Objects {
		file := ""
		if ev.Location != nil {
			file = relPath(opts.Root, ev.Location.File)
		}
		s := suite(file)
		for _, id := range ev.Checks {
			tc := junitCase{Name: id, ClassName: ev.Object.String()}
			if fs := found[key{ev.Object.String(), id}]; len(fs) > 0 {
				var text []string
				worst := check.Info
				for _, f := range fs {
					pos := ""
					if f.Location != nil && f.Location.Line > 0 {
						pos = fmt.Sprintf("%s:%d:%d: ", relPath(opts.Root, f.Location.File), f.Location.Line, f.Location.Column)
					}
					text = append(text, pos+f.Message+" ("+f.Field+")")
					worst = max(worst, f.Severity)
				}
				tc.Failure = &junitFailure{Message: fs[0].Title, Type: worst.String(), Text: strings.Join(text, "\n") + "\nfix: " + fs[0].Remediation}
				s.Failures++
			} else if why, ok := silenced[key{ev.Object.String(), id}]; ok {
				tc.Skipped = &junitSkipped{Message: why}
				s.Skipped++
			}
			s.Cases = append(s.Cases, tc)
			s.Tests++
		}
	}
	for _, e := range res.Errors {
		s := suite(relPath(opts.Root, e.File))
		s.Cases = append(s.Cases, junitCase{Name: "input", ClassName: relPath(opts.Root, e.File), Error: &junitFailure{Message: e.Message, Type: "input-error", Text: e.Error()}})
		s.Tests++
		s.Errors++
	}
	for _, n := range res.NotEvaluated {
		s := suite("")
		s.Cases = append(s.Cases, junitCase{Name: "list " + n.Resource, ClassName: "(cluster)", Error: &junitFailure{Message: "not evaluated", Type: "forbidden", Text: n.Reason}})
		s.Tests++
		s.Errors++
	}
	out := junitSuites{Name: "rampart"}
	for _, name := range sortedKeys(suites) {
		s := suites[name]
		out.Suites = append(out.Suites, *s)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
