package report

import (
	"bufio"
	"fmt"
	"io"
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
			fmt.Fprintln(bw, paint(bold, file))
			lastFile, lastObj = file, ""
		}
		if obj := f.Object.String(); obj != lastObj {
			fmt.Fprintf(bw, "  %s\n", obj)
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
		pad(bw, 8-n)
		sev := f.Severity.String()
		bw.WriteString(paint(severityColor[f.Severity], sev))
		pad(bw, 9-len(sev))
		bw.WriteString(paint(bold, f.CheckID))
		bw.WriteByte(' ')
		bw.WriteString(f.Message)
		bw.WriteByte('\n')
		if f.Field != "" {
			bw.WriteString("            ")
			bw.WriteString(paint(dim, "field: "+f.Field))
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
			fmt.Fprintf(bw, "  %s %s %s\n", pos, s.CheckID, paint(dim, "("+s.By+": "+s.Justification+")"))
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
			fmt.Fprintf(bw, "  %s %s\n", paint(severityColor[check.High], "error"), e.Error())
		}
	}
	if len(res.Findings) > 0 || len(res.Errors) > 0 {
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, summaryLine(res, opts.Color))
	return bw.Flush()
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
	if s.Suppressed > 0 {
		suppressed = fmt.Sprintf(", %d suppressed", s.Suppressed)
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
