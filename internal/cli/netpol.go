package cli

import (
	"context"
	"time"

	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/exposure"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/netpol"
	"github.com/rampart-k8s/rampart/pkg/report"
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
	pf.StringVarP(&o.output, "output", "o", "text", "output format: text or json (matrix also csv, dot and html)")
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
			ws, e, l7, err := loadNetpol(s, o, args[2:])
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
			var applied []netpol.L7Rule
			if v.Allowed {
				for _, r := range l7 {
					// An ingress rule limits what the destination serves,
					// an egress rule what the source sends.
					pod := dst.Pod
					if r.Egress {
						pod = src.Pod
					}
					if pod != nil && r.Applies(pod, port.Number) {
						applied = append(applied, r)
					}
				}
			}
			if o.output == "json" {
				if applied == nil {
					applied = []netpol.L7Rule{}
				}
				err = writeJSON(s.out, map[string]any{"source": args[0], "destination": args[1], "port": port.Number, "protocol": port.Protocol, "verdict": v, "l7": applied})
			} else {
				err = reportErr(report.NetpolExplain(s.out, args[0], args[1], port, v))
				if err == nil && len(applied) > 0 {
					fmt.Fprintln(s.out, "  L7 (requests on this connection):")
					for _, r := range applied {
						fmt.Fprintln(s.out, "    "+r.Describe())
					}
				}
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
			ws, e, _, err := loadNetpol(s, o, args)
			if err != nil {
				return err
			}
			groups, exts, cells := e.Matrix(netpol.Pods(ws))
			if o.output == "html" {
				return reportErr(report.WriteGraphs(s.out, "NetworkPolicy connectivity", toolVersion(), report.NetpolGraph(e, ws, groups, exts, cells)))
			}
			return reportErr(report.NetpolMatrix(s.out, o.output, ws, groups, exts, cells))
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
			oldW, oldE, _, err := loadNetpol(s, o, args[:1])
			if err != nil {
				return err
			}
			newW, newE, _, err := loadNetpol(s, o, args[1:])
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
				err = reportErr(report.NetpolDiff(s.out, changes))
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

// loadNetpol reads workloads and policies (CiliumNetworkPolicies' L3/L4
// rules included, as far as they map) and the L7 rules of Istio and Cilium.
func loadNetpol(s *streams, o *netpolOptions, paths []string) ([]netpol.Workload, *netpol.Engine, []netpol.L7Rule, error) {
	var objs []*manifest.Object
	if o.cluster {
		if len(paths) > 0 {
			return nil, nil, nil, usageError("--cluster reads the cluster; do not give paths too")
		}
		cl := o.cl
		cl.KeepOwned = true // every running pod, with its address
		read, err := readWholeCluster(cl, "networkpolicies", "namespaces", "pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers")
		if err != nil {
			return nil, nil, nil, err
		}
		// CiliumNetworkPolicies and Istio AuthorizationPolicies, when the
		// cluster serves them.
		cfg, _, err := source.Config(cl)
		if err != nil {
			return nil, nil, nil, usageError("%v", err)
		}
		ctx, cancel := context.WithTimeout(s.context(), 2*time.Minute)
		defer cancel()
		extra, err := readCustomResources(ctx, cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		objs = append(read, extra...)
	} else {
		loaded := loadInput(s, paths, o.namespace, o.helm)
		if err := reportInputProblems(s.err, loaded); err != nil {
			o.pending = err
		}
		objs = loaded.Objects
	}
	inv := inventory.New(objs)
	ws, pols, notices := netpol.Policies(inv)
	for _, n := range notices {
		fmt.Fprintln(s.err, "notice:", n)
	}
	e, err := netpol.New(pols)
	if err != nil {
		return nil, nil, nil, &exitError{code: ExitError, err: err}
	}
	return ws, e, netpol.L7Rules(inv, exposure.IstioRootNamespace), nil
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
