package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/scan"
	"github.com/rampart-k8s/rampart/pkg/source"
	"github.com/rampart-k8s/rampart/pkg/suppress"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

type scanOptions struct {
	output         string
	outputFile     string
	failOn         string
	pssLevel       string
	pssVersion     string
	color          string
	config         string
	baseline       string
	writeBaseline  string
	showSuppressed bool
	allowEmpty     bool
	disable        []string
	enable         []string
	cluster        bool
	cl             source.ClusterOptions
	allowPartial   bool
	helm           source.HelmOptions
	minSeverity    string
	quiet          bool
	contextPaths   []string
	images         bool
	imageDB        string
	imageCache     string
	imageJobs      int
	ignoreUnfixed  bool
	vex            []string
	linkBase       string
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
	f.StringVar(&o.minSeverity, "min-severity", "info", "lowest severity shown (findings below it still count for --fail-on)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing but input errors; the exit code gives the verdict")
	f.StringVar(&o.pssLevel, "pss-level", "restricted", "Pod Security Standards level where no Namespace label says otherwise: baseline or restricted")
	f.StringVar(&o.pssVersion, "pss-version", "latest", "Pod Security Standards version, e.g. v1.37 or latest")
	f.StringVar(&o.color, "color", "auto", "colour text output: auto (on a terminal, unless NO_COLOR is set), always, never")
	f.StringVar(&o.config, "config", "", "configuration file (default: the first .rampart.yaml found walking up from the first PATH)")
	f.StringVar(&o.baseline, "baseline", "", "report only findings that are not in this baseline file")
	f.StringVar(&o.writeBaseline, "write-baseline", "", "write the findings of this scan as a baseline file")
	f.BoolVar(&o.showSuppressed, "show-suppressed", false, "list suppressed findings with their justification (text and JSON)")
	f.BoolVar(&o.allowEmpty, "allow-empty", false, "exit 0 when the paths hold no Kubernetes object (otherwise an input error)")
	f.StringSliceVar(&o.disable, "disable", nil, "check IDs, categories or all: not to run (repeatable, comma-separated)")
	f.StringSliceVar(&o.enable, "enable", nil, "check IDs, categories or all: to run even when disabled (--disable all --enable rbac runs only RBAC checks)")
	f.StringSliceVar(&o.contextPaths, "context-path", nil, "judge PATH against the objects of these paths too (e.g. the files a pull request changed, with the repository's Namespaces, RBAC and NetworkPolicies as context); only PATH's objects get findings")
	f.BoolVar(&o.cluster, "cluster", false, "scan the live cluster of the kubeconfig context instead of files")
	f.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster config)")
	f.StringVar(&o.cl.Context, "context", "", "kubeconfig context to use")
	f.StringVarP(&o.cl.Namespace, "namespace", "n", "", "with --cluster: the namespace to scan (default: the context's); in manifests: where objects that name none land (default: default), the Helm release namespace")
	f.BoolVarP(&o.cl.AllNamespaces, "all-namespaces", "A", false, "with --cluster: scan every namespace and the cluster-scoped objects")
	f.BoolVar(&o.allowPartial, "allow-partial", false, "with --cluster: exit by the findings even when some kinds could not be read (default: exit 2)")
	f.BoolVar(&o.images, "images", false, "also scan the images the objects run (each once): packages, advisories (--db), hygiene; findings at the image's line")
	f.StringVar(&o.imageDB, "db", "", "with --images: folder of OSV advisories (JSON files or OSV's zip exports)")
	f.StringVar(&o.imageCache, "image-cache", "", "with --images: an OCI layout holding images by reference, read before any registry (offline scans)")
	f.IntVar(&o.imageJobs, "image-jobs", 4, "with --images: images read at once")
	f.BoolVar(&o.ignoreUnfixed, "ignore-unfixed", false, "with --images: leave out advisories with no fixed version")
	f.StringVar(&o.linkBase, "link-base", "", "markdown: link locations to this URL of the repository's files (default on GitHub Actions: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/blob/$GITHUB_SHA)")
	f.StringSliceVar(&o.vex, "vex", nil, "with --images: OpenVEX documents whose not_affected and fixed statements suppress advisories, with their justification")
	addHelmFlags(f, &o.helm)
	return cmd
}

func runScan(s *streams, o *scanOptions, paths []string) error {
	rep, err := report.For(o.output)
	if err != nil {
		return usageError("%v", err)
	}
	failOn, err := failOnSeverity(o.failOn)
	if err != nil {
		return err
	}
	minSev, err := check.ParseSeverity(o.minSeverity)
	if err != nil {
		return usageError("--min-severity: %v", err)
	}
	level, err := api.ParseLevel(o.pssLevel)
	if err != nil || level == api.LevelPrivileged {
		return usageError("--pss-level: want baseline or restricted, got %q", o.pssLevel)
	}
	pssVersion, err := api.ParseVersion(o.pssVersion)
	if err != nil {
		return usageError("--pss-version: %v", err)
	}
	if !o.cluster && (o.cl.AllNamespaces || o.cl.Context != "" || o.cl.Kubeconfig != "") {
		return usageError("--all-namespaces, --context and --kubeconfig need --cluster")
	}
	o.helm.Namespace = o.cl.Namespace // -n is the release namespace when rendering charts
	plan, err := scan.New(scan.Options{
		Paths: paths, Stdin: s.in, ContextPaths: o.contextPaths, Helm: o.helm,
		Cluster: o.cluster, ClusterOptions: o.cl,
		ConfigFile: o.config, Disable: o.disable, Enable: o.enable,
		PSS:    api.LevelVersion{Level: level, Version: pssVersion},
		FailOn: failOn, Baseline: o.baseline, AllowEmpty: o.allowEmpty,
		Fixes:       o.output == "sarif", // SARIF results carry their fixes
		KeepObjects: o.output == "html",  // for its graphs
	})
	if err != nil {
		return usageError("%v", err)
	}
	if !o.images && (o.imageDB != "" || o.imageCache != "") {
		return usageError("--db and --image-cache go with --images")
	}
	if o.images {
		plan.Images = scan.ImageOptions{Enabled: true, Cache: o.imageCache, Jobs: o.imageJobs, IgnoreUnfixed: o.ignoreUnfixed}
		if len(o.vex) > 0 {
			v, err := vuln.LoadVEX(o.vex...)
			if err != nil {
				return usageError("%v", err)
			}
			plan.Images.VEX = v
		}
		if o.imageDB != "" {
			db, err := vuln.Load(o.imageDB)
			if err != nil {
				return usageError("%v", err)
			}
			for _, e := range db.Errors {
				fmt.Fprintln(s.err, "warning: --db:", report.Clean(e.Error()))
			}
			plan.Images.DB = db
		}
	}
	tuneGC()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := plan.Run(ctx)
	if err != nil {
		return usageError("%v", err)
	}
	if o.writeBaseline != "" {
		if err := suppress.WriteBaseline(o.writeBaseline, scan.Known(res)); err != nil {
			return usageError("--write-baseline: %v", err)
		}
	}
	if minSev > check.Info {
		res.Hide(minSev)
	}
	if o.quiet && o.outputFile == "" {
		for _, e := range res.Errors {
			fmt.Fprintln(s.err, "error:", report.Clean(e.Error()))
		}
		return scanExit(res, o)
	}

	var w io.Writer = s.out
	color := o.color == "always" || (o.color == "auto" && isTerminal(s.out) && os.Getenv("NO_COLOR") == "")
	var buf bytes.Buffer
	if o.outputFile != "" {
		w = &buf // written atomically once complete
		color = o.color == "always"
	}
	root, _ := os.Getwd()
	linkBase := o.linkBase
	if linkBase == "" && os.Getenv("GITHUB_REPOSITORY") != "" && os.Getenv("GITHUB_SHA") != "" {
		server := os.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		linkBase = server + "/" + os.Getenv("GITHUB_REPOSITORY") + "/blob/" + os.Getenv("GITHUB_SHA")
	}
	ropts := report.Options{Root: root, Color: color, Version: toolVersion(), ShowSuppressed: o.showSuppressed, LinkBase: linkBase}
	if o.output == "html" {
		if ropts.Page, err = htmlPage(plan.Objects, res, o.baseline); err != nil {
			return usageError("%v", err)
		}
	}
	if err := rep.Write(w, res, ropts); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if o.outputFile != "" {
		if err := file.WriteAtomic(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usageError("--output-file: %v", err)
		}
	}
	return scanExit(res, o)
}

// scanExit maps a result to the exit code: input errors (and, without
// --allow-partial, kinds a live scan could not read) first, then findings.
func scanExit(res *engine.Result, o *scanOptions) error {
	switch {
	case len(res.Errors) > 0, len(res.NotEvaluated) > 0 && !o.allowPartial:
		return &exitError{code: ExitError}
	case res.Summary.Failed:
		return &exitError{code: ExitFindings}
	}
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
