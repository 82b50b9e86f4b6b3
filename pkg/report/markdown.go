package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

// MarkdownLimit is the most a GitHub comment may hold (characters).
const MarkdownLimit = 65536

// markdownTop is how many findings the top table shows.
const markdownTop = 25

// Markdown writes a pull-request comment: a summary table by severity and by
// check, the top findings with links to their lines, every finding in a
// collapsed section, and the input errors; cut, with a note, to fit in
// GitHub's comment limit.
type Markdown struct{}

// Write implements Reporter.
func (Markdown) Write(w io.Writer, res *engine.Result, opts Options) error {
	var b strings.Builder
	s := res.Summary
	status := "passed"
	if s.Failed {
		status = "failed (findings at or above " + s.FailOn + ")"
	}
	fmt.Fprintf(&b, "### Rampart: %d findings, %s\n\n", len(res.Findings), status)
	b.WriteString("| critical | high | medium | low | info | suppressed | input errors |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	counts := map[check.Severity]int{}
	for _, f := range res.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d |\n\n", counts[check.Critical], counts[check.High], counts[check.Medium], counts[check.Low], counts[check.Info], len(res.Suppressed), len(res.Errors))
	if len(res.Findings) > 0 {
		type row struct {
			id, title string
			n         int
			worst     check.Severity
		}
		byCheck := map[string]*row{}
		for _, f := range res.Findings {
			r := byCheck[f.CheckID]
			if r == nil {
				r = &row{id: f.CheckID, title: f.Title}
				byCheck[f.CheckID] = r
			}
			r.n++
			if f.Severity > r.worst {
				r.worst = f.Severity
			}
		}
		rows := make([]*row, 0, len(byCheck))
		for _, r := range byCheck {
			rows = append(rows, r)
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].worst != rows[j].worst {
				return rows[i].worst > rows[j].worst
			}
			if rows[i].n != rows[j].n {
				return rows[i].n > rows[j].n
			}
			return rows[i].id < rows[j].id
		})
		b.WriteString("| check | severity | findings |\n|---|---|---:|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| `%s` %s | %s | %d |\n", r.id, mdEscape(r.title), r.worst, r.n)
		}
		b.WriteString("\n")
		top := append([]check.Finding(nil), res.Findings...)
		sort.SliceStable(top, func(i, j int) bool { return top[i].Severity > top[j].Severity })
		if len(top) > markdownTop {
			top = top[:markdownTop]
		}
		fmt.Fprintf(&b, "#### Top findings\n\n| severity | check | where | finding |\n|---|---|---|---|\n")
		for _, f := range top {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", f.Severity, f.CheckID, mdWhere(f, opts), mdEscape(Clean(f.Message)))
		}
		b.WriteString("\n")
	}
	head := b.String()
	var tail strings.Builder
	if len(res.Errors) > 0 {
		tail.WriteString("#### Input errors\n\n")
		for _, e := range res.Errors {
			fmt.Fprintf(&tail, "- %s\n", mdEscape(Clean(e.Error())))
		}
		tail.WriteString("\n")
	}
	const cut = "\n_Cut to fit GitHub's 65,536-character comment limit: %d more findings are in the SARIF or JSON report (`rampart scan -o sarif`)._\n"
	budget := MarkdownLimit - len(head) - tail.Len() - len(cut) - 64
	var details strings.Builder
	if len(res.Findings) > 0 {
		fmt.Fprintf(&details, "<details><summary>All %d findings</summary>\n\n", len(res.Findings))
		shown := 0
		for _, f := range res.Findings {
			line := fmt.Sprintf("- **%s** `%s` %s: %s<br>fix: %s\n", f.Severity, f.CheckID, mdWhere(f, opts), mdEscape(Clean(f.Message)), mdEscape(f.Remediation))
			if details.Len()+len(line)+len("\n</details>\n") > budget {
				break
			}
			details.WriteString(line)
			shown++
		}
		details.WriteString("\n</details>\n")
		if shown < len(res.Findings) {
			fmt.Fprintf(&details, cut, len(res.Findings)-shown)
		}
	}
	out := head + details.String() + tail.String()
	if len(out) > MarkdownLimit {
		// The head alone is bounded (25 rows and one per check), but a
		// pathological check count could still exceed: cut hard.
		out = out[:MarkdownLimit-len("\n_cut_\n")] + "\n_cut_\n"
	}
	_, err := io.WriteString(w, out)
	return err
}

// mdWhere is the finding's place: a link to the line when a link base is
// given, else the file and line as code.
func mdWhere(f check.Finding, opts Options) string {
	if f.Location == nil || f.Location.File == "" {
		return "`" + mdCode(f.Object.String()) + "`"
	}
	file := relPath(opts.Root, f.Location.File)
	text := file
	if f.Location.Line > 0 {
		text += ":" + strconv.Itoa(f.Location.Line)
	}
	if opts.LinkBase == "" || strings.HasPrefix(file, "/") || strings.HasPrefix(file, "..") {
		return "`" + mdCode(text) + "`"
	}
	url := strings.TrimSuffix(opts.LinkBase, "/") + "/" + file
	if f.Location.Line > 0 {
		url += "#L" + strconv.Itoa(f.Location.Line)
	}
	return "[`" + mdCode(text) + "`](" + strings.ReplaceAll(url, " ", "%20") + ")"
}

// mdEscape makes text safe inside a Markdown table cell: no pipes, no
// HTML, no emphasis or links.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[", "]", "\\]", "\n", " ", "\r", " ")
	return r.Replace(s)
}

func mdCode(s string) string { return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s) }
