package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

// Text writes findings grouped by file and object, then input errors, then one
// summary line.
type Text struct{}

var severityColor = map[check.Severity]string{
	check.Critical: "\x1b[1;35m",
	check.High:     "\x1b[1;31m",
	check.Medium:   "\x1b[33m",
	check.Low:      "\x1b[36m",
	check.Info:     "\x1b[2m",
}

const (
	bold  = "\x1b[1m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

// Write implements Reporter.
func (Text) Write(w io.Writer, res *engine.Result, opts Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	paint := func(code, s string) string {
		if !opts.Color {
			return s
		}
		return code + s + reset
	}
	lastFile, lastObj := "\x00", ""
	var scratch [32]byte
	// The position column is as wide as the widest line:column (8 at least),
	// so 5-digit lines never run into the severity.
	posWidth := 8
	for _, f := range res.Findings {
		if f.Location != nil && f.Location.Line > 0 {
			posWidth = max(posWidth, len(strconv.Itoa(f.Location.Line))+len(strconv.Itoa(f.Location.Column))+2)
		}
	}
	for _, f := range res.Findings {
		file := "(cluster)"
		line, col := 0, 0
		if f.Location != nil && f.Location.File != "" {
			file, line, col = f.Location.File, f.Location.Line, f.Location.Column
		}
		if file != lastFile {
			if lastFile != "\x00" {
				fmt.Fprintln(bw)
			}
			fmt.Fprintln(bw, paint(bold, Clean(file)))
			lastFile, lastObj = file, ""
		}
		if obj := f.Object.String(); obj != lastObj {
			fmt.Fprintf(bw, "  %s\n", Clean(obj))
			lastObj = obj
		}
		// Written piece by piece: fmt costs more than the rest of the
		// report when a repository has tens of thousands of findings.
		bw.WriteString("    ")
		n := 0
		if line > 0 {
			b := strconv.AppendInt(scratch[:0], int64(line), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(col), 10)
			bw.Write(b)
			n = len(b)
		}
		pad(bw, posWidth-n)
		sev := f.Severity.String()
		bw.WriteString(paint(severityColor[f.Severity], sev))
		pad(bw, 9-len(sev))
		bw.WriteString(paint(bold, f.CheckID))
		bw.WriteByte(' ')
		bw.WriteString(Clean(f.Message))
		bw.WriteByte('\n')
		if f.Field != "" {
			bw.WriteString("            ")
			bw.WriteString(paint(dim, "field: "+f.Field))
			bw.WriteByte('\n')
		}
		for _, rel := range f.Related {
			bw.WriteString("            ")
			bw.WriteString(paint(dim, "also:  "+Clean(rel.String())))
			bw.WriteByte('\n')
		}
		bw.WriteString("            ")
		bw.WriteString(paint(dim, "fix:   "+f.Remediation))
		bw.WriteByte('\n')
	}
	if opts.ShowSuppressed && len(res.Suppressed) > 0 {
		if len(res.Findings) > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, paint(bold, "suppressed"))
		for _, s := range res.Suppressed {
			pos := s.Object.String()
			if s.Location != nil && s.Location.Line > 0 {
				pos = s.Location.String() + " " + pos
			}
			fmt.Fprintf(bw, "  %s %s %s\n", Clean(pos), s.CheckID, paint(dim, Clean("("+s.By+": "+s.Justification+")")))
		}
	}
	if len(res.NotEvaluated) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, paint(bold, "not evaluated (missing permissions)"))
		for _, n := range res.NotEvaluated {
			where := "all namespaces"
			if n.Namespace != "" {
				where = "namespace " + n.Namespace
			}
			fmt.Fprintf(bw, "  %s cannot %s %s in %s\n", paint(severityColor[check.High], "error"), n.Verb, n.Resource, where)
		}
	}
	if len(res.Errors) > 0 {
		if len(res.Findings) > 0 || (opts.ShowSuppressed && len(res.Suppressed) > 0) {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, paint(bold, "input errors"))
		for _, e := range res.Errors {
			fmt.Fprintf(bw, "  %s %s\n", paint(severityColor[check.High], "error"), Clean(e.Error()))
		}
	}
	if len(res.Notices) > 0 {
		if len(res.Findings) > 0 || len(res.Errors) > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, paint(bold, "notices"))
		for _, e := range res.Notices {
			fmt.Fprintf(bw, "  %s %s\n", paint(dim, "notice"), Clean(e.Error()))
		}
	}
	if len(res.Findings) > 0 {
		fmt.Fprintln(bw)
		writeByCheck(bw, res, paint)
	}
	if len(res.Findings) > 0 || len(res.Errors) > 0 || len(res.Notices) > 0 {
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, summaryLine(res, opts.Color))
	return bw.Flush()
}

// writeByCheck ends a text report with the findings counted per check,
// most severe first, then most frequent.
func writeByCheck(bw *bufio.Writer, res *engine.Result, paint func(code, s string) string) {
	type row struct {
		id, title string
		sev       check.Severity
		n         int
	}
	byID := map[string]*row{}
	var rows []*row
	for _, f := range res.Findings {
		r := byID[f.CheckID]
		if r == nil {
			r = &row{id: f.CheckID, title: f.Title, sev: f.Severity}
			byID[f.CheckID] = r
			rows = append(rows, r)
		}
		r.n++
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.sev != b.sev {
			return a.sev > b.sev
		}
		if a.n != b.n {
			return a.n > b.n
		}
		return a.id < b.id
	})
	idWidth := 0
	for _, r := range rows {
		idWidth = max(idWidth, len(r.id))
	}
	fmt.Fprintln(bw, paint(bold, "findings by check"))
	for _, r := range rows {
		sev := r.sev.String()
		fmt.Fprintf(bw, "  %6d  %s%s  %-*s  %s\n", r.n, paint(severityColor[r.sev], sev), strings.Repeat(" ", 8-len(sev)), idWidth, r.id, r.title)
	}
}

func summaryLine(res *engine.Result, color bool) string {
	s := res.Summary
	var parts []string
	for sev := check.Critical; sev >= check.Info; sev-- {
		if n := s.BySeverity[sev.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	counts := ""
	if len(parts) > 0 {
		counts = " (" + strings.Join(parts, ", ") + ")"
	}
	verdict := "passed"
	switch {
	case s.Errors > 0:
		verdict = "input errors"
	case s.NotEvaluated > 0:
		verdict = "incomplete: " + fmt.Sprint(s.NotEvaluated) + " kinds not evaluated"
	case s.Failed:
		verdict = "failed"
	}
	if color {
		code := "\x1b[1;32m"
		if verdict != "passed" {
			code = "\x1b[1;31m"
		}
		verdict = code + verdict + reset
	}
	suppressed := ""
	if s.Hidden > 0 {
		suppressed = fmt.Sprintf(", %d below --min-severity not shown", s.Hidden)
	}
	if s.Suppressed > 0 {
		suppressed += fmt.Sprintf(", %d suppressed", s.Suppressed)
	}
	if s.ExpiredExceptions > 0 {
		suppressed += fmt.Sprintf(", %d no longer suppressed (expired exceptions)", s.ExpiredExceptions)
	}
	return fmt.Sprintf("%d %s%s%s in %d %s from %d %s, %d input %s; fail-on %s: %s",
		s.Findings, plural(s.Findings, "finding", "findings"), counts, suppressed,
		s.Objects, plural(s.Objects, "object", "objects"),
		s.Files, plural(s.Files, "file", "files"),
		s.Errors, plural(s.Errors, "error", "errors"),
		s.FailOn, verdict)
}

func pad(w *bufio.Writer, n int) {
	for ; n > 0; n-- {
		w.WriteByte(' ')
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Clean escapes what a terminal would act on rather than show: control
// characters (C0, DEL, C1), line and paragraph separators and bidirectional
// overrides, which names and values from the input may carry.
func Clean(s string) string {
	bad := false
	for _, r := range s {
		if unsafeRune(r) {
			bad = true
			break
		}
	}
	if !bad {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true
	case r == 0x2028 || r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f:
		return true
	}
	return false
}
