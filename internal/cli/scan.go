package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/report"
)

type scanOptions struct {
	output     string
	outputFile string
	failOn     string
	pssLevel   string
	pssVersion string
	color      string
}

func newScanCmd(s *streams) *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan [PATH ...]",
		Short: "Scan manifests: files, folders (recursively) or - for stdin",
		Long: `Scan Kubernetes manifests against the check catalog.

PATH is a file, a folder (read recursively: .yaml, .yml and .json files,
hidden folders skipped) or - for standard input; no PATH scans the current
folder.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above
--fail-on; 2 usage or input errors (the rest of the input is still scanned
and reported).`,
		Example: `  rampart scan examples/
  rampart scan -o sarif --output-file rampart.sarif .
  kubectl get deploy -A -o yaml | rampart scan -`,
		RunE: func(_ *cobra.Command, args []string) error {
			return runScan(s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	f.StringVar(&o.failOn, "fail-on", "high", "lowest severity that makes the exit code 1: critical, high, medium, low, info, or none")
	f.StringVar(&o.pssLevel, "pss-level", "restricted", "Pod Security Standards level where no Namespace label says otherwise: baseline or restricted")
	f.StringVar(&o.pssVersion, "pss-version", "latest", "Pod Security Standards version, e.g. v1.37 or latest")
	f.StringVar(&o.color, "color", "auto", "colour text output: auto (on a terminal, unless NO_COLOR is set), always, never")
	return cmd
}

func runScan(s *streams, o *scanOptions, paths []string) error {
	rep, err := report.For(o.output)
	if err != nil {
		return usageError("%v", err)
	}
	var failOn *check.Severity
	if o.failOn != "none" {
		sev, err := check.ParseSeverity(o.failOn)
		if err != nil {
			return usageError("--fail-on: %v", err)
		}
		failOn = &sev
	}
	level, err := api.ParseLevel(o.pssLevel)
	if err != nil || level == api.LevelPrivileged {
		return usageError("--pss-level: want baseline or restricted, got %q", o.pssLevel)
	}
	pssVersion, err := api.ParseVersion(o.pssVersion)
	if err != nil {
		return usageError("--pss-version: %v", err)
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	reg, err := checks.Registry()
	if err != nil {
		return err
	}

	tuneGC()
	start := time.Now()
	res := engine.Scan(paths, manifest.Options{Stdin: s.in}, reg.Checks(), engine.Options{
		PSS:    api.LevelVersion{Level: level, Version: pssVersion},
		FailOn: failOn,
	})
	slog.Debug("scan done", "files", res.Summary.Files, "objects", res.Summary.Objects, "findings", len(res.Findings), "elapsed", time.Since(start))

	w := s.out
	color := o.color == "always" || (o.color == "auto" && isTerminal(s.out) && os.Getenv("NO_COLOR") == "")
	if o.outputFile != "" {
		f, err := os.Create(o.outputFile)
		if err != nil {
			return usageError("--output-file: %v", err)
		}
		defer f.Close()
		w = f
		color = o.color == "always"
	}
	root, _ := os.Getwd()
	if err := rep.Write(w, res, report.Options{Root: root, Color: color, Version: toolVersion()}); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	switch {
	case len(res.Errors) > 0:
		return &exitError{code: ExitError}
	case res.Summary.Failed:
		return &exitError{code: ExitFindings}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
