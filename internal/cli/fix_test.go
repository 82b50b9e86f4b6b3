package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(from, "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFixCommand(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	before, _ := os.ReadFile(filepath.Join(dir, "frontend.yaml"))

	r := rampart(t, "", "fix", dir)
	if r.code != ExitOK || !strings.Contains(r.stdout, "+          securityContext:") || !strings.Contains(r.stderr, "need") && !strings.Contains(r.stderr, "not made") {
		t.Fatalf("fix (diff): exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "frontend.yaml")); string(after) != string(before) {
		t.Fatal("fix without --write changed a file")
	}

	if r := rampart(t, "", "fix", "--write", "--breaking", dir); r.code != ExitOK {
		t.Fatalf("fix --write: exit %d %s", r.code, r.stderr)
	}
	// Every fixable finding is gone; fixing again changes nothing.
	r = rampart(t, "", "fix", dir)
	if r.stdout != "" {
		t.Errorf("a second fix still changes files:\n%s", r.stdout)
	}
	for _, id := range []string{"pss-allow-privilege-escalation", "pss-privileged", "pss-capabilities-baseline", "sa-token-automount"} {
		out, _ := scanDirPath(t, dir)
		for _, f := range out {
			if f == id {
				t.Errorf("%s still reported after fix --write --breaking", id)
			}
		}
	}
	// Comments survive.
	if after, _ := os.ReadFile(filepath.Join(dir, "frontend.yaml")); !strings.Contains(string(after), "# Storefront: a floating image tag") {
		t.Error("a comment was lost")
	}
	if r := rampart(t, "", "fix", "--only", "no-such-check", dir); r.code != ExitError {
		t.Errorf("--only unknown: exit %d", r.code)
	}
}

func scanDirPath(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	fs, r := scanFindings(t, dir)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.CheckID)
	}
	return ids, r.code
}

// TestFixThenScanRestricted is the fixer's end-to-end promise: after
// fix --write --level restricted --breaking, the insecure example raises no
// Pod Security finding at restricted.
func TestFixThenScanRestricted(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	if r := rampart(t, "", "fix", "--write", "--level", "restricted", "--breaking", dir); r.code != ExitOK {
		t.Fatalf("fix: exit %d %s", r.code, r.stderr)
	}
	fs, r := scanFindings(t, dir, "--pss-level", "restricted")
	if r.code != ExitOK {
		t.Fatalf("scan after fix: exit %d: %s", r.code, r.stdout)
	}
	for _, f := range fs {
		if strings.HasPrefix(f.CheckID, "pss-") {
			t.Errorf("%s on %s/%s still reported after the fix", f.CheckID, f.Object.Kind, f.Object.Name)
		}
	}
}

// TestFixGeneratesObjects: the seed pod's NetworkPolicy becomes its own
// object selecting the pod (which gets a label), a default deny and
// per-workload policies are generated, workloads on the default
// ServiceAccount get their own, every generated object is labelled, and
// NET_ADMIN goes only with --breaking.
func TestFixGeneratesObjects(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	if r := rampart(t, "", "fix", "--write", dir); r.code != ExitOK {
		t.Fatalf("fix: exit %d %s", r.code, r.stderr)
	}
	pod, _ := os.ReadFile(filepath.Join(dir, "debug-pod.yaml"))
	if strings.Contains(string(pod), "networkPolicy:") {
		t.Error("spec.networkPolicy is still in the Pod")
	}
	if !strings.Contains(string(pod), "app: my-pod") || !strings.Contains(string(pod), "NET_ADMIN") {
		t.Errorf("the pod should be labelled and keep NET_ADMIN without --breaking:\n%s", pod)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "rampart-generated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: my-pod-network-policy", "kind: ServiceAccount"} {
		if !strings.Contains(string(gen), want) {
			t.Errorf("generated file lacks %q", want)
		}
	}
	// The namespace's policies would cut connections the manifests do not
	// show are needed: breaking, so made only with --breaking.
	if strings.Contains(string(gen), "name: default-deny") {
		t.Errorf("a default-deny policy that cuts connections was generated without --breaking:\n%s", gen)
	}
	dir = copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	if r := rampart(t, "", "fix", "--write", "--breaking", dir); r.code != ExitOK {
		t.Fatalf("fix --breaking: exit %d %s", r.code, r.stderr)
	}
	if gen, err = os.ReadFile(filepath.Join(dir, "rampart-generated.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: my-pod-network-policy", "name: default-deny", "kind: ServiceAccount", "k8s-app: kube-dns", "protocol: UDP"} {
		if !strings.Contains(string(gen), want) {
			t.Errorf("generated file lacks %q", want)
		}
	}
	docs := strings.Count(string(gen), "\n---\n") + 0
	if labels := strings.Count(string(gen), "app.kubernetes.io/managed-by: rampart"); labels != docs {
		t.Errorf("%d generated objects, %d labelled managed-by: rampart", docs, labels)
	}
	fs, _ := scanFindings(t, dir)
	for _, f := range fs {
		switch f.CheckID {
		case "schema", "default-service-account", "namespace-without-networkpolicy", "no-default-deny-ingress", "no-default-deny-egress":
			if f.Object.Namespace == "shop" {
				t.Errorf("%s on %s/%s after fix", f.CheckID, f.Object.Kind, f.Object.Name)
			}
		}
	}
}

func TestFixDefaultResources(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	r := rampart(t, "", "fix", "--write", "--no-generate", "--only", "memory-limit-missing,memory-request-missing,cpu-limit-missing",
		"--default-resources", "cpu=250m,memory=256Mi", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	fs, _ := scanFindings(t, dir)
	for _, f := range fs {
		if f.CheckID == "memory-limit-missing" || f.CheckID == "memory-request-missing" || f.CheckID == "cpu-limit-missing" {
			t.Errorf("%s on %s after fix", f.CheckID, f.Object.Name)
		}
	}
	api, _ := os.ReadFile(filepath.Join(dir, "api.yaml"))
	if !strings.Contains(string(api), `memory: "256Mi"`) {
		t.Errorf("resources not written:\n%s", api)
	}
	if r := rampart(t, "", "fix", "--default-resources", "cpu=lots", dir); r.code != ExitError {
		t.Errorf("bad quantity: exit %d", r.code)
	}
}

func TestFixInteractiveNeedsATerminal(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	if r := rampart(t, "y\n", "fix", "-i", "--write", dir); r.code != ExitError || !strings.Contains(r.stderr, "terminal") {
		t.Errorf("-i without a terminal: exit %d, %s", r.code, r.stderr)
	}
}

// TestFixChangesOnlyFixedFields: on the insecure example, every original line
// that fix --write --breaking removes or changes belongs to a field a fix is
// about; all other lines survive verbatim and in order.
func TestFixChangesOnlyFixedFields(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	before := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		before[f] = string(data)
	}
	if r := rampart(t, "", "fix", "--write", "--breaking", dir); r.code != ExitOK {
		t.Fatalf("fix: exit %d %s", r.code, r.stderr)
	}
	// Keys of the fields the fixes edit or remove, and of the entries inside
	// what they remove (volumes, mounts, sysctls, the inline NetworkPolicy).
	fixed := map[string]bool{
		"privileged": true, "allowPrivilegeEscalation": true, "hostNetwork": true, "hostPID": true, "hostIPC": true,
		"type": true, "runAsUser": true, "procMount": true, "hostPort": true, "host": true, "sysctls": true,
		"add": true, "drop": true, "capabilities": true, "networkPolicy": true, "ingress": true, "from": true,
		"podSelector": true, "matchLabels": true, "app": true, "name": true, "value": true, "mountPath": true,
		"readOnly": true, "hostPath": true, "path": true, "serviceAccountName": true,
	}
	for f, orig := range before {
		after, _ := os.ReadFile(f)
		gotLines := strings.Split(string(after), "\n")
		j := 0
		for _, l := range strings.Split(orig, "\n") {
			found := false
			for k := j; k < len(gotLines); k++ {
				if gotLines[k] == l {
					j, found = k+1, true
					break
				}
			}
			if found {
				continue
			}
			key := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
			key, _, _ = strings.Cut(key, ":")
			if !fixed[key] && !strings.HasPrefix(strings.TrimSpace(l), "- ") {
				t.Errorf("%s: line %q changed, but no fix is about %q", filepath.Base(f), l, key)
			}
		}
	}
}

// TestFixHelmChart: fix writes values overrides, never templates, and lists
// the fields the chart does not expose.
func TestFixHelmChart(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "pkg", "source", "testdata", "helm", "shop")
	copyTree(t, src, dir)
	tpl, _ := os.ReadFile(filepath.Join(dir, "templates", "deployment.yaml"))
	prod := filepath.Join(dir, "values-prod.yaml")
	r := rampart(t, "", "fix", "--write", "--breaking", dir, "-f", prod)
	if r.code != ExitOK || !strings.Contains(r.stderr, "the chart exposes no value for") {
		t.Fatalf("fix chart: exit %d\n%s", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "templates", "deployment.yaml")); string(after) != string(tpl) {
		t.Error("fix edited a template")
	}
	values := filepath.Join(dir, "rampart-values.yaml")
	fs, r := scanFindings(t, dir, "-f", prod, "-f", values)
	if r.code != ExitOK {
		t.Fatalf("scan with overrides: exit %d %s", r.code, r.stdout)
	}
	for _, id := range []string{"pss-privileged", "pss-host-namespaces"} {
		if len(find(fs, id)) > 0 {
			t.Errorf("%s still reported with %s", id, values)
		}
	}
}

// TestFixKustomize: fix writes a patch per object and adds it to the
// kustomization; the overlays then build without the fixed findings, and a
// second run changes nothing.
func TestFixKustomize(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "pkg", "source", "testdata", "kustomize")
	copyTree(t, src, dir)
	base, _ := os.ReadFile(filepath.Join(dir, "base", "deployment.yaml"))
	overlays := filepath.Join(dir, "overlays")
	if r := rampart(t, "", "fix", "--write", "--breaking", overlays); r.code != ExitOK {
		t.Fatalf("fix: exit %d %s", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "base", "deployment.yaml")); string(after) != string(base) {
		t.Error("fix edited a resource instead of patching")
	}
	k, _ := os.ReadFile(filepath.Join(overlays, "prod", "kustomization.yaml"))
	if !strings.Contains(string(k), "rampart-patch-deployment-web.yaml") {
		t.Errorf("patch not added to the kustomization:\n%s", k)
	}
	fs, r := scanFindings(t, overlays)
	if r.code != ExitOK {
		t.Fatalf("scan: exit %d %s", r.code, r.stdout)
	}
	for _, id := range []string{"pss-host-namespaces", "cap-sys-ptrace", "pss-allow-privilege-escalation", "sa-token-automount"} {
		if len(find(fs, id)) > 0 {
			t.Errorf("%s still reported after the patch", id)
		}
	}
	if r := rampart(t, "", "fix", "--breaking", overlays); r.stdout != "" {
		t.Errorf("a second fix changes files:\n%s", r.stdout)
	}
}

func TestFixDefaultResourcesFromConfig(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	if err := os.WriteFile(filepath.Join(dir, ".rampart.yaml"), []byte("fix:\n  defaultResources: memory=192Mi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := rampart(t, "", "fix", "--write", "--only", "memory-limit-missing", dir); r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	if api, _ := os.ReadFile(filepath.Join(dir, "api.yaml")); !strings.Contains(string(api), `memory: "192Mi"`) {
		t.Errorf("the configured default was not used:\n%s", api)
	}
}

// copyTree copies the folder src into dir.
func copyTree(t *testing.T, src, dir string) {
	t.Helper()
	if err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
}

// writeFiles writes each file (path relative to dir: content), making the
// folders it needs.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFixHelmRenderAndCompare: a values override is kept only when
// rendering the chart with it changes the field it is for. Here `default`
// turns privileged=false back into true: that fix is listed as not exposed
// and no value is written for it; the other is written and works.
func TestFixHelmRenderAndCompare(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: gated\nversion: 0.1.0\n",
		"values.yaml": "privileged: true\nallowPrivilegeEscalation: true\n",
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gated
  namespace: shop
spec:
  selector: {matchLabels: {app: gated}}
  template:
    metadata: {labels: {app: gated}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1
        securityContext:
          privileged: {{ .Values.privileged | default true }}
          allowPrivilegeEscalation: {{ .Values.allowPrivilegeEscalation }}
`,
	})
	r := rampart(t, "", "fix", "--write", "--breaking", "--only", "pss-privileged,pss-allow-privilege-escalation", dir)
	if r.code != ExitOK {
		t.Fatalf("fix: exit %d\n%s", r.code, r.stderr)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "pss-privileged: the chart does not expose") {
		t.Errorf("the override that the chart ignores is not listed as such:\n%s", out)
	}
	if strings.Contains(out, "fixed   Deployment/gated pss-privileged") {
		t.Errorf("a fix the render does not show is claimed:\n%s", out)
	}
	values, err := os.ReadFile(filepath.Join(dir, "rampart-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(values), "privileged:") || !strings.Contains(string(values), "allowPrivilegeEscalation: false") {
		t.Errorf("values written:\n%s", values)
	}
	fs, _ := scanFindings(t, dir, "-f", filepath.Join(dir, "rampart-values.yaml"))
	if len(find(fs, "pss-allow-privilege-escalation")) > 0 || len(find(fs, "pss-privileged")) == 0 {
		t.Errorf("after the overrides: %d allow-privilege-escalation, %d privileged findings (want 0 and 1)",
			len(find(fs, "pss-allow-privilege-escalation")), len(find(fs, "pss-privileged")))
	}
	if r := rampart(t, "", "fix", "--breaking", "--only", "pss-privileged,pss-allow-privilege-escalation", dir); strings.Contains(r.stdout, "+") {
		t.Errorf("a second fix changes files:\n%s", r.stdout)
	}
}

// TestFixHonoursConfig: fix reads .rampart.yaml as scan does: a check the
// configuration switches off is not fixed, nor is a finding an exception
// silences (with its reason); the other fixes are made.
func TestFixHonoursConfig(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "examples", "insecure"))
	writeFiles(t, dir, map[string]string{".rampart.yaml": `checks:
  disable: [pss-allow-privilege-escalation]
exceptions:
- check: pss-privileged
  kind: Deployment
  namespace: shop
  name: orders-api
  reason: the payment HSM driver needs it (SEC-42)
`})
	r := rampart(t, "", "fix", "--write", "--breaking", dir)
	if r.code != ExitOK {
		t.Fatalf("fix: exit %d\n%s", r.code, r.stderr)
	}
	api, _ := os.ReadFile(filepath.Join(dir, "api.yaml"))
	for _, want := range []string{"privileged: true", "allowPrivilegeEscalation: true", "seccompProfile"} {
		if !strings.Contains(string(api), want) {
			t.Errorf("api.yaml lacks %q after fix:\n%s", want, api)
		}
	}
	if strings.Contains(r.stderr, "orders-api pss-privileged") || strings.Contains(r.stderr, "pss-allow-privilege-escalation") {
		t.Errorf("fix made or listed a fix the configuration silences:\n%s", r.stderr)
	}
}
