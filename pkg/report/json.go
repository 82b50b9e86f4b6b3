package report

import (
	"encoding/json"
	"io"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// JSON writes the documented machine-readable format (docs/output-json.md).
type JSON struct{}

type jsonDoc struct {
	Version    string                `json:"version"`
	Findings   []check.Finding       `json:"findings"`
	Suppressed []suppress.Suppressed `json:"suppressed,omitempty"`
	Errors     []manifest.InputError `json:"errors"`
	Summary    engine.Summary        `json:"summary"`
}

// Write implements Reporter.
func (JSON) Write(w io.Writer, res *engine.Result, opts Options) error {
	doc := jsonDoc{Version: opts.Version, Findings: res.Findings, Errors: res.Errors, Summary: res.Summary}
	if doc.Findings == nil {
		doc.Findings = []check.Finding{}
	}
	if doc.Errors == nil {
		doc.Errors = []manifest.InputError{}
	}
	if opts.ShowSuppressed {
		doc.Suppressed = res.Suppressed
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
