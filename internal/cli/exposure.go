package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/exposure"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/source"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

type exposureOptions struct {
	output, outputFile string
	cluster            bool
	cl                 source.ClusterOptions
	namespace          string
	helm               source.HelmOptions
	watch              bool
	failOn             string
	baseline           string
	writeBaseline      string
	exitCode           bool
	pending            error
}

var exposureFormats = []string{"text", "json", "csv", "sarif", "junit", "compact", "markdown"}

func newExposureCmd(s *streams) *cobra.Command {
	o := &exposureOptions{}
	cmd := &cobra.Command{
		Use:   "exposure [PATH ...]",
		Short: "List every way into the cluster, what it reaches and whether it is encrypted (text, JSON, CSV for firewalls)",
		Long: "Lists LoadBalancer and NodePort Services, externalIPs, hostPort and hostNetwork pods, Ingress rules and\n" +
			"Gateway API listeners with their routes: addresses, ports, allowed sources, TLS, the workloads reached and\n" +
			"whether their NetworkPolicies let outside traffic in. Reports mesh settings that leave traffic in plaintext\n" +
			"(Istio PeerAuthentication and DestinationRule, Linkerd, Cilium encryption); with no mesh in the input,\n" +
			"in-cluster traffic is 'encryption unknown'. Every entry is also an info finding (exposure-entry), so\n" +
			"--baseline shows only new ones. --watch (with --cluster) prints entries as they appear and disappear.",
		Example: `  rampart exposure deploy/
  rampart exposure --cluster -o csv > perimeter.csv
  rampart exposure --cluster --watch -o csv
  rampart exposure diff main/deploy/ pr/deploy/ --exit-code`,
		RunE: func(_ *cobra.Command, args []string) error { return runExposure(s, o, args) },
	}
	f := cmd.PersistentFlags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(exposureFormats, ", ")+" (diff: text or json)")
	f.BoolVar(&o.cluster, "cluster", false, "read the live cluster (with node and load balancer addresses)")
	f.StringVar(&o.cl.Context, "context", "", "kubeconfig context")
	f.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file")
	f.StringVarP(&o.namespace, "namespace", "n", "", "in manifests, where objects that name no namespace land (default: default)")
	addHelmFlags(f, &o.helm)
	cmd.Flags().StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	cmd.Flags().BoolVar(&o.watch, "watch", false, "with --cluster: keep watching and print each entry added (+) or removed (-)")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity (info, low, medium, high, critical, none)")
	cmd.Flags().StringVar(&o.baseline, "baseline", "", "a baseline file: its findings (known entries) are not reported")
	cmd.Flags().StringVar(&o.writeBaseline, "write-baseline", "", "write the findings to this baseline file")
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error { return o.pending }
	diff := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the entry points NEW adds, removes or changes compared with OLD (files or folders)",
		Long:  "For pull-request review: OLD and NEW are the manifests before and after. With --exit-code, exit 1 when anything changes.",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return usageError("unknown output %q for diff: text or json", o.output)
			}
			if o.cluster {
				return usageError("diff compares two sets of manifests; --cluster does not apply")
			}
			oldInv, err := exposureOf(s, o, args[:1])
			if err != nil {
				return err
			}
			newInv, err := exposureOf(s, o, args[1:])
			if err != nil {
				return err
			}
			changes := exposure.Diff(oldInv.Entries, newInv.Entries)
			if o.output == "json" {
				err = writeJSON(s.out, changes)
			} else {
				err = writeExposureChanges(s.out, changes, "text", time.Time{})
			}
			if err == nil && o.exitCode && len(changes) > 0 {
				return &exitError{code: ExitFindings}
			}
			return err
		},
	}
	diff.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 1 when an entry is added, removed or changed")
	cmd.AddCommand(diff)
	return cmd
}

// exposureOf reads manifests (or the cluster) and analyses them.
func exposureOf(s *streams, o *exposureOptions, paths []string) (*exposure.Inventory, error) {
	var objs []*manifest.Object
	var opts exposure.Options
	if o.cluster {
		if len(paths) > 0 {
			return nil, usageError("--cluster reads the cluster; do not give paths too")
		}
		var err error
		objs, opts, err = readExposureCluster(s.context(), o.cl)
		if err != nil {
			return nil, err
		}
	} else {
		loaded := loadInput(s, paths, o.namespace, o.helm)
		if err := reportInputProblems(s.err, loaded); err != nil {
			o.pending = err
		}
		objs = loaded.Objects
	}
	inv, err := exposure.Analyze(inventory.New(objs), opts)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	for _, n := range inv.Notices {
		fmt.Fprintln(s.err, "notice:", report.Clean(n))
	}
	for _, e := range inv.Errors {
		fmt.Fprintln(s.err, "error:", report.Clean(e))
	}
	if len(inv.Errors) > 0 && o.pending == nil {
		o.pending = &exitError{code: ExitError} // the rest is reported; the exit code says what was left out
	}
	return inv, nil
}

// exposureKinds are what the analysis reads from a cluster besides the
// built-in kinds: resources of the Gateway API, Istio and Cilium, listed
// when the cluster serves them.
var exposureKinds = []schema.GroupVersionResource{
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "tlsroutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1alpha3", Resource: "tlsroutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Resource: "tlsroutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "tcproutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Resource: "tcproutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "udproutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Resource: "udproutes"},
	{Group: "security.istio.io", Version: "v1beta1", Resource: "peerauthentications"},
	{Group: "security.istio.io", Version: "v1beta1", Resource: "authorizationpolicies"},
	{Group: "networking.istio.io", Version: "v1beta1", Resource: "destinationrules"},
	{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
	{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
	{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"},
}

func readExposureCluster(ctx context.Context, cl source.ClusterOptions) ([]*manifest.Object, exposure.Options, error) {
	cl.KeepOwned = true
	objs, err := readWholeCluster(cl, "services", "ingresses", "networkpolicies", "namespaces", "pods", "deployments", "daemonsets", "statefulsets")
	if err != nil {
		return nil, exposure.Options{}, err
	}
	cfg, _, err := source.Config(cl)
	if err != nil {
		return nil, exposure.Options{}, usageError("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var opts exposure.Options
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, opts, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, opts, &exitError{code: ExitError, err: fmt.Errorf("listing nodes for their addresses: %w", err)}
	}
	opts.NodeAddresses = []string{}
	for _, n := range nodes.Items {
		for _, ad := range n.Status.Addresses {
			if ad.Type == corev1.NodeExternalIP || ad.Type == corev1.NodeInternalIP {
				opts.NodeAddresses = append(opts.NodeAddresses, ad.Address)
			}
		}
	}
	sort.Strings(opts.NodeAddresses)
	extra, err := readCustomResources(ctx, cfg)
	if err != nil {
		return nil, opts, err
	}
	return append(objs, extra...), opts, nil
}

// readCustomResources lists the exposureKinds the cluster serves and reads
// each object as a manifest (through its JSON), so that the analysis reads
// live custom resources and files alike.
func readCustomResources(ctx context.Context, cfg *rest.Config) ([]*manifest.Object, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var out []*manifest.Object
	for _, gvr := range servedKinds(dc) {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("listing %s: %w", gvr.Resource, err)}
		}
		for _, item := range list.Items {
			item.SetManagedFields(nil)
			data, err := json.Marshal(item.Object)
			if err != nil {
				continue
			}
			objs, _ := manifest.Parse("", data)
			out = append(out, objs...)
		}
	}
	return out, nil
}

// servedKinds are the exposureKinds the cluster serves, each resource at
// the first version of the list the cluster serves (older releases of the
// Gateway API serve TCPRoute and TLSRoute as alpha only).
func servedKinds(dc discovery.DiscoveryInterface) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	have := map[schema.GroupResource]bool{}
	for _, gvr := range exposureKinds {
		if have[gvr.GroupResource()] {
			continue
		}
		rl, err := dc.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
		if err != nil {
			continue // not served: nothing of that kind
		}
		for _, r := range rl.APIResources {
			if r.Name == gvr.Resource {
				out = append(out, gvr)
				have[gvr.GroupResource()] = true
				break
			}
		}
	}
	return out
}

func runExposure(s *streams, o *exposureOptions, paths []string) error {
	if !slices.Contains(exposureFormats, o.output) {
		return usageError("unknown output %q (want one of %s)", o.output, strings.Join(exposureFormats, ", "))
	}
	failOn, err := failOnSeverity(o.failOn)
	if err != nil {
		return err
	}
	if o.watch {
		if !o.cluster {
			return usageError("--watch needs --cluster")
		}
		if o.outputFile != "" || o.baseline != "" || o.writeBaseline != "" {
			return usageError("--watch writes a stream to stdout: --output-file, --baseline and --write-baseline do not apply")
		}
		return watchExposure(s, o)
	}
	inv, err := exposureOf(s, o, paths)
	if err != nil {
		return err
	}
	res := exposureResult(inv)
	if o.writeBaseline != "" {
		if err := suppress.WriteBaseline(o.writeBaseline, res.Findings); err != nil {
			return usageError("--write-baseline: %v", err)
		}
	}
	if o.baseline != "" {
		b, err := suppress.LoadBaseline(o.baseline)
		if err != nil {
			return usageError("%v", err)
		}
		rules := &suppress.Rules{Baseline: b}
		kept, silenced, _ := rules.Filter(res.Findings)
		res.Findings, res.Suppressed = kept, silenced
		res.Summary.Suppressed = len(silenced)
		// The inventory lists the entries of the new findings only (an
		// entry's finding has its ID as field).
		known := map[string]bool{}
		for _, f := range kept {
			if f.CheckID == exposure.CheckEntry.ID {
				known[f.Field] = true
			}
		}
		entries := []exposure.Entry{}
		for _, e := range inv.Entries {
			if known[e.ID] {
				entries = append(entries, e)
			}
		}
		inv.Entries = entries
		inv.Findings = kept
	}
	summarize(res, failOn)

	var w io.Writer = s.out
	var buf bytes.Buffer
	if o.outputFile != "" {
		w = &buf
	}
	switch o.output {
	case "text":
		err = writeExposureText(w, inv)
	case "json":
		err = writeJSON(w, inv)
	case "csv":
		err = writeExposureCSV(w, inv.Entries, "", time.Time{})
	default:
		rep, ferr := report.For(o.output)
		if ferr != nil {
			return usageError("%v", ferr)
		}
		root, _ := os.Getwd()
		err = rep.Write(w, res, report.Options{Root: root, Version: toolVersion()})
	}
	if err != nil {
		return err
	}
	if o.outputFile != "" {
		if err := file.WriteAtomic(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usageError("--output-file: %v", err)
		}
	}
	if o.pending == nil && res.Summary.Failed {
		return &exitError{code: ExitFindings}
	}
	return nil
}

// exposureResult puts the findings in the engine's result, with the checks
// as rules, for the shared formats and the baseline.
func exposureResult(inv *exposure.Inventory) *engine.Result {
	res := &engine.Result{Findings: append([]finding.Finding{}, inv.Findings...)}
	for _, c := range exposure.Checks {
		res.Checks = append(res.Checks, check.Check{ID: c.ID, Title: c.Title, Severity: c.Severity, Category: finding.CategoryExposure, Description: c.Title + ".", Remediation: c.Remediation})
	}
	sort.Slice(res.Checks, func(i, j int) bool { return res.Checks[i].ID < res.Checks[j].ID })
	return res
}

func summarize(res *engine.Result, failOn *check.Severity) {
	res.Summary.Findings = len(res.Findings)
	res.Summary.Checks = len(res.Checks)
	res.Summary.BySeverity = map[string]int{}
	for _, f := range res.Findings {
		res.Summary.BySeverity[f.Severity.String()]++
		if failOn != nil && f.Severity >= *failOn {
			res.Summary.Failed = true
		}
	}
	if failOn != nil {
		res.Summary.FailOn = failOn.String()
	} else {
		res.Summary.FailOn = "none"
	}
}

func writeExposureText(w io.Writer, inv *exposure.Inventory) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d entry points into the cluster\n", len(inv.Entries))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tADDRESS\tPORT\tSOURCES\tTLS\tOBJECT\tBACKEND\tREACHES (NETWORKPOLICY)")
	for _, e := range inv.Entries {
		addr := strings.Join(e.Addresses, ",")
		if addr == "" {
			addr = "-"
		}
		port := e.PortLabel() + "/" + e.Protocol
		obj := e.Object.String()
		if e.Host != "" || e.Path != "" {
			obj += " " + e.Host + e.Path
		}
		var reach []string
		for _, t := range e.Targets {
			reach = append(reach, fmt.Sprintf("%s:%d (%s)", t.Workload, t.Port, t.NetworkPolicy))
		}
		if len(reach) == 0 {
			reach = []string{"-"}
		}
		backend := e.Backend
		if backend == "" {
			backend = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, addr, port, strings.Join(e.Sources, ","), e.TLS, report.Clean(obj), report.Clean(backend), report.Clean(strings.Join(reach, "; ")))
	}
	tw.Flush()
	b.WriteString("\nin-cluster encryption: ")
	if len(inv.Mesh) == 0 {
		b.WriteString("unknown (no service mesh or transparent encryption in the input)\n")
	} else {
		b.WriteString(strings.Join(inv.Mesh, ", ") + "\n")
	}
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, we := range inv.Workloads {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", we.Workload, we.Encryption, we.DecidedBy)
		ports := make([]string, 0, len(we.Ports))
		for p := range we.Ports {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		for _, p := range ports {
			fmt.Fprintf(tw, "    port %s\t%s\t\n", p, we.Ports[p])
		}
	}
	tw.Flush()
	var fs []finding.Finding
	for _, f := range inv.Findings {
		if f.CheckID != exposure.CheckEntry.ID {
			fs = append(fs, f)
		}
	}
	fmt.Fprintf(&b, "\n%d findings besides the entries\n", len(fs))
	for _, f := range fs {
		where := ""
		if f.Location != nil {
			where = f.Location.String() + " "
		}
		fmt.Fprintf(&b, "  %s%s %s [%s] %s\n", where, strings.ToUpper(f.Severity.String()), f.CheckID, f.Object.String(), report.Clean(f.Message))
	}
	_, err := w.Write(b.Bytes())
	return err
}

var csvHeader = []string{"id", "kind", "address", "port", "protocol", "sources", "host", "path", "tls", "object", "backend", "workload", "target_port", "network_policy", "open"}

// writeExposureCSV writes one row per entry, address and target (the form
// firewall tooling reads); change and at, when set, lead each row (watch).
func writeExposureCSV(w io.Writer, entries []exposure.Entry, change string, at time.Time) error {
	cw := csv.NewWriter(w)
	if change == "" {
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
	}
	for _, e := range entries {
		addrs := e.Addresses
		if len(addrs) == 0 {
			addrs = []string{"*"}
		}
		targets := e.Targets
		if len(targets) == 0 {
			targets = []exposure.Target{{}}
		}
		for _, a := range addrs {
			for _, t := range targets {
				row := []string{e.ID, e.Kind, a, e.PortLabel(), e.Protocol, strings.Join(e.Sources, " "), e.Host, e.Path, e.TLS,
					e.Object.String(), e.Backend, t.Workload, strconv.Itoa(int(t.Port)), t.NetworkPolicy, strconv.FormatBool(t.Open)}
				for i := range row {
					row[i] = report.Clean(row[i])
				}
				if change != "" {
					row = append([]string{at.UTC().Format(time.RFC3339), change}, row...)
				}
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeExposureChanges writes a diff or a watch step: text lines (+, -, ~),
// CSV rows with the change first, or JSON lines.
func writeExposureChanges(w io.Writer, changes []exposure.Change, format string, at time.Time) error {
	for _, c := range changes {
		switch format {
		case "csv":
			// A changed entry is its old rows removed and its new rows
			// added: a firewall loop needs no third case.
			if c.Op == exposure.Changed && c.Was != nil {
				if err := writeExposureCSV(w, []exposure.Entry{*c.Was}, exposure.Removed, at); err != nil {
					return err
				}
				if err := writeExposureCSV(w, []exposure.Entry{c.Entry}, exposure.Added, at); err != nil {
					return err
				}
				continue
			}
			if err := writeExposureCSV(w, []exposure.Entry{c.Entry}, c.Op, at); err != nil {
				return err
			}
		case "json":
			line := map[string]any{"change": c.Op, "entry": c.Entry}
			if !at.IsZero() {
				line["time"] = at.UTC().Format(time.RFC3339)
			}
			b, err := json.Marshal(line)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
				return err
			}
		default:
			sign := map[string]string{exposure.Added: "+", exposure.Removed: "-", exposure.Changed: "~"}[c.Op]
			prefix := ""
			if !at.IsZero() {
				prefix = at.UTC().Format(time.RFC3339) + " "
			}
			if _, err := fmt.Fprintf(w, "%s%s %s: %s\n", prefix, sign, c.Entry.ID, report.Clean(exposure.Describe(c.Entry))); err != nil {
				return err
			}
			if c.Op == exposure.Changed && c.Was != nil {
				if _, err := fmt.Fprintf(w, "%s    was: %s\n", strings.Repeat(" ", len(prefix)), report.Clean(exposure.Describe(*c.Was))); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// watchExposure prints the entries first, then every change: the cluster
// is read again (at most every half second) when a Service, Ingress, Node,
// NetworkPolicy, Pod, or a served Gateway API, Istio or Cilium object
// changes.
func watchExposure(s *streams, o *exposureOptions) error {
	ctx, cancel := context.WithCancel(s.context())
	defer cancel()
	format := o.output
	if format != "text" && format != "json" && format != "csv" {
		return usageError("--watch writes text, json or csv")
	}
	cfg, _, err := source.Config(o.cl)
	if err != nil {
		return usageError("%v", err)
	}
	// A first read before any watch: a list this identity may not do is
	// an error now, not an informer waiting forever.
	inv, err := exposureOf(s, o, nil)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	kick := make(chan struct{}, 1)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(kick) },
		UpdateFunc: func(any, any) { poke(kick) },
		DeleteFunc: func(any) { poke(kick) },
	}
	// Services, Ingresses and Nodes make entries; NetworkPolicies, Pods,
	// Namespaces (their labels) and ConfigMaps (cilium-config) change
	// verdicts and encryption.
	for _, inf := range []cache.SharedIndexInformer{factory.Core().V1().Services().Informer(), factory.Networking().V1().Ingresses().Informer(),
		factory.Core().V1().Nodes().Informer(), factory.Networking().V1().NetworkPolicies().Informer(), factory.Core().V1().Pods().Informer(),
		factory.Core().V1().Namespaces().Informer(), factory.Core().V1().ConfigMaps().Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	// The Gateway API, Istio and Cilium resources the cluster serves start
	// a read too.
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dynFactory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	for _, gvr := range servedKinds(dc) {
		if _, err := dynFactory.ForResource(gvr).Informer().AddEventHandler(handler); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	dynFactory.Start(ctx.Done())
	defer factory.Shutdown()
	defer dynFactory.Shutdown()
	defer cancel() // runs before the Shutdowns: they wait for informers the context stops
	if format == "csv" {
		cw := csv.NewWriter(s.out)
		if err := cw.Write(append([]string{"time", "change"}, csvHeader...)); err != nil {
			return err
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	var prev []exposure.Entry
	first := true
	for {
		if inv != nil {
			if err := writeExposureChanges(s.out, exposure.Diff(prev, inv.Entries), format, time.Now()); err != nil {
				return err
			}
			if first {
				fmt.Fprintf(s.err, "watching: %d entry points; changes follow\n", len(inv.Entries))
				first = false
			}
			prev = inv.Entries
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		}
		select { // let a burst of events settle
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
		drain(kick)
		if inv, err = exposureOf(s, o, nil); err != nil {
			fmt.Fprintln(s.err, "error:", report.Clean(err.Error()))
			inv = nil // keep watching: the next change reads again
		}
	}
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}
