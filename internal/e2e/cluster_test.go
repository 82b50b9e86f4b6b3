// Package e2e holds the tests that need a real kube-apiserver and etcd: one
// control plane for the package, started in TestMain (see
// internal/testcluster; the first run builds the binaries).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/internal/testcluster"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/source"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	c, err := testcluster.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot start the test control plane:", err)
		os.Exit(1) // fail, never skip
	}
	cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping the control plane:", err)
	}
	os.Exit(code)
}

// apply server-side-applies every object of the files that the scan reads
// and that this API server serves, and returns their kind/namespace/name.
func apply(t *testing.T, dir string) map[string]bool {
	return applyWith(t, dir, false)
}

func applyWith(t *testing.T, dir string, dryRun bool) map[string]bool {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	loaded := manifest.Load([]string{dir}, manifest.Options{})
	objs := loaded.Objects
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Kind == "Namespace" && objs[j].Kind != "Namespace" })
	created := map[string]bool{}
	for _, o := range objs {
		res, namespaced, ok := source.Resource(o.APIVersion, o.Kind)
		if !ok || o.Typed == nil {
			continue // removed APIs (PodSecurityPolicy) cannot be created
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		resource, group, _ := strings.Cut(res, ".")
		gvr := schema.GroupVersionResource{Group: group, Version: gv.Version, Resource: resource}
		if gv.Group != group {
			t.Fatalf("resource %s does not match %s", res, o.APIVersion)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Typed)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion(o.APIVersion)
		u.SetKind(o.Kind)
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if namespaced {
			ns := o.Namespace
			if ns == "" {
				ns = "default"
			}
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		opts := metav1.ApplyOptions{FieldManager: "rampart-e2e", Force: true}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Apply(context.Background(), o.Name, u, opts); err != nil {
			t.Fatalf("applying %s (dry run %v): %v", o, dryRun, err)
		}
		if o.Kind != "Namespace" && !dryRun { // nothing in the test control plane finalizes Namespaces
			name := o.Name
			t.Cleanup(func() {
				zero := int64(0)
				if err := ri.Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
					t.Logf("deleting %s: %v", name, err)
				}
			})
		}
		ns := o.Namespace
		if ns == "" && namespaced {
			ns = "default"
		}
		created[o.Kind+"/"+ns+"/"+o.Name] = true
	}
	return created
}

type finding struct {
	CheckID string `json:"checkID"`
	Object  struct {
		Kind, Namespace, Name string
	} `json:"object"`
}

func scan(t *testing.T, args ...string) ([]finding, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append(args, "-o", "json", "--fail-on", "none"), strings.NewReader(""), &out, &errb)
	var doc struct {
		Findings     []finding         `json:"findings"`
		NotEvaluated []json.RawMessage `json:"notEvaluated"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("rampart %v: exit %d, %v\nstderr: %s", args, code, err, errb.String())
	}
	return doc.Findings, code, errb.String() + out.String()
}

// perObjectChecks are compared between files and cluster. Two kinds of
// checks are left out, for reasons of the cluster, not of Rampart: schema
// (the API server drops unknown fields, so the live object has none) and the
// whole-namespace NetworkPolicy findings (the cluster has Namespace objects
// the files lack, so they land on the Namespace instead of a workload).
func comparableFinding(f finding, created map[string]bool) bool {
	switch f.CheckID {
	case "schema", "namespace-without-networkpolicy", "no-default-deny-ingress", "no-default-deny-egress":
		return false
	}
	ns := f.Object.Namespace
	if ns == "" && f.Object.Kind != "Namespace" && !strings.HasPrefix(f.Object.Kind, "Cluster") {
		ns = "default"
	}
	return created[f.Object.Kind+"/"+ns+"/"+f.Object.Name]
}

func keys(fs []finding, created map[string]bool) []string {
	var out []string
	for _, f := range fs {
		if comparableFinding(f, created) {
			ns := f.Object.Namespace
			if ns == "" && f.Object.Kind != "Namespace" && !strings.HasPrefix(f.Object.Kind, "Cluster") {
				ns = "default"
			}
			out = append(out, f.CheckID+" "+f.Object.Kind+"/"+ns+"/"+f.Object.Name)
		}
	}
	sort.Strings(out)
	return dedupe(out)
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// TestClusterScanMatchesFiles creates the examples in the API server and
// checks that scan --cluster reports the same (check, kind, namespace, name)
// set as scanning the files.
func TestClusterScanMatchesFiles(t *testing.T) {
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	for _, example := range []string{"insecure", "hardened"} {
		t.Run(example, func(t *testing.T) {
			dir := filepath.Join("..", "..", "examples", example)
			created := apply(t, dir)
			fromFiles, _, _ := scan(t, "scan", dir, "--config", filepath.Join("..", "..", "examples", ".rampart.yaml"))
			fromCluster, code, out := scan(t, "scan", "--cluster", "--kubeconfig", kubeconfig, "-A", "--config", filepath.Join("..", "..", "examples", ".rampart.yaml"))
			if code == cli.ExitError {
				t.Fatalf("cluster scan failed: %s", out)
			}
			want, got := keys(fromFiles, created), keys(fromCluster, created)
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("cluster scan differs from the file scan\nonly in files:   %v\nonly in cluster: %v", minus(want, got), minus(got, want))
			}
			if len(want) == 0 && example == "insecure" {
				t.Error("no comparable findings: the test would prove nothing")
			}
			t.Logf("%s: %d comparable findings agree", example, len(want))
		})
	}
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// TestForbiddenKindsAreNotEvaluated: a user who may not list Secrets or
// RoleBindings gets them reported as not evaluated, exit code 2, and exit by
// findings with --allow-partial.
func TestForbiddenKindsAreNotEvaluated(t *testing.T) {
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rules []rbacv1.PolicyRule
	for _, res := range source.Resources() {
		if res == "secrets" || res == "rolebindings.rbac.authorization.k8s.io" {
			continue
		}
		name, group, _ := strings.Cut(res, ".")
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{name}, Verbs: []string{"list"}})
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "limited-scanner"}, Rules: rules}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "limited-scanner"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "limited", APIGroup: rbacv1.GroupName}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "limited-scanner"},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "limited")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := cli.Main([]string{"scan", "--cluster", "--kubeconfig", kubeconfig, "-A", "-o", "json"}, strings.NewReader(""), &out, &errb)
	if code != cli.ExitError {
		t.Errorf("exit %d, want %d; stderr %s", code, cli.ExitError, errb.String())
	}
	var doc struct {
		NotEvaluated []struct{ Resource, Verb string } `json:"notEvaluated"`
		Summary      struct{ NotEvaluated int }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range doc.NotEvaluated {
		got = append(got, n.Verb+" "+n.Resource)
	}
	if strings.Join(got, ",") != "list rolebindings.rbac.authorization.k8s.io,list secrets" {
		t.Errorf("not evaluated %v, want rolebindings and secrets", got)
	}
	code = cli.Main([]string{"scan", "--cluster", "--kubeconfig", kubeconfig, "-A", "--allow-partial", "--fail-on", "none"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if code != cli.ExitOK {
		t.Errorf("--allow-partial --fail-on none: exit %d, want 0", code)
	}
}

// TestFixedManifestsAreAccepted: after fix --write --breaking, every object
// of the insecure example is still accepted by the real API server
// (server-side dry run).
func TestFixedManifestsAreAccepted(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "insecure", "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"fix", "--write", "--breaking", dir}, strings.NewReader(""), &out, &errb); code != cli.ExitOK {
		t.Fatalf("fix: exit %d %s", code, errb.String())
	}
	created := applyWith(t, dir, true)
	if len(created) < 10 {
		t.Errorf("only %d objects were dry-run applied", len(created))
	}
}

// TestNetpolMatrixFromClusterMatchesFiles: the hardened example applied to
// the API server gives the same workloads, classes and connections read
// live as read from its files (the server adds namespace labels itself).
func TestNetpolMatrixFromClusterMatchesFiles(t *testing.T) {
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "examples", "hardened")
	apply(t, dir)
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(append([]string{"netpol", "matrix", "-o", "csv"}, args...), strings.NewReader(""), &out, &errb); code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	fromFiles := run(dir)
	fromCluster := run("--cluster", "--kubeconfig", kubeconfig)
	if fromFiles != fromCluster {
		t.Errorf("matrix differs\nfrom files:\n%s\nfrom the cluster:\n%s", fromFiles, fromCluster)
	}
	if strings.Count(fromFiles, "\n") < 2 {
		t.Errorf("no connection in the matrix: the test would prove nothing:\n%s", fromFiles)
	}
	var out, errb bytes.Buffer
	code := cli.Main([]string{"netpol", "explain", "--cluster", "--kubeconfig", kubeconfig, "shop/frontend", "shop/orders-api", "--port", "8080"}, strings.NewReader(""), &out, &errb)
	if code != cli.ExitOK || !strings.Contains(out.String(), "ALLOWED") {
		t.Errorf("explain from the cluster: exit %d: %s%s", code, out.String(), errb.String())
	}
}
