package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/netpol"
	"github.com/rampart-k8s/rampart/pkg/source"
)

type netpolOptions struct {
	helm      source.HelmOptions
	namespace string
	pending   error // input errors, given as the exit once the answer is out
	exitCode  bool
	output    string
	port      string
	cluster   bool
	cl        source.ClusterOptions
}

func newNetpolCmd(s *streams) *cobra.Command {
	o := &netpolOptions{}
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Analyse NetworkPolicy connectivity: who reaches whom, and why",
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&o.output, "output", "o", "text", "output format: text or json (matrix also csv and dot)")
	pf.BoolVar(&o.cluster, "cluster", false, "read workloads, namespaces and NetworkPolicies from the live cluster")
	pf.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file")
	pf.StringVar(&o.cl.Context, "context", "", "kubeconfig context")
	pf.StringVarP(&o.namespace, "namespace", "n", "", "in manifests, where objects that name no namespace land (default: default)")
	addHelmFlags(pf, &o.helm)
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error { return o.pending }
	explain := &cobra.Command{
		Use:   "explain SOURCE DESTINATION [PATH ...]",
		Short: "Say whether SOURCE may connect to DESTINATION, and which policy and rule decide on each side",
		Long: "SOURCE and DESTINATION are workloads, as NAMESPACE/NAME or NAMESPACE/KIND/NAME, or IP addresses\n" +
			"outside the cluster. --port is PORT/PROTOCOL (protocol TCP when omitted).",
		Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return usageError("unknown output %q for explain: text or json", o.output)
			}
			port, err := parsePort(o.port)
			if err != nil {
				return usageError("--port: %v", err)
			}
			ws, e, err := loadNetpol(s, o, args[2:])
			if err != nil {
				return err
			}
			src, err := endpointOf(args[0], ws)
			if err != nil {
				return usageError("source: %v", err)
			}
			dst, err := endpointOf(args[1], ws)
			if err != nil {
				return usageError("destination: %v", err)
			}
			v := e.Decide(src, dst, port)
			if o.output == "json" {
				err = writeJSON(s.out, map[string]any{"source": args[0], "destination": args[1], "port": port.Number, "protocol": port.Protocol, "verdict": v})
			} else {
				err = writeExplain(s.out, args[0], args[1], port, v)
			}
			if err == nil && o.pending == nil && o.exitCode && !v.Allowed {
				return &exitError{code: ExitFindings}
			}
			return err
		},
	}
	explain.Flags().StringVar(&o.port, "port", "80/TCP", "destination port and protocol")
	explain.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 1 when the connection is denied (0 when allowed)")
	matrix := &cobra.Command{
		Use:   "matrix [PATH ...]",
		Short: "Show which workloads reach which, per port, computed over classes of equivalent workloads",
		RunE: func(_ *cobra.Command, args []string) error {
			ws, e, err := loadNetpol(s, o, args)
			if err != nil {
				return err
			}
			groups, exts, cells := e.Matrix(netpol.Pods(ws))
			return writeMatrix(s.out, o.output, ws, groups, exts, cells)
		},
	}
	var exitCode bool
	diff := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the connections between workloads that NEW adds or removes compared with OLD (files or folders)",
		Long:  "For pull-request review: OLD and NEW are the manifests before and after. With --exit-code, exit 1 when a connection is added or removed.",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return usageError("unknown output %q for diff: text or json", o.output)
			}
			if o.cluster {
				return usageError("diff compares two sets of manifests; --cluster does not apply")
			}
			oldW, oldE, err := loadNetpol(s, o, args[:1])
			if err != nil {
				return err
			}
			newW, newE, err := loadNetpol(s, o, args[1:])
			if err != nil {
				return err
			}
			changes := netpol.Diff(oldE, oldW, newE, newW)
			if o.output == "json" {
				if changes == nil {
					changes = []netpol.Change{}
				}
				err = writeJSON(s.out, changes)
			} else {
				err = writeDiff(s.out, changes)
			}
			if err == nil && exitCode && len(changes) > 0 {
				return &exitError{code: ExitFindings}
			}
			return err
		},
	}
	diff.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when connections change")
	cmd.AddCommand(explain, matrix, diff)
	return cmd
}

func loadNetpol(s *streams, o *netpolOptions, paths []string) ([]netpol.Workload, *netpol.Engine, error) {
	var objs []*manifest.Object
	if o.cluster {
		if len(paths) > 0 {
			return nil, nil, usageError("--cluster reads the cluster; do not give paths too")
		}
		cl := o.cl
		cl.KeepOwned = true // every running pod, with its address
		read, err := readWholeCluster(cl, "networkpolicies", "namespaces", "pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers")
		if err != nil {
			return nil, nil, err
		}
		objs = read
	} else {
		loaded := loadInput(s, paths, o.namespace, o.helm)
		if err := reportInputProblems(s.err, loaded); err != nil {
			o.pending = err
		}
		objs = loaded.Objects
	}
	ws, pols := netpol.FromInventory(inventory.New(objs))
	e, err := netpol.New(pols)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	return ws, e, nil
}

func parsePort(s string) (netpol.Port, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "TCP"
	}
	proto = strings.ToUpper(proto)
	switch corev1.Protocol(proto) {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		return netpol.Port{}, fmt.Errorf("protocol %q is not TCP, UDP or SCTP", proto)
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return netpol.Port{}, fmt.Errorf("port %q is not a number from 1 to 65535", num)
	}
	return netpol.Port{Protocol: corev1.Protocol(proto), Number: int32(n)}, nil
}

// endpointOf finds a workload by NAMESPACE/NAME or NAMESPACE/KIND/NAME, or
// parses an IP address.
func endpointOf(arg string, ws []netpol.Workload) (netpol.Endpoint, error) {
	if ip, err := netip.ParseAddr(arg); err == nil {
		return netpol.Endpoint{IP: ip}, nil
	}
	var found []netpol.Workload
	for _, w := range ws {
		parts := strings.SplitN(w.Name, "/", 3)
		if w.Name == arg || parts[0]+"/"+parts[2] == arg {
			found = append(found, w)
		}
	}
	switch len(found) {
	case 1:
		return netpol.Endpoint{Pod: found[0].Pod}, nil
	case 0:
		return netpol.Endpoint{}, fmt.Errorf("no workload %q (NAMESPACE/NAME, NAMESPACE/KIND/NAME or an IP address)", arg)
	default:
		names := make([]string, len(found))
		for i, w := range found {
			names[i] = w.Name
		}
		return netpol.Endpoint{}, fmt.Errorf("%q names %d workloads: %s", arg, len(found), strings.Join(names, ", "))
	}
}

func writeExplain(w io.Writer, src, dst string, port netpol.Port, v netpol.Verdict) error {
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

type matrixClass struct {
	ID        int      `json:"id"`
	Workloads []string `json:"workloads"`
}

type matrixEdge struct {
	From  int                `json:"from"`
	To    int                `json:"to"`
	Ports []netpol.PortRange `json:"ports"`
}

func writeMatrix(w io.Writer, format string, ws []netpol.Workload, groups [][]int, exts []netpol.External, cells []netpol.Cell) error {
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
		return writeJSON(w, map[string]any{"classes": classes, "allowed": edges})
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
		return usageError("unknown output %q for matrix: text, json, csv or dot", format)
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

func writeDiff(w io.Writer, changes []netpol.Change) error {
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
