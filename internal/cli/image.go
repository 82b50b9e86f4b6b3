package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

func newImageCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Inventory container images and match their packages with vulnerability advisories",
	}
	cmd.AddCommand(newImageScanCmd(s), newImageSBOMCmd(s))
	return cmd
}

func newImageSBOMCmd(s *streams) *cobra.Command {
	var src image.Source
	var format, outputFile string
	cmd := &cobra.Command{
		Use:   "sbom [REF]",
		Short: "Write an image's packages as a CycloneDX or SPDX JSON SBOM",
		Example: `  rampart image sbom --docker-archive api.tar -o cyclonedx > api.cdx.json
  rampart image scan --sbom api.cdx.json --db osv/`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				src.Ref = args[0]
			}
			if len(args) > 1 || (src.Ref == "") == (src.OCILayout == "" && src.DockerArchive == "") {
				return usageError("give one image: REF, --oci-layout DIR or --docker-archive FILE")
			}
			if format != image.CycloneDX && format != image.SPDX {
				return usageError("--output: want cyclonedx or spdx")
			}
			rep, err := image.Scan(s.context(), src, image.ScanOptions{})
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("%s", report.Clean(err.Error()))}
			}
			var buf bytes.Buffer
			if err := rep.WriteSBOM(&buf, format, toolVersion()); err != nil {
				return err
			}
			if outputFile != "" {
				return file.WriteAtomic(outputFile, buf.Bytes(), 0o644)
			}
			_, err = s.out.Write(buf.Bytes())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&src.OCILayout, "oci-layout", "", "read the image from an OCI layout folder")
	f.StringVar(&src.DockerArchive, "docker-archive", "", "read the image from a docker save tarball")
	f.StringVar(&src.Platform, "platform", "", "os/arch[/variant] of a multi-platform image (default linux/amd64)")
	f.BoolVar(&src.Insecure, "insecure-registry", false, "allow a plain-HTTP registry")
	f.StringVarP(&format, "output", "o", image.CycloneDX, "cyclonedx (1.5 JSON) or spdx (2.3 JSON)")
	f.StringVar(&outputFile, "output-file", "", "write the SBOM to this file instead of stdout")
	return cmd
}

type imageOptions struct {
	src           image.Source
	db            string
	output        string
	outputFile    string
	failOn        string
	ignoreUnfixed bool
	packages      bool
	vex           []string
	sbom          string
}

func newImageScanCmd(s *streams) *cobra.Command {
	o := &imageOptions{}
	cmd := &cobra.Command{
		Use:   "scan [REF]",
		Short: "Scan an image: its packages (dpkg, apk, Go, npm, Python, Maven) and their advisories",
		Long: `Read an image without a daemon: REF from a registry (the docker config's
credentials and credential helpers), --oci-layout DIR, or --docker-archive
FILE (docker save). Its layers are flattened as a runtime would (whiteouts
honoured); each package found keeps the layer that added it.

With --db DIR (a folder of OSV JSON files, or OSV's per-ecosystem zip
exports), each package is matched with the advisories of its ecosystem,
versions compared by that ecosystem's rules; distro packages by their
source package and distro release. Nothing is fetched but the image.

Exit codes: 0 no vulnerability at or above --fail-on; 1 some; 2 usage
errors or an image or database that cannot be read.`,
		Example: `  rampart image scan --db osv/ nginx:1.27
  rampart image scan --docker-archive app.tar --db osv/ -o json
  rampart image scan --oci-layout ./layout --packages`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError("one image at a time")
			}
			if len(args) == 1 {
				o.src.Ref = args[0]
			}
			return runImageScan(s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.src.OCILayout, "oci-layout", "", "read the image from an OCI layout folder")
	f.StringVar(&o.src.DockerArchive, "docker-archive", "", "read the image from a docker save tarball")
	f.StringVar(&o.src.Platform, "platform", "", "os/arch[/variant] of a multi-platform image (default linux/amd64)")
	f.BoolVar(&o.src.Insecure, "insecure-registry", false, "allow a plain-HTTP registry")
	f.StringVar(&o.db, "db", "", "folder of OSV advisories (JSON files or OSV's zip exports)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json, sarif, junit, compact")
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	f.StringVar(&o.failOn, "fail-on", "high", "lowest severity of a vulnerability that makes the exit code 1, or none")
	f.BoolVar(&o.ignoreUnfixed, "ignore-unfixed", false, "leave out advisories with no fixed version")
	f.BoolVar(&o.packages, "packages", false, "text: list every package, not only the vulnerable ones")
	f.StringVar(&o.sbom, "sbom", "", "read the packages from a CycloneDX or SPDX JSON SBOM instead of an image")
	f.StringSliceVar(&o.vex, "vex", nil, "OpenVEX documents: advisories they say do not affect a package (not_affected, fixed) are suppressed with their justification")
	return cmd
}

func runImageScan(s *streams, o *imageOptions) error {
	n := 0
	for _, set := range []bool{o.src.Ref != "", o.src.OCILayout != "", o.src.DockerArchive != "", o.sbom != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError("give one image: REF, --oci-layout DIR, --docker-archive FILE or --sbom FILE")
	}
	switch o.output {
	case "text", "json", "sarif", "junit", "compact":
	default:
		return usageError("--output: want text, json, sarif, junit or compact")
	}
	failOn, err := failOnSeverity(o.failOn)
	if err != nil {
		return err
	}
	opts := image.ScanOptions{IgnoreUnfixed: o.ignoreUnfixed}
	if len(o.vex) > 0 {
		v, err := vuln.LoadVEX(o.vex...)
		if err != nil {
			return usageError("%v", err)
		}
		opts.VEX = v
	}
	if o.db != "" {
		db, err := vuln.Load(o.db)
		if err != nil {
			return usageError("%v", err)
		}
		for _, e := range db.Errors {
			fmt.Fprintln(s.err, "warning: --db:", report.Clean(e.Error()))
		}
		opts.DB = db
	}
	var rep *image.Report
	if o.sbom != "" {
		if rep, err = image.ReadSBOM(o.sbom); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		rep.Match(opts)
	} else if rep, err = image.Scan(s.context(), o.src, opts); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("%s", report.Clean(err.Error()))}
	}
	var w io.Writer = s.out
	var buf bytes.Buffer
	if o.outputFile != "" {
		w = &buf
	}
	res := imageResult(rep, failOn)
	switch o.output {
	case "text":
		err = writeImageText(w, rep, o)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	default:
		rp, _ := report.For(o.output)
		root, _ := os.Getwd()
		err = rp.Write(w, res, report.Options{Root: root, Version: toolVersion()})
	}
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if o.outputFile != "" {
		if err := file.WriteAtomic(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usageError("--output-file: %v", err)
		}
	}
	if res.Summary.Failed {
		return &exitError{code: ExitFindings}
	}
	return nil
}

// imageResult is the report as the scan's reporters take it.
func imageResult(rep *image.Report, failOn *check.Severity) *engine.Result {
	var checks []check.Check
	var ids []string
	for _, c := range []struct {
		id, title string
		sev       finding.Severity
	}{
		{image.CheckEndOfLife, "Image on an end-of-life distribution", finding.High},
		{image.CheckNotMinimal, "Image is not minimal", finding.Info},
		{image.CheckPackageManager, "Image has a package manager", finding.Low},
		{image.CheckRunsAsRoot, "Image runs as root", finding.Medium},
		{image.CheckSecret, "Credential in the image", finding.High},
		{image.CheckShell, "Image has a shell", finding.Low},
		{image.CheckVulnerability, "Image package with a known vulnerability", finding.High},
	} {
		checks = append(checks, check.Check{ID: c.id, Title: c.title, Severity: c.sev, Category: finding.CategoryImages, Description: c.title + ".", Remediation: "See the finding's remediation."})
		ids = append(ids, c.id)
	}
	fs := append([]finding.Finding(nil), rep.Findings...)
	engine.SortFindings(fs)
	res := &engine.Result{Findings: fs, Checks: checks,
		Objects: []engine.Evaluated{{Object: finding.ObjectRef{Kind: "Image", Name: rep.Image}, Checks: ids}}}
	res.Summarize(failOn)
	return res
}

func writeImageText(w io.Writer, rep *image.Report, o *imageOptions) error {
	fmt.Fprintf(w, "%s (%s)\n", rep.Image, rep.Digest)
	osName := rep.OS.Name
	if osName == "" {
		osName = "unknown distribution"
	}
	fmt.Fprintf(w, "%s, %d layers, %d MB, %d packages\n", osName, len(rep.Layers), rep.Size>>20, len(rep.Packages))
	if o.packages {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nTYPE\tNAME\tVERSION\tLAYER\tPATH")
		for _, p := range rep.Packages {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Type, p.Name, p.Version, p.Layer, p.Path)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var hygiene []string
	for _, f := range rep.Findings {
		if f.CheckID != image.CheckVulnerability {
			hygiene = append(hygiene, fmt.Sprintf("%-8s %s: %s", f.Severity, f.CheckID, f.Message))
		}
	}
	if len(hygiene) > 0 {
		fmt.Fprintln(w)
		for _, h := range hygiene {
			fmt.Fprintln(w, h)
		}
	}
	if o.db == "" {
		fmt.Fprintln(w, "\nno advisory database given (--db): packages only")
		return nil
	}
	if len(rep.Vulnerabilities) == 0 {
		_, err := fmt.Fprintln(w, "\nno known vulnerability")
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tADVISORY\tPACKAGE\tINSTALLED\tFIXED\tLAYER")
	for _, v := range rep.Vulnerabilities {
		sev := v.Match.Severity
		if sev == "" {
			sev = "unknown"
		}
		fixed := v.Match.Fixed
		if fixed == "" {
			fixed = "-"
		}
		id := v.Match.ID
		for _, a := range v.Match.Aliases {
			if strings.HasPrefix(a, "CVE-") {
				id += " " + a
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", sev, id, v.Package.Name, v.Package.Version, fixed, v.Package.Layer)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d vulnerabilities in %d packages\n", len(rep.Vulnerabilities), countPackages(rep.Vulnerabilities))
	return err
}

func countPackages(vs []image.Vulnerability) int {
	seen := map[string]bool{}
	for _, v := range vs {
		seen[v.Package.PURL+v.Package.Path] = true
	}
	return len(seen)
}
