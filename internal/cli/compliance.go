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
	"github.com/spf13/pflag"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/compliance"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/scan"
	"github.com/rampart-k8s/rampart/pkg/source"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

type complianceOptions struct {
	framework          string
	list               bool
	output, outputFile string
	postureInput
}

// postureInput is what the compliance and report commands judge: the
// manifests or the cluster, a node's files for CIS, and images.
type postureInput struct {
	config     string
	cluster    bool
	cl         source.ClusterOptions
	root       string
	images     bool
	imageDB    string
	imageCache string
	helm       source.HelmOptions
}

func (p *postureInput) addFlags(f *pflag.FlagSet) {
	f.StringVar(&p.config, "config", "", "configuration file (default: .rampart.yaml in the current folder, if any)")
	f.BoolVar(&p.cluster, "cluster", false, "judge the live cluster (kubeconfig), CIS control-plane and node controls included")
	f.StringVar(&p.cl.Context, "context", "", "kubeconfig context")
	f.StringVar(&p.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file")
	f.StringVar(&p.root, "root", "", "a node's file system (/ on the node itself) for the CIS control-plane and node controls")
	f.BoolVar(&p.images, "images", false, "also scan the images the workloads run (for the image checks)")
	f.StringVar(&p.imageDB, "db", "", "with --images: folder of OSV advisories")
	f.StringVar(&p.imageCache, "image-cache", "", "with --images: an OCI layout holding images by reference")
	addHelmFlags(f, &p.helm)
}

// plan is the scan of the input, at the restricted Pod Security level
// (what the frameworks ask), with its images when asked.
func (p *postureInput) plan(s *streams, paths []string, keepObjects bool) (*scan.Plan, error) {
	if p.cluster && p.root != "" {
		return nil, usageError("--root reads a node's files, --cluster the cluster: give one")
	}
	p.cl.AllNamespaces = true
	plan, err := scan.New(scan.Options{Paths: paths, Stdin: s.in, Helm: p.helm, Cluster: p.cluster, ClusterOptions: p.cl,
		ConfigFile: p.config, AllowEmpty: p.root != "", KeepObjects: keepObjects,
		PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}})
	if err != nil {
		return nil, usageError("%v", err)
	}
	if err := setImages(plan, p.images, p.imageDB, p.imageCache); err != nil {
		return nil, err
	}
	return plan, nil
}

func newComplianceCmd(s *streams) *cobra.Command {
	o := &complianceOptions{}
	cmd := &cobra.Command{
		Use:   "compliance --framework NAME [PATH ...]",
		Short: "Report a compliance framework's controls: pass, fail, manual or not applicable, with the checks and objects as evidence",
		Long: "Scans the manifests (or the cluster with --cluster) and judges every control of the framework\n" +
			"(" + strings.Join(compliance.Names(), ", ") + ").\n" +
			"A control mapped to checks fails on a finding of any of them, passes when they were evaluated and\n" +
			"found nothing, and is 'not evaluated' when none applied: it never passes with nothing evaluated.\n" +
			"CIS controls of the control plane and nodes need --root DIR (a node's files) or --cluster; image\n" +
			"checks need --images. Exit 1 when a control fails.",
		Example: `  rampart compliance --framework nsa-cisa-1.2 deploy/
  rampart compliance --framework cis-1.12 --root / -o html --output-file cis.html
  rampart compliance --list`,
		RunE: func(_ *cobra.Command, args []string) error { return runCompliance(s, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.framework, "framework", "", "the framework: "+strings.Join(compliance.Names(), ", "))
	f.BoolVar(&o.list, "list", false, "list the frameworks")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json, markdown, html")
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	o.addFlags(f)
	return cmd
}

func runCompliance(s *streams, o *complianceOptions, paths []string) error {
	if o.list {
		for _, n := range compliance.Names() {
			fw, err := compliance.Load(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%-24s %3d controls  %s %s\n", n, len(fw.Controls), fw.Name, fw.Version)
		}
		return nil
	}
	if o.framework == "" {
		return usageError("--framework is required (one of %s)", strings.Join(compliance.Names(), ", "))
	}
	fw, err := compliance.Load(o.framework)
	if err != nil {
		return usageError("%v", err)
	}
	switch o.output {
	case "text", "json", "markdown", "html":
	default:
		return usageError("unknown output %q for compliance: text, json, markdown or html", o.output)
	}
	ctx, cancel := context.WithTimeout(s.context(), 5*time.Minute)
	defer cancel()
	plan, err := o.plan(s, paths, o.output == "html")
	if err != nil {
		return err
	}
	res, err := plan.Run(ctx)
	if err != nil {
		return usageError("%v", err)
	}
	in := compliance.Input{Result: res, Rel: relTo()}
	if usesCIS(fw) {
		if in.CIS, in.CISWhy, err = complianceCIS(ctx, s, o.root, o.cluster, o.cl, paths); err != nil {
			return err
		}
	}
	rep := compliance.Evaluate(fw, in)

	var w io.Writer = s.out
	var buf bytes.Buffer
	if o.outputFile != "" {
		w = &buf
	}
	root, _ := os.Getwd()
	ropts := report.Options{Root: root, Version: toolVersion()}
	if o.output == "html" {
		if ropts.Page, err = htmlPage(plan.Objects, res, ""); err != nil {
			return usageError("%v", err)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintln(s.err, "error:", report.Clean(e.Error()))
	}
	if err := reportErr(report.Compliance(w, o.output, rep, res, ropts)); err != nil {
		return err
	}
	if o.outputFile != "" {
		if err := file.WriteAtomic(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usageError("--output-file: %v", err)
		}
	}
	switch {
	case len(res.Errors) > 0:
		return &exitError{code: ExitError}
	case rep.Summary[compliance.Fail] > 0:
		return &exitError{code: ExitFindings}
	}
	return nil
}

func usesCIS(fw *compliance.Framework) bool {
	for _, c := range fw.Controls {
		for _, id := range c.Checks {
			if strings.HasPrefix(id, "cis-") {
				return true
			}
		}
	}
	return false
}

// setImages turns on the image scan of a plan from the --images, --db and
// --image-cache flags.
func setImages(plan *scan.Plan, on bool, dbDir, cacheDir string) error {
	if !on {
		if dbDir != "" || cacheDir != "" {
			return usageError("--db and --image-cache go with --images")
		}
		return nil
	}
	plan.Images = scan.ImageOptions{Enabled: true, Cache: cacheDir}
	if dbDir != "" {
		db, err := vuln.Load(dbDir)
		if err != nil {
			return usageError("%v", err)
		}
		plan.Images.DB = db
	}
	return nil
}

// complianceCIS runs what the CIS controls need: the benchmark on a node's
// files (root) or the cluster, else its section 5 over the manifests, with
// why the rest is not evaluated.
func complianceCIS(ctx context.Context, s *streams, root string, cluster bool, cl source.ClusterOptions, paths []string) ([]cis.Result, string, error) {
	b, err := cis.Load(compliance.CISFramework)
	if err != nil {
		return nil, "", err
	}
	if root != "" || cluster {
		rep, err := evaluateCIS(ctx, s, b, &cisOptions{root: root, cluster: cluster, cl: cl, role: "auto"}, paths)
		if err != nil {
			return nil, "", err
		}
		return rep.Results, "", nil
	}
	why := "the control plane and nodes were not read: give --root DIR (a node's files) or --cluster"
	if len(paths) == 0 {
		return nil, why, nil
	}
	pin, err := policyScan(ctx, s, b, paths, false, cl)
	if err != nil {
		return nil, "", err
	}
	return b.EvaluatePolicies(pin), why, nil
}
