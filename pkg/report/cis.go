package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/cis"
)

// CISFormats are the outputs of `rampart cis`: text and json show every
// control; the others are the scan's formats over its findings.
var CISFormats = []string{"text", "json", "compact", "sarif", "junit"}

// CISText writes one line per control by section, the evidence of what
// failed or warned, and the summary.
func CISText(w io.Writer, b *cis.Benchmark, r *cis.Report, color bool) error {
	bw := &errWriter{w: w}
	paint := func(s string, code string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	tags := map[cis.Status]string{cis.Pass: paint("[PASS]", "32"), cis.Fail: paint("[FAIL]", "31"), cis.Warn: paint("[WARN]", "33"),
		cis.NotApplicable: "[N/A] ", cis.NotEvaluated: paint("[NOT EVALUATED]", "35")}
	fmt.Fprintf(bw, "%s (%s, %s mode", r.Title, r.Profile, r.Mode)
	if len(r.Nodes) > 0 {
		fmt.Fprintf(bw, ", %s", strings.Join(r.Nodes, ", "))
	}
	fmt.Fprintln(bw, ")")
	section := ""
	for _, res := range r.Results {
		if res.Section != section {
			section = res.Section
			fmt.Fprintf(bw, "\n%s %s\n", section, b.SectionTitle(section))
		}
		fmt.Fprintf(bw, "%s %s %s\n", tags[res.Status], res.ID, res.Title)
		switch res.Status {
		case cis.Fail, cis.Warn:
			n := 0
			for _, f := range res.Findings {
				if n == 5 {
					fmt.Fprintf(bw, "       … %d more\n", len(res.Findings)-n)
					break
				}
				loc := ""
				if f.Location != nil && f.Location.String() != "" {
					loc = " (" + relPath("", f.Location.String()) + ")"
				}
				fmt.Fprintf(bw, "       %s%s\n", f.Message, loc)
				n++
			}
			if len(res.Findings) == 0 && res.Reason != "" {
				fmt.Fprintf(bw, "       %s\n", res.Reason)
			}
		case cis.NotEvaluated, cis.NotApplicable:
			if res.Reason != "" {
				fmt.Fprintf(bw, "       %s\n", res.Reason)
			}
		}
	}
	s := r.Summary
	fmt.Fprintf(bw, "\n%d pass, %d fail, %d warn, %d not applicable, %d not evaluated", s.Pass, s.Fail, s.Warn, s.NotApplicable, s.NotEvaluated)
	if len(r.Suppressed) > 0 {
		fmt.Fprintf(bw, " (%d findings suppressed)", len(r.Suppressed))
	}
	fmt.Fprintln(bw)
	for _, p := range r.Forbidden {
		fmt.Fprintf(bw, "not permitted: %s\n", p)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(bw, "error: %s\n", Clean(e))
	}
	return bw.err
}

// cisJSON is the JSON form: every result with its evidence and findings.
type cisJSON struct {
	*cis.Report
	Results []cisResultJSON `json:"results"`
}

type cisResultJSON struct {
	cis.Result
	Findings []any `json:"findings,omitempty"`
}

// CISJSON writes the report as JSON (docs/cis.md).
func CISJSON(w io.Writer, r *cis.Report) error {
	out := cisJSON{Report: r}
	for _, res := range r.Results {
		j := cisResultJSON{Result: res}
		for _, f := range res.Findings {
			j.Findings = append(j.Findings, f)
		}
		out.Results = append(out.Results, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}
