package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/rampart-k8s/rampart/pkg/rbac"
)

// The rbac command's outputs: text, JSON (docs/output-json.md), and the
// escalation chains as Graphviz dot or Mermaid.

// RBACRisks writes the subjects that reach cluster-admin power or Secrets, with their chains: text, json, dot or mermaid.
func RBACRisks(w io.Writer, format string, risks []rbac.Risk) error {
	switch format {
	case "json":
		if risks == nil {
			risks = []rbac.Risk{}
		}
		return writeIndentedJSON(w, risks)
	case "dot", "mermaid":
		return rbacRiskGraph(w, format, risks)
	case "text":
		none := true
		for _, r := range risks {
			for _, p := range r.Paths {
				none = false
				fmt.Fprintf(w, "%s reaches %s in %d step(s):\n", r.Subject, p.Goal, len(p.Steps))
				for _, st := range p.Steps {
					via := ""
					if st.Grant != nil {
						via = " (" + st.Grant.Binding.String() + " -> " + st.Grant.Role.String() + ")"
					}
					fmt.Fprintf(w, "  %s %s%s\n", st.From, st.Action, via)
				}
			}
		}
		if none {
			fmt.Fprintln(w, "no path to cluster-admin power or to Secrets")
		}
		return nil
	}
	return formatError("unknown output format %q (want text, json, dot or mermaid)", format)
}

// writeRiskGraph draws the chains: identities and goals as nodes, steps as
// edges labelled with the binding that allows them.
func rbacRiskGraph(w io.Writer, format string, risks []rbac.Risk) error {
	type edge struct{ from, to, label string }
	var edges []edge
	seen := map[edge]bool{}
	for _, r := range risks {
		for _, p := range r.Paths {
			for _, st := range p.Steps {
				label := st.Action
				if st.Grant != nil {
					label = st.Grant.Binding.String()
				}
				e := edge{st.From, st.To, label}
				if !seen[e] {
					seen[e] = true
					edges = append(edges, e)
				}
			}
		}
	}
	if format == "dot" {
		fmt.Fprintln(w, "digraph rbac {")
		fmt.Fprintln(w, "  rankdir=LR;")
		for _, e := range edges {
			fmt.Fprintf(w, "  %q -> %q [label=%q];\n", e.from, e.to, e.label)
		}
		fmt.Fprintln(w, "}")
		return nil
	}
	ids := map[string]string{}
	id := func(s string) string {
		if v, ok := ids[s]; ok {
			return v
		}
		ids[s] = fmt.Sprintf("n%d", len(ids))
		return ids[s]
	}
	fmt.Fprintln(w, "flowchart LR")
	for _, e := range edges {
		fmt.Fprintf(w, "  %s[%q] -->|%q| %s[%q]\n", id(e.from), e.from, e.label, id(e.to), e.to)
	}
	return nil
}

func ruleText(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return strings.Join(r.Verbs, ",") + " " + strings.Join(r.NonResourceURLs, ",")
	}
	groups := make([]string, len(r.APIGroups))
	for i, g := range r.APIGroups {
		if g == "" {
			g = "core"
		}
		groups[i] = g
	}
	s := strings.Join(r.Verbs, ",") + " " + strings.Join(r.Resources, ",") + " (" + strings.Join(groups, ",") + ")"
	if len(r.ResourceNames) > 0 {
		s += " names " + strings.Join(r.ResourceNames, ",")
	}
	return s
}

func subjectText(sub rbacv1.Subject) string {
	if sub.Kind == rbacv1.ServiceAccountKind {
		return "ServiceAccount " + sub.Namespace + "/" + sub.Name
	}
	return sub.Kind + " " + sub.Name
}

// RBACGrants writes grants, by subject (who-can) or by rule (can): text or json.
func RBACGrants(w io.Writer, format string, grants []rbac.Grant, bySubject bool) error {
	switch format {
	case "json":
		if grants == nil {
			grants = []rbac.Grant{}
		}
		return writeIndentedJSON(w, grants)
	case "text":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if bySubject {
			fmt.Fprintln(tw, "SUBJECT\tBINDING\tROLE")
			for _, g := range grants {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", subjectText(g.Subject), g.Binding, g.Role)
			}
		} else {
			fmt.Fprintln(tw, "RULE\tBINDING\tROLE")
			for _, g := range grants {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", ruleText(g.Rule), g.Binding, g.Role)
			}
		}
		if len(grants) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
		return tw.Flush()
	}
	return formatError("unknown output format %q (want text or json)", format)
}
