package report

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/rampart-k8s/rampart/pkg/engine"
)

// JSON writes the documented machine-readable format (docs/output-json.md):
// one object, with each finding, suppressed finding and error on a line of
// its own, so that the output is both greppable and cheap to write.
type JSON struct{}

// Write implements Reporter.
func (JSON) Write(w io.Writer, res *engine.Result, opts Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	jw := &jsonWriter{w: bw}
	jw.raw("{\n  \"version\": ")
	jw.value(opts.Version)
	jw.raw(",\n  \"findings\": ")
	jw.array(len(res.Findings), func(i int) any { return res.Findings[i] })
	if opts.ShowSuppressed {
		jw.raw(",\n  \"suppressed\": ")
		jw.array(len(res.Suppressed), func(i int) any { return res.Suppressed[i] })
	}
	if len(res.NotEvaluated) > 0 {
		jw.raw(",\n  \"notEvaluated\": ")
		jw.array(len(res.NotEvaluated), func(i int) any { return res.NotEvaluated[i] })
	}
	jw.raw(",\n  \"errors\": ")
	jw.array(len(res.Errors), func(i int) any { return res.Errors[i] })
	if len(res.Notices) > 0 {
		jw.raw(",\n  \"notices\": ")
		jw.array(len(res.Notices), func(i int) any { return res.Notices[i] })
	}
	jw.raw(",\n  \"summary\": ")
	if jw.err == nil {
		b, err := json.MarshalIndent(res.Summary, "  ", "  ")
		jw.err = err
		jw.raw(string(b))
	}
	jw.raw("\n}\n")
	if jw.err != nil {
		return jw.err
	}
	return bw.Flush()
}

// jsonWriter writes JSON framing by hand around compact values, keeping the
// first error.
type jsonWriter struct {
	w   *bufio.Writer
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonWriter) value(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = err
		return
	}
	_, j.err = j.w.Write(b)
}

// array writes n elements, one a line, indented under a top-level key.
func (j *jsonWriter) array(n int, at func(int) any) {
	if n == 0 {
		j.raw("[]")
		return
	}
	j.raw("[\n")
	for i := 0; i < n; i++ {
		j.raw("    ")
		j.value(at(i))
		if i < n-1 {
			j.raw(",\n")
		}
	}
	j.raw("\n  ]")
}
