package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/rbac"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/source"
)

type rbacOptions struct {
	helm      source.HelmOptions
	pending   error // input errors, given as the exit once the answer is out
	cluster   bool
	cl        source.ClusterOptions
	namespace string
	name      string
	groups    []string
	output    string
}

func newRBACCmd(s *streams) *cobra.Command {
	o := &rbacOptions{}
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Analyse RBAC: who can do what, and why",
		Long: `Answer RBAC questions with the API server's own semantics, from manifests
(PATH arguments after the question) or from a live cluster (--cluster).`,
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&o.cluster, "cluster", false, "read RBAC from the live cluster")
	pf.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "kubeconfig file")
	pf.StringVar(&o.cl.Context, "context", "", "kubeconfig context")
	pf.StringVarP(&o.namespace, "namespace", "n", "", "the namespace of the question (empty: cluster-wide only); in manifests, where objects that name none land (default: default)")
	pf.StringVarP(&o.output, "output", "o", "text", "output format: text or json (paths and risky: also dot, mermaid or html)")
	addHelmFlags(pf, &o.helm)
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error { return o.pending }

	whoCan := &cobra.Command{
		Use:   "who-can VERB RESOURCE[/SUBRESOURCE] [PATH ...]",
		Short: "List the subjects that may make a request, with the binding and role that allow it",
		Example: `  rampart rbac who-can get secrets -n prod k8s/
  rampart rbac who-can create deployments.apps/scale -n shop --cluster
  rampart rbac who-can get /metrics --cluster`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			g, err := loadRBAC(s, o, args[2:])
			if err != nil {
				return err
			}
			req := parseRequest(args[0], args[1], o.namespace, o.name)
			grants := g.WhoCan(req)
			rbac.SortBySubject(grants)
			return reportErr(report.RBACGrants(s.out, o.output, grants, true))
		},
	}
	whoCan.Flags().StringVar(&o.name, "name", "", "the object name of the request (for resourceNames rules)")
	can := &cobra.Command{
		Use:   "can SUBJECT [PATH ...]",
		Short: "List what a subject may do, with the binding and role of each rule",
		Long:  "SUBJECT is a user name, system:serviceaccount:NS:NAME, or group:NAME. The implicit groups (system:authenticated, system:serviceaccounts, system:serviceaccounts:NS) are added as the API server adds them.",
		Example: `  rampart rbac can system:serviceaccount:shop:ci-robot -n shop k8s/
  rampart rbac can alice --group developers --cluster`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			g, err := loadRBAC(s, o, args[1:])
			if err != nil {
				return err
			}
			return reportErr(report.RBACGrants(s.out, o.output, g.Can(rbac.ParseSubject(args[0], o.groups...), o.namespace), false))
		},
	}
	can.Flags().StringSliceVar(&o.groups, "group", nil, "a group the user is in (repeatable)")
	paths := &cobra.Command{
		Use:   "paths SUBJECT [PATH ...]",
		Short: "Show how a subject can reach cluster-admin power or read Secrets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			g, err := loadRBAC(s, o, args[1:])
			if err != nil {
				return err
			}
			u := rbac.ParseSubject(args[0], o.groups...)
			risks := []rbac.Risk{{Subject: args[0], Paths: g.AllPaths(u)}}
			if o.output == "html" {
				return reportErr(report.WriteGraphs(s.out, "RBAC paths of "+args[0], toolVersion(), report.RBACPathsGraph(risks)))
			}
			return reportErr(report.RBACRisks(s.out, o.output, risks))
		},
	}
	paths.Flags().StringSliceVar(&o.groups, "group", nil, "a group the user is in (repeatable)")
	risky := &cobra.Command{
		Use:   "risky [PATH ...]",
		Short: "Rank the subjects of every binding by what they can reach, with the chains as evidence",
		Long:  "Kubernetes' own identities (system:* users and groups, ServiceAccounts of kube-system) are the control plane and are not ranked; the anonymous and all-users groups are.",
		RunE: func(_ *cobra.Command, args []string) error {
			g, err := loadRBAC(s, o, args)
			if err != nil {
				return err
			}
			if o.output == "html" {
				return reportErr(report.WriteGraphs(s.out, "RBAC: risky subjects", toolVersion(), report.RBACGraph(g)))
			}
			return reportErr(report.RBACRisks(s.out, o.output, g.Risky()))
		},
	}
	cmd.AddCommand(whoCan, can, paths, risky)
	return cmd
}

// parseRequest reads RESOURCE as resource[.group][/subresource], or a
// non-resource path starting with "/".
func parseRequest(verb, resource, ns, name string) rbac.Request {
	if strings.HasPrefix(resource, "/") {
		return rbac.Request{Verb: verb, Path: resource}
	}
	res, sub, _ := strings.Cut(resource, "/")
	res, group, _ := strings.Cut(res, ".")
	return rbac.Request{Verb: verb, APIGroup: group, Resource: res, Subresource: sub, Namespace: ns, Name: name}
}

func loadRBAC(s *streams, o *rbacOptions, paths []string) (*rbac.Graph, error) {
	var objs []runtime.Object
	if o.cluster {
		if len(paths) > 0 {
			return nil, usageError("--cluster reads the cluster; do not give paths too")
		}
		read, err := readWholeCluster(o.cl, "rbac.authorization.k8s.io")
		if err != nil {
			return nil, err
		}
		for _, m := range read {
			objs = append(objs, m.Typed)
		}
	} else {
		loaded := loadInput(s, paths, o.namespace, o.helm)
		o.pending = reportInputProblems(s.err, loaded)
		for _, m := range loaded.Objects {
			if m.Typed != nil {
				objs = append(objs, m.Typed)
			}
		}
	}
	return rbac.New(objs), nil
}

// readWholeCluster reads every namespace of the cluster for an analyzer.
// A resource it may not list whose name contains one of needed makes the
// answer incomplete: an error, not a silent gap.
func readWholeCluster(cl source.ClusterOptions, needed ...string) ([]*manifest.Object, error) {
	cl.AllNamespaces = true
	cfg, _, err := source.Config(cl)
	if err != nil {
		return nil, usageError("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	read, err := source.ReadCluster(ctx, cfg, "", cl)
	if err != nil {
		return nil, usageError("%v", err)
	}
	for _, n := range read.NotEvaluated {
		for _, need := range needed {
			if strings.Contains(n.Resource, need) {
				return nil, &exitError{code: ExitError, err: fmt.Errorf("cannot %s %s: the answer would be incomplete", n.Verb, n.Resource)}
			}
		}
	}
	return read.Objects, nil
}
