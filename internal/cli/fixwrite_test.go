package cli

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-k8s/rampart/pkg/file"
)

// TestFixWriteFailuresCostOneFile: a file that cannot be written is
// reported, the others are written, and the exit code says so; a link to a
// file outside the paths given is not written through.
func TestFixWriteFailuresCostOneFile(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "examples", "insecure"), filepath.Join(dir, "app"))
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(outside, []byte(seedPod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "app", "linked.yaml")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if os.Geteuid() != 0 { // root writes into read-only folders
		locked := filepath.Join(dir, "app", "locked")
		if err := os.MkdirAll(locked, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(locked, "pod.yaml"), []byte(seedPod), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(locked, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(locked, 0o755) })
	}
	pods, _ := os.ReadFile(filepath.Join(dir, "app", "frontend.yaml"))
	r := rampart(t, "", "fix", "--write", filepath.Join(dir, "app"))
	if r.code != ExitError || !strings.Contains(r.stderr, "not written") || !strings.Contains(r.stderr, "outside the paths given") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(outside); string(data) != seedPod {
		t.Error("a file outside the paths given was changed through a link")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "app", "frontend.yaml")); string(after) == string(pods) {
		t.Error("one file that could not be written stopped the others")
	}
}

// TestFixWriteSurvivesKill kills `rampart fix --write` at random moments on
// a tree of several files: every file is then either as it was or fully
// fixed, never cut.
func TestFixWriteSurvivesKill(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rampart").CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	orig := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join("..", "..", "examples", "insecure"), orig)
	// A temporary file a kill left behind is hidden and never read.
	read := func(dir string) map[string]string { return readFolder(dir, false) }
	before := read(orig)
	fixedDir := filepath.Join(t.TempDir(), "app")
	copyTree(t, orig, fixedDir)
	start := time.Now()
	if out, err := exec.Command(bin, "fix", "--write", "--breaking", fixedDir).CombinedOutput(); err != nil {
		t.Fatalf("fix: %v\n%s", err, out)
	}
	took := time.Since(start)
	fixed := read(fixedDir)
	changed := 0
	for name := range fixed {
		if fixed[name] != before[name] {
			changed++
		}
	}
	if changed < 3 {
		t.Fatalf("only %d files change: the test would prove little", changed)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 25; i++ {
		dir := filepath.Join(t.TempDir(), "app")
		copyTree(t, orig, dir)
		cmd := exec.Command(bin, "fix", "--write", "--breaking", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(took) + 1)))
		// Ctrl-C, a CI job's cancellation, or the OOM killer.
		_ = cmd.Process.Signal([]os.Signal{os.Interrupt, syscall.SIGTERM, os.Kill}[i%3])
		_ = cmd.Wait()
		for name, got := range read(dir) {
			if got != before[name] && got != fixed[name] {
				t.Fatalf("run %d: %s is neither the original nor the fixed file (%d bytes)", i, name, len(got))
			}
		}
	}
}

// readFolder returns the content of each file of dir by name; hidden files
// only with hidden.
func readFolder(dir string, hidden bool) map[string]string {
	m := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !hidden && strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		m[e.Name()] = string(data)
	}
	return m
}

// TestFixWriteErrorMidTree injects a failing write (half the data, then
// "no space left") at each write of fix --write on a tree of several
// files in turn: the file being written stays as it was, no temporary file
// is left, every other file is either as it was or fully fixed, the failure
// is reported naming the file, and the exit code says so.
func TestFixWriteErrorMidTree(t *testing.T) {
	orig := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join("..", "..", "examples", "insecure"), orig)
	read := func(dir string) map[string]string { return readFolder(dir, true) }
	before := read(orig)
	fixedDir := filepath.Join(t.TempDir(), "app")
	copyTree(t, orig, fixedDir)
	if r := rampart(t, "", "fix", "--write", "--breaking", fixedDir); r.code != ExitOK {
		t.Fatalf("fix: exit %d\n%s", r.code, r.stderr)
	}
	fixed := read(fixedDir)
	writes := 0
	for name := range fixed {
		if fixed[name] != before[name] {
			writes++
		}
	}
	if writes < 3 {
		t.Fatalf("only %d files written: the test would prove little", writes)
	}
	for n := 1; n <= writes; n++ {
		dir := filepath.Join(t.TempDir(), "app")
		copyTree(t, orig, dir)
		restore := file.FailWriteForTest(n)
		r := rampart(t, "", "fix", "--write", "--breaking", dir)
		restore()
		if r.code != ExitError || !strings.Contains(r.stderr, "no space left") {
			t.Errorf("write %d failing: exit %d, stderr:\n%s", n, r.code, r.stderr)
		}
		got := read(dir)
		unwritten := 0
		for name, content := range got {
			switch {
			case strings.HasPrefix(name, "."):
				t.Errorf("write %d failing: temporary file %s left", n, name)
			case content == fixed[name] && content != before[name]:
			case content == before[name]:
				if fixed[name] != before[name] {
					unwritten++
					if !strings.Contains(r.stderr, name) {
						t.Errorf("write %d failing: %s was not written and the error does not name it:\n%s", n, name, r.stderr)
					}
				}
			default:
				t.Errorf("write %d failing: %s is neither the original nor the fixed file", n, name)
			}
		}
		for name := range fixed {
			if _, ok := got[name]; !ok {
				unwritten++ // a new file (the generated one) not created
				if !strings.Contains(r.stderr, name) {
					t.Errorf("write %d failing: %s was not created and the error does not name it:\n%s", n, name, r.stderr)
				}
			}
		}
		if unwritten != 1 {
			t.Errorf("write %d failing: %d files left unwritten, want exactly the one whose write failed", n, unwritten)
		}
	}
}

// TestFixKeepsLineEndsAndBOM: a CRLF file with a byte order mark is fixed
// with CRLF line ends and its mark, and otherwise exactly as its LF twin.
func TestFixKeepsLineEndsAndBOM(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "insecure", "frontend.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lf := filepath.Join(t.TempDir(), "lf.yaml")
	crlf := filepath.Join(t.TempDir(), "crlf.yaml")
	if err := os.WriteFile(lf, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crlf, []byte("\ufeff"+strings.ReplaceAll(string(src), "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{lf, crlf} {
		if r := rampart(t, "", "fix", "--write", "--no-generate", f); r.code != ExitOK {
			t.Fatalf("fix %s: exit %d %s", f, r.code, r.stderr)
		}
	}
	a, _ := os.ReadFile(lf)
	b, _ := os.ReadFile(crlf)
	if string(a) == string(src) {
		t.Fatal("nothing was fixed: the test would prove little")
	}
	if want := "\ufeff" + strings.ReplaceAll(string(a), "\n", "\r\n"); string(b) != want {
		t.Errorf("CRLF file after fix differs from its LF twin with CRLF and BOM:\n%q", b)
	}
}

// TestGeneratedPoliciesSelectByLastingLabels: generated NetworkPolicies do
// not select by labels that change with each release, and input that names
// no namespace gets policies that name none.
func TestGeneratedPoliciesSelectByLastingLabels(t *testing.T) {
	dir := t.TempDir()
	app := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, app.kubernetes.io/version: "1.4.2", helm.sh/chart: web-0.3.1, pod-template-hash: 5d4f9}
    spec: {containers: [{name: web, image: nginx:1.27}]}
`
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := rampart(t, "", "fix", "--write", dir); r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "rampart-generated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(gen)
	if !strings.Contains(text, "kind: NetworkPolicy") || !strings.Contains(text, "app: web") {
		t.Fatalf("no policy selecting app: web:\n%s", text)
	}
	for _, bad := range []string{"app.kubernetes.io/version", "helm.sh/chart", "pod-template-hash", "namespace: default"} {
		if strings.Contains(text, bad) {
			t.Errorf("generated file holds %q:\n%s", bad, text)
		}
	}
}

// TestFixLeavesSharedAnchorsAlone: a securityContext shared through a YAML
// anchor is not edited through its alias (that would give the pod-level
// context container-only fields); the fix is listed as not made, with why.
func TestFixLeavesSharedAnchorsAlone(t *testing.T) {
	const anchored = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  securityContext: &sc
    runAsNonRoot: true
  containers:
  - name: c
    image: nginx:1.27
    securityContext: *sc
`
	file := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(file, []byte(anchored), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rampart(t, "", "fix", "--write", "--no-generate", file)
	if r.code != ExitOK || !strings.Contains(r.stderr, "YAML alias *sc") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(file)
	if !strings.Contains(string(data), "  securityContext: &sc\n    runAsNonRoot: true\n  containers:") || !strings.Contains(string(data), "securityContext: *sc\n") {
		t.Errorf("the anchored mapping or its alias was edited:\n%s", data)
	}
	if rr := rampart(t, "", "scan", file, "--fail-on", "none", "-o", "compact"); rr.code != ExitOK {
		t.Errorf("the fixed file does not scan: exit %d %s", rr.code, rr.stdout)
	}
}

// TestFixKeepsJSONFilesJSON: a JSON manifest is fixed with JSON syntax and
// stays valid JSON; one laid out over many lines is left valid too.
func TestFixKeepsJSONFilesJSON(t *testing.T) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"nginx:1.27","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN"]}}}]}}`
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(pod), "", "  "); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"line.json": pod + "\n", "pretty.json": pretty.String() + "\n"} {
		file := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := rampart(t, "", "fix", "--write", "--breaking", "--no-generate", file); r.code != ExitOK {
			t.Fatalf("%s: exit %d %s", name, r.code, r.stderr)
		}
		data, _ := os.ReadFile(file)
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s is no longer JSON: %v\n%s", name, err, data)
		}
		if name == "line.json" && (string(data) == content || !strings.Contains(string(data), `"allowPrivilegeEscalation": false`)) {
			t.Errorf("%s was not fixed:\n%s", name, data)
		}
	}
}

// TestFixGeneratesMissingServiceAccounts: a workload that already runs as a
// ServiceAccount named after it (set by an earlier fix whose generated file
// is gone, or made with --no-generate) gets it generated; one the input
// already has, in the namespace the workload lands in, is not generated.
func TestFixGeneratesMissingServiceAccounts(t *testing.T) {
	const app = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
`
	t.Run("after --no-generate", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(app), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := rampart(t, "", "fix", "--write", "--no-generate", dir); r.code != ExitOK {
			t.Fatalf("exit %d %s", r.code, r.stderr)
		}
		if r := rampart(t, "", "fix", "--write", dir); r.code != ExitOK {
			t.Fatalf("exit %d %s", r.code, r.stderr)
		}
		gen, err := os.ReadFile(filepath.Join(dir, "rampart-generated.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(gen), "kind: ServiceAccount") || !strings.Contains(string(gen), "name: web") {
			t.Errorf("no ServiceAccount web generated:\n%s", gen)
		}
	})
	t.Run("the input has it in -n's namespace", func(t *testing.T) {
		dir := t.TempDir()
		sa := "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: prod}\n"
		if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(app+"---\n"+sa), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := rampart(t, "", "fix", "--write", "-n", "prod", dir); r.code != ExitOK {
			t.Fatalf("exit %d %s", r.code, r.stderr)
		}
		gen, _ := os.ReadFile(filepath.Join(dir, "rampart-generated.yaml"))
		if strings.Contains(string(gen), "kind: ServiceAccount") {
			t.Errorf("generated a ServiceAccount the input has:\n%s", gen)
		}
	})
}
