package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/compliance"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/report"
)

type reportOptions struct {
	output     string
	baseline   string
	frameworks []string
	postureInput
}

// newReportCmd combines what the analyzers know into one HTML page: the
// scan's findings and posture, the RBAC and connectivity graphs, images
// with --images, and compliance frameworks (CIS included) with evidence.
func newReportCmd(s *streams) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report -o FILE.html [PATH ...]",
		Short: "Write one self-contained HTML report: posture, findings, RBAC and connectivity graphs, compliance",
		Long: "Scans the manifests (or the cluster with --cluster) and writes one HTML file that opens offline:\n" +
			"a posture overview (score per namespace and category, trend against --baseline), the findings with\n" +
			"search and filters, the RBAC graph with its escalation chains, the NetworkPolicy connectivity graph\n" +
			"with its isolation gaps, and the compliance frameworks given with --framework.",
		Example: `  rampart report -o report.html deploy/
  rampart report -o report.html --framework nsa-cisa-1.2 --framework cis-1.12 --baseline .rampart-baseline.json .`,
		RunE: func(_ *cobra.Command, args []string) error { return runReport(s, o, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output-file", "o", "", "the HTML file to write (required)")
	f.StringVar(&o.baseline, "baseline", "", "a baseline file (scan --write-baseline) to show the trend against; its findings stay listed")
	f.StringSliceVar(&o.frameworks, "framework", nil, "compliance frameworks to add (repeatable): "+fmt.Sprint(compliance.Names()))
	o.addFlags(f)
	return cmd
}

func runReport(s *streams, o *reportOptions, paths []string) error {
	if o.output == "" {
		return usageError("-o FILE.html is required")
	}
	var fws []*compliance.Framework
	for _, n := range o.frameworks {
		fw, err := compliance.Load(n)
		if err != nil {
			return usageError("%v", err)
		}
		fws = append(fws, fw)
	}
	ctx, cancel := context.WithTimeout(s.context(), 5*time.Minute)
	defer cancel()
	plan, err := o.plan(s, paths, true)
	if err != nil {
		return err
	}
	res, err := plan.Run(ctx)
	if err != nil {
		return usageError("%v", err)
	}
	page, err := htmlPage(plan.Objects, res, o.baseline)
	if err != nil {
		return usageError("%v", err)
	}
	var cisResults []cis.Result
	var cisWhy string
	cisRead := false
	for _, fw := range fws {
		in := compliance.Input{Result: res, Rel: relTo()}
		if usesCIS(fw) {
			if !cisRead {
				if cisResults, cisWhy, err = complianceCIS(ctx, s, o.root, o.cluster, o.cl, paths); err != nil {
					return err
				}
				cisRead = true
			}
			in.CIS, in.CISWhy = cisResults, cisWhy
		}
		page.Compliance = append(page.Compliance, compliance.Evaluate(fw, in))
	}
	for _, e := range res.Errors {
		fmt.Fprintln(s.err, "error:", report.Clean(e.Error()))
	}
	root, _ := os.Getwd()
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, res, page, report.Options{Root: root, Version: toolVersion()}); err != nil {
		return err
	}
	if err := file.WriteAtomic(o.output, buf.Bytes(), 0o644); err != nil {
		return usageError("-o: %v", err)
	}
	if len(res.Errors) > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}
