// Package report writes an engine.Result in one format per file: text, json,
// sarif and junit. Reporters only format; they never decide what is a finding.
package report

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/engine"
)

// Options are what a reporter needs besides the result.
type Options struct {
	// Root is the folder file paths are made relative to (SARIF URIs).
	Root string
	// Color enables ANSI colours in text output.
	Color bool
	// Version is the tool version written into SARIF and JSON.
	Version string
	// ShowSuppressed lists suppressed findings in text and JSON output
	// (SARIF always carries them, marked as suppressed).
	ShowSuppressed bool
	// LinkBase makes Markdown locations links: the URL of the repository's
	// files at the commit (https://github.com/OWNER/REPO/blob/SHA).
	LinkBase string
	// Page adds graphs, a trend and compliance to an HTML report.
	Page *Page
}

// Reporter writes a result.
type Reporter interface {
	Write(w io.Writer, res *engine.Result, opts Options) error
}

// Formats lists the scan output formats.
var Formats = []string{"text", "compact", "json", "sarif", "junit", "markdown", "policyreport", "html"}

// For returns the reporter for a format name.
func For(format string) (Reporter, error) {
	switch format {
	case "text":
		return Text{}, nil
	case "compact":
		return Compact{}, nil
	case "json":
		return JSON{}, nil
	case "sarif":
		return SARIF{}, nil
	case "junit":
		return JUnit{}, nil
	case "markdown":
		return Markdown{}, nil
	case "policyreport":
		return PolicyReport{}, nil
	case "html":
		return HTML{}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// RelPath makes file relative to root with forward slashes, when it is
// below it (as reports show files).
func RelPath(root, file string) string { return relPath(root, file) }

// relPath makes file relative to root with forward slashes, when it is below it.
func relPath(root, file string) string {
	if root == "" || file == "" {
		return filepath.ToSlash(file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return filepath.ToSlash(file)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(file)
	}
	return filepath.ToSlash(rel)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
