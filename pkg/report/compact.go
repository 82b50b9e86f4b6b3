package report

import (
	"bufio"
	"io"
	"strconv"

	"github.com/rampart-k8s/rampart/pkg/engine"
)

// Compact writes one line per finding, as compilers and linters do, so that
// editors and grep can jump to it: file:line:col severity check-id message.
// Input errors follow as file:line: error message; nothing else is written.
type Compact struct{}

// Write implements Reporter.
func (Compact) Write(w io.Writer, res *engine.Result, _ Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var scratch [32]byte
	for _, f := range res.Findings {
		if f.Location != nil && f.Location.File != "" {
			bw.WriteString(Clean(f.Location.File))
			b := append(scratch[:0], ':')
			b = strconv.AppendInt(b, int64(f.Location.Line), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(f.Location.Column), 10)
			bw.Write(b)
		} else {
			bw.WriteString(Clean(f.Object.String()))
		}
		bw.WriteByte(' ')
		bw.WriteString(f.Severity.String())
		bw.WriteByte(' ')
		bw.WriteString(f.CheckID)
		bw.WriteByte(' ')
		bw.WriteString(Clean(f.Message))
		bw.WriteByte('\n')
	}
	for _, e := range res.Errors {
		bw.WriteString(Clean(e.Error()))
		bw.WriteString(": error\n")
	}
	return bw.Flush()
}
