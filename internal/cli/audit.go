package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/audit"
	"github.com/rampart-k8s/rampart/pkg/check"
)

func newAuditCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Detect threats in API-server audit logs",
	}
	cmd.AddCommand(newAuditDetectCmd(s), newAuditRulesCmd(s))
	return cmd
}

// loadAuditRules is the built-in rules with the files given applied in
// order (lists appended, macros and rules redefined or switched off).
func loadAuditRules(files []string) ([]*audit.Rule, error) {
	rs := audit.Builtin()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("--rules: %v", err)
		}
		if err := rs.Add(f, data); err != nil {
			return nil, usageError("--rules: %v", err)
		}
	}
	rules, err := rs.Compile()
	if err != nil {
		return nil, usageError("%v", err)
	}
	return rules, nil
}

func newAuditDetectCmd(s *streams) *cobra.Command {
	var (
		rules  []string
		output string
		failOn string
	)
	cmd := &cobra.Command{
		Use:   "detect [FILE ...|-]",
		Short: "Read audit events (JSON lines or EventLists, plain or gzip) and print the alerts of the rules",
		Long: `Read audit.k8s.io/v1 events as the API server's log backend writes them
(one JSON Event per line), or Events and EventLists, plain or gzip, from the
files given or standard input, and print an alert for each rule an event
matches: Falco's k8s_audit detections as built-in rules (rampart audit rules
lists them), changed or extended with --rules files (docs/audit.md).

An event that cannot be read is reported with its file and line and costs
only itself. Exit code 1 when an alert reaches --fail-on, 2 when an event
could not be read.`,
		Example: `  rampart audit detect /var/log/kubernetes/audit.log
  zcat audit.log.1.gz | rampart audit detect - -o json --rules my-rules.yaml`,
		RunE: func(_ *cobra.Command, args []string) error {
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			threshold, err := failOnSeverity(failOn)
			if err != nil {
				return err
			}
			if output != "text" && output != "json" {
				return usageError("-o: want text or json, got %q", output)
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			d := audit.NewDetector(compiled)
			w := bufio.NewWriter(s.out)
			defer w.Flush()
			enc := json.NewEncoder(w)
			var events, alerts, inputErrors int
			failed := false
			var buf []audit.Alert
			var r audit.Reader
			for _, name := range args {
				var in io.Reader
				display := name
				if name == "-" {
					in, display = s.in, "<stdin>"
				} else {
					f, err := os.Open(name)
					if err != nil {
						fmt.Fprintf(s.err, "rampart: %v\n", err)
						inputErrors++
						continue
					}
					defer f.Close()
					in = f
				}
				err := r.Read(display, in, func(e audit.Event) error {
					events++
					buf = d.Detect(e, buf[:0])
					for _, a := range buf {
						alerts++
						if threshold != nil && a.Severity >= *threshold {
							failed = true
						}
						if output == "json" {
							if err := enc.Encode(a); err != nil {
								return err
							}
							continue
						}
						fmt.Fprintf(w, "%s %-8s %s: %s\n", a.Time.UTC().Format("2006-01-02T15:04:05Z"), a.Severity, a.Rule, a.Message)
					}
					return nil
				}, func(e audit.InputError) {
					inputErrors++
					fmt.Fprintf(s.err, "rampart: %v\n", e)
				})
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(s.err, "%d events, %d alerts, %d input errors\n", events, alerts, inputErrors)
			switch {
			case inputErrors > 0:
				return &exitError{code: ExitError}
			case failed:
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable; later files win)")
	f.StringVarP(&output, "output", "o", "text", "text, or json (one alert per line)")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when an alert is at or above this severity: critical, high, medium, low, info, or none")
	return cmd
}

func failOnSeverity(v string) (*check.Severity, error) {
	if v == "none" {
		return nil, nil
	}
	sev, err := check.ParseSeverity(v)
	if err != nil {
		return nil, usageError("--fail-on: %v", err)
	}
	return &sev, nil
}

func newAuditRulesCmd(s *streams) *cobra.Command {
	var (
		rules  []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the audit rules: the built-in ones with --rules files applied",
		RunE: func(_ *cobra.Command, _ []string) error {
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				return writeJSON(s.out, compiled)
			case "text":
				tw := tabwriter.NewWriter(s.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RULE\tSEVERITY\tMITRE\tSOURCE")
				for _, r := range compiled {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Severity, strings.Join(r.MITRE, ","), r.Source)
				}
				return tw.Flush()
			}
			return usageError("-o: want text or json, got %q", output)
		},
	}
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
