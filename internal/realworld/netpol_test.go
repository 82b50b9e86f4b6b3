package realworld

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/source"
)

// TestFixKeepsWordpressDatabase: kustomize's public wordpress example,
// built as kustomize builds it and written as one plain file (fix writes
// NetworkPolicies for plain files), then fixed with --breaking: the
// generated policies keep wordpress -> mysql on 3306 (the Service named in
// WORDPRESS_DB_HOST), as netpol diff between the build and the fixed file
// shows, and cut what nothing names (mysql -> wordpress).
func TestFixKeepsWordpressDatabase(t *testing.T) {
	var mod Module
	for _, m := range Corpus {
		if m.Path == "sigs.k8s.io/kustomize" {
			mod = m
		}
	}
	dir, err := Fetch(mod)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs, _ := source.Kustomize(filepath.Join(dir, "examples", "wordpress"))
	if len(errs) > 0 {
		t.Fatalf("kustomize build: %v", errs)
	}
	var docs []string
	for _, o := range objs {
		if o.Typed == nil {
			continue
		}
		data, err := yaml.Marshal(o.Typed)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	if !strings.Contains(strings.Join(docs, ""), "value: demo-mysql") {
		t.Fatalf("the build does not name the database Service in WORDPRESS_DB_HOST:\n%s", strings.Join(docs, "---\n"))
	}
	work := t.TempDir()
	orig := filepath.Join(work, "orig")
	fixed := filepath.Join(work, "fixed")
	for _, d := range []string{orig, fixed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "wordpress.yaml"), []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := run(t, "fix", "--write", "--breaking", fixed); code != 0 {
		t.Fatalf("fix: exit %d\n%s", code, stderr)
	}
	out, stderr, code := run(t, "netpol", "diff", "-o", "json", orig, fixed)
	if code != 0 {
		t.Fatalf("netpol diff: exit %d\n%s", code, stderr)
	}
	var changes []struct {
		Added    bool
		From, To []string
		Ports    []struct {
			Protocol string
			From, To int32
		}
	}
	if err := json.Unmarshal([]byte(out), &changes); err != nil {
		t.Fatal(err)
	}
	cutBack := false
	for _, c := range changes {
		if c.Added {
			continue
		}
		wp, db := slices.Contains(c.From, "default/Deployment/demo-wordpress"), slices.Contains(c.To, "default/Deployment/demo-mysql")
		if wp && db {
			for _, p := range c.Ports {
				if p.Protocol == "TCP" && p.From <= 3306 && 3306 <= p.To {
					t.Errorf("wordpress -> mysql on TCP 3306 is cut")
				}
			}
		}
		if slices.Contains(c.From, "default/Deployment/demo-mysql") && slices.Contains(c.To, "default/Deployment/demo-wordpress") {
			cutBack = true
		}
	}
	if !cutBack {
		t.Errorf("mysql still reaches wordpress: the generated policies isolate nothing\n%s", out)
	}
}
