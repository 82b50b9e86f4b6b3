package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/netpol"
)

type matrixClass struct {
	ID        int      `json:"id"`
	Workloads []string `json:"workloads"`
}

type matrixEdge struct {
	From  int                `json:"from"`
	To    int                `json:"to"`
	Ports []netpol.PortRange `json:"ports"`
}

// The netpol command's outputs: text, JSON (docs/output-json.md), CSV and
// Graphviz dot.

// NetpolExplain writes whether src may reach dst on port, and the policy and rule that decide on each side.
func NetpolExplain(w io.Writer, src, dst string, port netpol.Port, v netpol.Verdict) error {
	verdict := "DENIED"
	if v.Allowed {
		verdict = "ALLOWED"
	}
	side := func(name, dir string, s netpol.Side) string {
		switch {
		case !s.Isolated:
			return fmt.Sprintf("  %s: %s is not isolated for %s: allowed", dir, name, strings.ToLower(dir))
		case s.Allowed:
			field := "ingress"
			if dir == "Egress" {
				field = "egress"
			}
			return fmt.Sprintf("  %s: allowed by NetworkPolicy %s, spec.%s[%d]", dir, s.Policy, field, s.Rule)
		default:
			return fmt.Sprintf("  %s: denied: %s is isolated by %s and no rule allows this connection", dir, name, strings.Join(s.Policies, ", "))
		}
	}
	_, err := fmt.Fprintf(w, "%s -> %s on %d/%s: %s\n%s\n%s\n", src, dst, port.Number, port.Protocol, verdict,
		side(src, "Egress", v.Egress), side(dst, "Ingress", v.Ingress))
	return err
}

// portText merges adjacent ranges of one protocol into "TCP 80, 443, 8000-8080".
func portText(rs []netpol.PortRange) string {
	var parts []string
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1].Protocol == rs[i].Protocol && rs[j+1].From == rs[j].To+1 {
			j++
		}
		parts = append(parts, netpol.PortRange{Protocol: rs[i].Protocol, From: rs[i].From, To: rs[j].To}.String())
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// NetpolMatrix writes which classes of workloads reach which, per port: text, json, csv or dot.
func NetpolMatrix(w io.Writer, format string, ws []netpol.Workload, groups [][]int, exts []netpol.External, cells []netpol.Cell) error {
	classes := make([]matrixClass, len(groups)+len(exts))
	for i, g := range groups {
		classes[i].ID = i + 1
		for _, k := range g {
			classes[i].Workloads = append(classes[i].Workloads, ws[k].Name)
		}
		sort.Strings(classes[i].Workloads)
	}
	for j, x := range exts {
		classes[len(groups)+j] = matrixClass{ID: len(groups) + j + 1, Workloads: []string{"external " + x.Name}}
	}
	var edges []matrixEdge
	for _, c := range cells {
		if !c.Allowed {
			continue
		}
		if n := len(edges); n > 0 && edges[n-1].From == c.From+1 && edges[n-1].To == c.To+1 {
			edges[n-1].Ports = append(edges[n-1].Ports, c.Port)
			continue
		}
		edges = append(edges, matrixEdge{From: c.From + 1, To: c.To + 1, Ports: []netpol.PortRange{c.Port}})
	}
	switch format {
	case "json":
		if edges == nil {
			edges = []matrixEdge{}
		}
		return writeIndentedJSON(w, map[string]any{"classes": classes, "allowed": edges})
	case "csv":
		// One row per pair of workloads with an allowed connection: the
		// flat form spreadsheets and scripts want.
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"source", "destination", "ports"}); err != nil {
			return err
		}
		for _, e := range edges {
			for _, f := range classes[e.From-1].Workloads {
				for _, t := range classes[e.To-1].Workloads {
					if err := cw.Write([]string{f, t, portText(e.Ports)}); err != nil {
						return err
					}
				}
			}
		}
		cw.Flush()
		return cw.Error()
	case "dot":
		var b strings.Builder
		b.WriteString("digraph netpol {\n  rankdir=LR;\n  node [shape=box];\n")
		for _, c := range classes {
			fmt.Fprintf(&b, "  c%d [label=%s];\n", c.ID, strconv.Quote(strings.Join(c.Workloads, "\n")))
		}
		for _, e := range edges {
			fmt.Fprintf(&b, "  c%d -> c%d [label=%s];\n", e.From, e.To, strconv.Quote(portText(e.Ports)))
		}
		b.WriteString("}\n")
		_, err := io.WriteString(w, b.String())
		return err
	case "text":
	default:
		return formatError("unknown output %q for matrix: text, json, csv or dot", format)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d workloads in %d classes (workloads no policy tells apart), %d address regions outside the cluster\n", len(ws), len(groups), len(exts))
	for _, c := range classes {
		fmt.Fprintf(&b, "  class %d: %s\n", c.ID, strings.Join(c.Workloads, ", "))
	}
	b.WriteString("allowed connections:\n")
	if len(edges) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  class %d -> class %d: %s\n", e.From, e.To, portText(e.Ports))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NetpolDiff writes the connections a change adds (+) and removes (-).
func NetpolDiff(w io.Writer, changes []netpol.Change) error {
	var b strings.Builder
	if len(changes) == 0 {
		b.WriteString("no connection added or removed\n")
	}
	for _, c := range changes {
		sign := "-"
		if c.Added {
			sign = "+"
		}
		fmt.Fprintf(&b, "%s %s -> %s: %s\n", sign, strings.Join(c.From, ", "), strings.Join(c.To, ", "), portText(c.Ports))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeIndentedJSON writes v as indented JSON.
func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// FormatError is an output format a command does not have.
type FormatError struct{ msg string }

func (e *FormatError) Error() string { return e.msg }

func formatError(format string, args ...any) error {
	return &FormatError{msg: fmt.Sprintf(format, args...)}
}
