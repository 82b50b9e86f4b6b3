package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/config"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/scan"
	"github.com/rampart-k8s/rampart/pkg/source"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

type cisOptions struct {
	benchmark, profile   string
	root, role, nodeName string
	kubeletArgs          string
	cluster              bool
	cl                   source.ClusterOptions
	live                 cis.LiveOptions
	output, outputFile   string
	failOn, color        string
	config               string
	baseline             string
	writeBaseline        string
	publish              bool
	interval             time.Duration
}

func newCISCmd(s *streams) *cobra.Command {
	o := &cisOptions{}
	cmd := &cobra.Command{
		Use:   "cis [PATH ...]",
		Short: "Evaluate the CIS Kubernetes Benchmark on a node's files or a live cluster",
		Long: `Evaluate every control of the CIS Kubernetes Benchmark (cis-1.12 by default).

Node mode (the default) reads a node's files under --root: the static pod
manifests of kube-apiserver, kube-controller-manager, kube-scheduler and
etcd, the kubelet's systemd unit, drop-ins and configuration file,
kubeconfigs, the PKI folder and etcd's data folder. Section 5 (policies) is
answered by the check catalog over the manifests given as PATH.

Live mode (--cluster) reads the control-plane flags from the mirror pods in
kube-system, each kubelet's configuration from its configz endpoint
(authorized as nodes/configz, never nodes/proxy), section 5 from the API,
and what only a node can tell (file permissions) from the results the node
job publishes (rampart cis node-job). What cannot be read is "not
evaluated", with the permission missing (rampart cis rbac prints the least
privilege).

Every failed control is a finding (check ID cis-1.2.1 and so on), so
suppressions, baselines, SARIF and JUnit work as in scan; rampart fix
--benchmark cis-1.12 FILE makes the fixes of static pod manifests and kubelet
configuration files.

Exit codes: 0 no failure at or above --fail-on; 1 failures at or above it;
2 usage errors, unreadable input, or (live mode) controls not evaluated.`,
		Example: `  sudo rampart cis                       # this node
  rampart cis --root /host --node-name $NODE
  rampart cis --cluster -o sarif --output-file cis.sarif
  rampart cis --cluster --profile eks`,
		RunE: func(_ *cobra.Command, args []string) error { return runCIS(s, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.benchmark, "benchmark", cis.DefaultBenchmark, "benchmark: "+strings.Join(cis.Benchmarks(), ", "))
	f.StringVar(&o.profile, "profile", "generic", "platform profile: generic, eks, gke, aks (the provider's controls are not applicable)")
	f.StringVar(&o.root, "root", "/", "node mode: the node's filesystem")
	f.StringVar(&o.role, "role", "auto", "node mode: auto, control-plane or worker")
	f.StringVar(&o.nodeName, "node-name", "", "node mode: the node's name in results (default: the host name)")
	f.StringVar(&o.kubeletArgs, "kubelet-args", "", "node mode: the kubelet's command line, when no systemd unit starts it")
	f.BoolVar(&o.cluster, "cluster", false, "live mode: read the cluster of the kubeconfig context")
	f.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster config)")
	f.StringVar(&o.cl.Context, "context", "", "kubeconfig context to use")
	f.StringVar(&o.live.NodeResultsNamespace, "node-results-namespace", "rampart", "namespace of the node job's results")
	f.StringVar(&o.live.KubeletCAFile, "kubelet-ca-file", "", "live mode: CA that signed the kubelets' serving certificates (default: the kubeconfig's CA)")
	f.BoolVar(&o.live.KubeletInsecureTLS, "kubelet-insecure-tls", false, "live mode: do not verify the kubelets' serving certificates (often self-signed)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(report.CISFormats, ", "))
	f.StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	f.StringVar(&o.failOn, "fail-on", "high", "lowest severity of a failed control that makes the exit code 1, or none")
	f.StringVar(&o.color, "color", "auto", "colour text output: auto, always, never")
	f.StringVar(&o.config, "config", "", "configuration file (its exceptions apply to cis-* findings too)")
	f.StringVar(&o.baseline, "baseline", "", "report only findings that are not in this baseline file")
	f.StringVar(&o.writeBaseline, "write-baseline", "", "write the findings as a baseline file")
	f.BoolVar(&o.publish, "publish", false, "node mode: publish the node's results as a ConfigMap in --node-results-namespace (the node job does)")
	f.DurationVar(&o.interval, "interval", 0, "with --publish: run again every interval until stopped")
	cmd.AddCommand(newCISNodeJobCmd(s), newCISRBACCmd(s), newCISControlsCmd(s))
	return cmd
}

func runCIS(s *streams, o *cisOptions, paths []string) error {
	b, err := cis.Load(o.benchmark)
	if err != nil {
		return usageError("--benchmark: %v", err)
	}
	var profile *cis.Profile
	if o.profile != "generic" {
		if profile = b.Profiles[o.profile]; profile == nil {
			return usageError("--profile: want one of %s", strings.Join(b.ProfileNames(), ", "))
		}
	}
	if !slices.Contains(report.CISFormats, o.output) {
		return usageError("--output: want one of %s", strings.Join(report.CISFormats, ", "))
	}
	failOn, err := failOnSeverity(o.failOn)
	if err != nil {
		return err
	}
	if o.cluster && (len(paths) > 0 || o.publish) {
		return usageError("--cluster reads the cluster: give no PATH and no --publish")
	}
	if o.interval > 0 && !o.publish {
		return usageError("--interval goes with --publish")
	}
	rules := &suppress.Rules{Now: time.Now()}
	cfgPath := o.config
	if cfgPath == "" && len(paths) > 0 {
		cfgPath = config.Find(paths[0])
	}
	if cfgPath != "" {
		plan, err := scan.New(scan.Options{ConfigFile: cfgPath, Paths: []string{"."}})
		if err != nil {
			return usageError("%v", err)
		}
		rules.Exceptions = plan.Config.SuppressionExceptions()
		for _, e := range rules.Exceptions {
			if !strings.HasPrefix(e.Check, "cis-") {
				continue
			}
			found := false
			for _, c := range b.Controls {
				if ok, _ := path.Match(e.Check, cis.CheckID(c.ID)); ok {
					found = true
				}
			}
			if !found {
				return usageError("%s: exception %q matches no control of %s", e.Source, e.Check, b.ID)
			}
		}
	}
	if o.baseline != "" {
		if rules.Baseline, err = suppress.LoadBaseline(o.baseline); err != nil {
			return usageError("--baseline: %v", err)
		}
	}
	ctx := s.context()
	for {
		rep, err := evaluateCIS(ctx, s, b, o, paths)
		if err != nil {
			return err
		}
		rep.Finish(b, profile, rules, failOn)
		if o.publish {
			if err := publishNode(ctx, b, o, rep); err != nil {
				fmt.Fprintln(s.err, "error: publishing:", err)
				if o.interval == 0 {
					return &exitError{code: ExitError}
				}
			}
		}
		if o.interval == 0 {
			return writeCIS(s, b, o, rep, failOn)
		}
		if err := writeCIS(s, b, o, rep, failOn); err != nil {
			if ee, ok := err.(*exitError); !ok || ee.err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}

// lastNode keeps the node of the last node-mode run, for publishing.
var lastNode *cis.Node

func evaluateCIS(ctx context.Context, s *streams, b *cis.Benchmark, o *cisOptions, paths []string) (*cis.Report, error) {
	rep := &cis.Report{Benchmark: b.ID, Title: b.Title, Profile: o.profile}
	if o.cluster {
		rep.Mode = "live"
		cfg, _, err := source.Config(o.cl)
		if err != nil {
			return nil, usageError("%v", err)
		}
		live, err := cis.ReadLive(ctx, b, cfg, o.live)
		if err != nil {
			return nil, usageError("%v", err)
		}
		reports := map[string]*cis.NodeReport{}
		for i := range live.NodeReports {
			reports[live.NodeReports[i].Node] = &live.NodeReports[i]
		}
		var sets [][]cis.Result
		for _, n := range live.Nodes {
			rep.Nodes = append(rep.Nodes, n.Name)
			rs := b.EvaluateNode(n)
			if live.ProxyAbsent {
				for i := range rs {
					if rs[i].ID == "4.3.1" {
						rs[i].Status, rs[i].Reason, rs[i].Evidence, rs[i].Findings = cis.NotApplicable, "no kube-proxy runs in kube-system (the CNI may replace it)", nil, nil
					}
				}
			}
			sets = append(sets, b.MergeNodeReport(rs, reports[n.Name], liveNodeReportsErr(live)))
		}
		results := cis.Combine(b, sets...)
		if len(live.Nodes) == 0 {
			for _, c := range b.Controls {
				if !strings.HasPrefix(c.ID, "5.") {
					results = append(results, cis.Result{ID: c.ID, Title: c.Title, Section: c.Section(), Automated: c.Automated, Severity: c.Severity, Status: cis.NotEvaluated, Reason: "no node or control-plane pod could be read"})
				}
			}
		}
		pin, err := policyScan(ctx, s, b, nil, true, o.cl)
		if err != nil {
			return nil, err
		}
		results = append(results, b.EvaluatePolicies(pin)...)
		rep.Results = results
		rep.Forbidden = live.Forbidden
		return rep, nil
	}
	rep.Mode = "node"
	var kargs []string
	if o.kubeletArgs != "" {
		kargs = strings.Fields(o.kubeletArgs)
	}
	n := cis.ReadNode(b, cis.NodeOptions{Root: o.root, Role: o.role, NodeName: o.nodeName, KubeletArgs: kargs})
	lastNode = n
	rep.Nodes = []string{n.Name}
	for _, e := range n.Errors {
		rep.Errors = append(rep.Errors, e.Error())
	}
	results := b.EvaluateNode(n)
	var pin *cis.PolicyInput
	if len(paths) > 0 {
		var err error
		if pin, err = policyScan(ctx, s, b, paths, false, o.cl); err != nil {
			return nil, err
		}
		for _, e := range pin.Result.Errors {
			rep.Errors = append(rep.Errors, e.Error())
		}
	}
	rep.Results = append(results, b.EvaluatePolicies(pin)...)
	return rep, nil
}

func liveNodeReportsErr(l *cis.Live) string {
	for _, p := range l.Forbidden {
		if strings.HasPrefix(p, "list configmaps in ") {
			return "forbidden: needs " + p
		}
	}
	return ""
}

// policyChecks are the catalog checks section 5 reads.
func policyChecks(b *cis.Benchmark) []string {
	var ids []string
	seen := map[string]bool{}
	for _, c := range b.Controls {
		for _, id := range c.Policy {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// policyScan runs the section-5 checks over manifests or the cluster; the
// kinds it could not read (that section 5 needs) come back as permissions.
func policyScan(ctx context.Context, s *streams, b *cis.Benchmark, paths []string, cluster bool, cl source.ClusterOptions) (*cis.PolicyInput, error) {
	cl.AllNamespaces = true
	plan, err := scan.New(scan.Options{Paths: paths, Stdin: s.in, Cluster: cluster, ClusterOptions: cl, Disable: []string{"all"}, Enable: policyChecks(b), AllowEmpty: true, ConfigFile: os.DevNull, KeepObjects: true,
		// Section 5.2 asks to minimize what the restricted level forbids.
		PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}})
	if err != nil {
		return nil, usageError("%v", err)
	}
	res, err := plan.Run(ctx)
	if err != nil {
		return nil, usageError("%v", err)
	}
	var unreadable []string
	for _, ne := range res.NotEvaluated {
		r := strings.SplitN(ne.Resource, ".", 2)[0]
		if r == "secrets" || r == "configmaps" || r == "services" || r == "ingresses" {
			continue // no section-5 check reads them
		}
		p := ne.Verb + " " + ne.Resource
		if ne.Namespace != "" {
			p += " in " + ne.Namespace
		}
		unreadable = append(unreadable, p)
	}
	if cluster && len(res.Errors) > 0 {
		unreadable = append(unreadable, "the cluster: "+res.Errors[0].Error())
	}
	return &cis.PolicyInput{Result: res, Unreadable: unreadable, Objects: plan.Objects}, nil
}

func writeCIS(s *streams, b *cis.Benchmark, o *cisOptions, rep *cis.Report, failOn *check.Severity) error {
	if o.writeBaseline != "" {
		known := rep.Findings()
		for _, sf := range rep.Suppressed {
			if sf.Baseline {
				known = append(known, sf.Finding) // still known: kept in the new baseline
			}
		}
		if err := suppress.WriteBaseline(o.writeBaseline, known); err != nil {
			return usageError("--write-baseline: %v", err)
		}
	}
	var w io.Writer = s.out
	var buf bytes.Buffer
	if o.outputFile != "" {
		w = &buf
	}
	color := o.color == "always" || (o.color == "auto" && o.outputFile == "" && isTerminal(s.out) && os.Getenv("NO_COLOR") == "")
	var err error
	switch o.output {
	case "text":
		err = report.CISText(w, b, rep, color)
	case "json":
		err = report.CISJSON(w, rep)
	default:
		rp, _ := report.For(o.output)
		root, _ := os.Getwd()
		err = rp.Write(w, rep.EngineResult(b, failOn), report.Options{Root: root, Version: toolVersion(), Color: color})
	}
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if o.outputFile != "" {
		if err := file.WriteAtomic(o.outputFile, buf.Bytes(), 0o644); err != nil {
			return usageError("--output-file: %v", err)
		}
	}
	switch {
	case len(rep.Errors) > 0 || rep.Summary.NotEvaluated > 0 && o.cluster:
		return &exitError{code: ExitError}
	case rep.Summary.Failed:
		return &exitError{code: ExitFindings}
	}
	return nil
}

// publishNode writes the node's results as a ConfigMap for live mode.
func publishNode(ctx context.Context, b *cis.Benchmark, o *cisOptions, rep *cis.Report) error {
	if lastNode == nil {
		return fmt.Errorf("no node was read")
	}
	cfg, err := restConfig(o.cl)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var sections []cis.Result
	for _, r := range rep.Results {
		if !strings.HasPrefix(r.ID, "5.") {
			sections = append(sections, r)
		}
	}
	data, err := json.Marshal(cis.NewNodeReport(b, lastNode, sections, time.Now()))
	if err != nil {
		return err
	}
	name := cis.NodeResultsName(lastNode.Name)
	cms := cs.CoreV1().ConfigMaps(o.live.NodeResultsNamespace)
	cur, err := cms.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.live.NodeResultsNamespace, Labels: map[string]string{cis.NodeResultsLabel: "true"}},
			Data: map[string]string{cis.NodeResultsKey: string(data)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		return err
	case err != nil:
		return err
	}
	cur.Data = map[string]string{cis.NodeResultsKey: string(data)}
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	cur.Labels[cis.NodeResultsLabel] = "true"
	_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func restConfig(cl source.ClusterOptions) (*rest.Config, error) {
	cfg, _, err := source.Config(cl)
	return cfg, err
}

func newCISNodeJobCmd(s *streams) *cobra.Command {
	o := cis.NodeJobOptions{}
	cmd := &cobra.Command{
		Use:   "node-job",
		Short: "Print the DaemonSet that runs node mode on every node and publishes the results",
		Long: `Print a ServiceAccount, a Role that lets it write ConfigMaps in its
namespace, and two DaemonSets (control-plane nodes, and the others;
tolerating every taint) whose pods mount the node's Kubernetes files
read-only under /host, run rampart cis --root /host every --interval, and
publish the node's results as a ConfigMap that rampart cis --cluster reads.

Every mounted path must exist on the node (a missing one keeps the pod from
starting, as kubectl describe shows): nothing is ever created on a host.
/var/lib/kubelet is not mounted (its pods' Secret volumes live there), only
the kubelet's files named by --kubelet-file.`,
		Example: `  rampart cis node-job --namespace rampart | kubectl apply -f -`,
		RunE: func(*cobra.Command, []string) error {
			if o.Image == "" {
				o.Image = "ghcr.io/rampart-k8s/rampart:" + strings.TrimPrefix(toolVersion(), "v")
			}
			return printObjects(s.out, cis.NodeJob(o))
		},
	}
	cmd.Flags().StringVar(&o.Namespace, "namespace", "rampart", "namespace of the job and its results")
	cmd.Flags().StringVar(&o.Image, "image", "", "rampart image (default: this version's)")
	cmd.Flags().StringVar(&o.Benchmark, "benchmark", cis.DefaultBenchmark, "benchmark")
	cmd.Flags().DurationVar(&o.Interval, "interval", 24*time.Hour, "time between runs on each node")
	cmd.Flags().StringSliceVar(&o.KubeletFiles, "kubelet-file", nil, "the kubelet's files to mount (default: /var/lib/kubelet/config.yaml and kubeadm-flags.env; every node must have them)")
	cmd.Flags().StringVar(&o.EtcdDataDir, "etcd-data-dir", "/var/lib/etcd", "etcd's data folder on control-plane nodes (\"\" with an external etcd)")
	cmd.Flags().StringSliceVar(&o.ExtraPaths, "host-path", nil, "more host folders to mount read-only, e.g. /etc/sysconfig on RHEL (every node must have them)")
	return cmd
}

func newCISRBACCmd(s *streams) *cobra.Command {
	var ns, sa, saNS string
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Print the least privilege rampart cis --cluster needs",
		Long: `Print a ClusterRole (list of what section 5 judges, list nodes, get
nodes/configz; never nodes/proxy or secrets), a Role for the node results'
namespace and one for kube-proxy's ConfigMap, and with --service-account
their bindings.`,
		RunE: func(*cobra.Command, []string) error {
			return printObjects(s.out, cis.LiveRBAC(ns, sa, saNS, source.Resources()))
		},
	}
	cmd.Flags().StringVar(&ns, "node-results-namespace", "rampart", "namespace of the node job's results")
	cmd.Flags().StringVar(&sa, "service-account", "", "bind the roles to this ServiceAccount")
	cmd.Flags().StringVar(&saNS, "service-account-namespace", "rampart", "the ServiceAccount's namespace")
	return cmd
}

func newCISControlsCmd(s *streams) *cobra.Command {
	var bench string
	cmd := &cobra.Command{
		Use:   "controls",
		Short: "List the benchmark's controls and how each is evaluated",
		RunE: func(*cobra.Command, []string) error {
			b, err := cis.Load(bench)
			if err != nil {
				return usageError("%v", err)
			}
			for _, c := range b.Controls {
				how := "manual"
				switch {
				case c.File != nil:
					how = "file " + c.File.Target
				case c.Test != nil:
					how = "flags of " + c.Test.Component
				case len(c.Policy) > 0:
					how = "checks " + strings.Join(c.Policy, ",")
				}
				auto := "manual   "
				if c.Automated {
					auto = "automated"
				}
				fmt.Fprintf(s.out, "%-8s %s %-40s %s\n", c.ID, auto, how, c.Title)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&bench, "benchmark", cis.DefaultBenchmark, "benchmark")
	return cmd
}

// printObjects writes objects as one YAML stream.
func printObjects(w io.Writer, objs []runtime.Object) error {
	for i, o := range objs {
		data, err := report.ObjectYAML(o)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}
