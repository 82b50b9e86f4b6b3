package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/rbac"
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
	pf.StringVarP(&o.output, "output", "o", "text", "output format: text or json (paths and risky: also dot or mermaid)")
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
			return writeGrants(s.out, o.output, grants, true)
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
			return writeGrants(s.out, o.output, g.Can(rbac.ParseSubject(args[0], o.groups...), o.namespace), false)
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
			return writeRisks(s.out, o.output, []rbac.Risk{{Subject: args[0], Paths: g.AllPaths(u)}})
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
			return writeRisks(s.out, o.output, g.Risky())
		},
	}
	cmd.AddCommand(whoCan, can, paths, risky)
	return cmd
}

func writeRisks(w io.Writer, format string, risks []rbac.Risk) error {
	switch format {
	case "json":
		if risks == nil {
			risks = []rbac.Risk{}
		}
		return writeJSON(w, risks)
	case "dot", "mermaid":
		return writeRiskGraph(w, format, risks)
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
	return usageError("unknown output format %q (want text, json, dot or mermaid)", format)
}

// writeRiskGraph draws the chains: identities and goals as nodes, steps as
// edges labelled with the binding that allows them.
func writeRiskGraph(w io.Writer, format string, risks []rbac.Risk) error {
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

func writeGrants(w io.Writer, format string, grants []rbac.Grant, bySubject bool) error {
	switch format {
	case "json":
		if grants == nil {
			grants = []rbac.Grant{}
		}
		return writeJSON(w, grants)
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
	return usageError("unknown output format %q (want text or json)", format)
}
