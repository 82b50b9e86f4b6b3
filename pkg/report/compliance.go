package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/compliance"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

// The compliance command's outputs: text, json, markdown and html.

var complianceOrder = []compliance.Status{compliance.Fail, compliance.NotEvaluated, compliance.Manual, compliance.Pass, compliance.NotApplicable}

func complianceSummary(r *compliance.Report) string {
	parts := make([]string, 0, len(complianceOrder))
	for _, s := range complianceOrder {
		parts = append(parts, fmt.Sprintf("%d %s", r.Summary[s], s))
	}
	return fmt.Sprintf("%d controls: %s", len(r.Controls), strings.Join(parts, ", "))
}

// Compliance writes a framework report as text, json, markdown or html
// (res, the scan behind it, gives the html page its findings).
func Compliance(w io.Writer, format string, r *compliance.Report, res *engine.Result, opts Options) error {
	switch format {
	case "json":
		return writeIndentedJSON(w, r)
	case "html":
		page := opts.Page
		if page == nil {
			page = &Page{}
		}
		page.Title = r.Framework.Name + " " + r.Framework.Version + ": Rampart compliance report"
		page.Compliance = append(page.Compliance, r)
		if res == nil {
			res = &engine.Result{}
		}
		return WriteHTML(w, res, page, opts)
	case "markdown":
		return complianceMarkdown(w, r)
	case "text":
	default:
		return formatError("unknown output %q for compliance: text, json, markdown or html", format)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n%s\n\n", r.Framework.Name, r.Framework.Version, complianceSummary(r))
	for _, c := range r.Controls {
		fmt.Fprintf(&b, "%-15s %-30s %s%s\n", strings.ToUpper(string(c.Status)), c.ID, c.Title, partial(c))
		for _, k := range c.Checks {
			fmt.Fprintf(&b, "    %s: %s (%d evaluated, %d failed", k.ID, k.Status, k.Evaluated, k.Failed)
			if k.Suppressed > 0 {
				fmt.Fprintf(&b, ", %d suppressed", k.Suppressed)
			}
			b.WriteString(")")
			if k.Reason != "" && k.Status != compliance.Pass {
				b.WriteString(": " + Clean(k.Reason))
			}
			b.WriteString("\n")
			if k.Status == compliance.Fail {
				for i, e := range k.Evidence {
					if i == 5 {
						fmt.Fprintf(&b, "      ... %d more (-o json lists them)\n", len(k.Evidence)-5)
						break
					}
					fmt.Fprintf(&b, "      %s\n", Clean(e))
				}
			}
		}
		if c.Guidance != "" {
			fmt.Fprintf(&b, "    guidance: %s\n", c.Guidance)
		}
		if c.Reason != "" {
			fmt.Fprintf(&b, "    reason: %s\n", Clean(c.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func complianceMarkdown(w io.Writer, r *compliance.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s %s\n\n%s\n\n", mdEscape(r.Framework.Name), mdEscape(r.Framework.Version), complianceSummary(r))
	b.WriteString("| Control | Status | Title | Checks |\n|---|---|---|---|\n")
	for _, c := range r.Controls {
		var checks []string
		for _, k := range c.Checks {
			checks = append(checks, fmt.Sprintf("`%s` %s (%d/%d failed)", mdCode(k.ID), k.Status, k.Failed, k.Evaluated))
		}
		note := strings.Join(checks, "<br>")
		if note == "" {
			note = mdEscape(c.Guidance + c.Reason)
		}
		fmt.Fprintf(&b, "| `%s` | %s%s | %s | %s |\n", mdCode(c.ID), c.Status, partial(c), mdEscape(c.Title), note)
	}
	var failed []compliance.ControlResult
	for _, c := range r.Controls {
		if c.Status == compliance.Fail {
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n<details><summary>Evidence of the failed controls</summary>\n\n")
		for _, c := range failed {
			fmt.Fprintf(&b, "**%s** %s\n\n", mdEscape(c.ID), mdEscape(c.Title))
			for _, k := range c.Checks {
				for i, e := range k.Evidence {
					if i == 10 {
						fmt.Fprintf(&b, "- … %d more\n", len(k.Evidence)-10)
						break
					}
					fmt.Fprintf(&b, "- `%s`: %s\n", mdCode(k.ID), mdEscape(Clean(e)))
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// partial says when a passing control had checks that were not evaluated
// (it passed on what was).
func partial(c compliance.ControlResult) string {
	if c.Status != compliance.Pass {
		return ""
	}
	evaluated := 0
	for _, k := range c.Checks {
		if k.Status != compliance.NotEvaluated {
			evaluated++
		}
	}
	if evaluated == len(c.Checks) {
		return ""
	}
	return fmt.Sprintf(" (%d of %d checks evaluated)", evaluated, len(c.Checks))
}
