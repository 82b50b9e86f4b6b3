package fix

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

var update = flag.Bool("update", false, "rewrite the fix goldens")

var restricted = engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}

func fixOne(t *testing.T, src, only string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Files([]string{p}, checks.Builtin(), restricted, Options{Breaking: true, Only: []string{only}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) == 0 {
		return src
	}
	return res.Files[0].After
}

// TestFixGoldens: for every testdata/<check-id>/fix/in.yaml, fixing that
// check gives out.yaml; fixing out.yaml again changes nothing; the result
// parses and no longer raises the check.
func TestFixGoldens(t *testing.T) {
	ins, _ := filepath.Glob("../checks/testdata/*/fix/in.yaml")
	if len(ins) < 9 {
		t.Fatalf("only %d fix goldens", len(ins))
	}
	for _, in := range ins {
		id := filepath.Base(filepath.Dir(filepath.Dir(in)))
		t.Run(id, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := fixOne(t, string(src), id)
			outPath := filepath.Join(filepath.Dir(in), "out.yaml")
			if *update {
				if err := os.WriteFile(outPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("missing golden (go test ./pkg/fix -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("fix differs from %s:\n%s", outPath, got)
			}
			if got == string(src) {
				t.Error("the fix changed nothing")
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(got), &n); err != nil {
				t.Errorf("fixed file is not YAML: %v", err)
			}
			if again := fixOne(t, got, id); again != got {
				t.Errorf("fixing twice changed the file again:\n%s", again)
			}
			// Every line of the input is still there, in order: fixes only add
			// lines or change the values they fix.
			changed := 0
			gotLines := strings.Split(got, "\n")
			j := 0
			for _, l := range strings.Split(string(src), "\n") {
				for j < len(gotLines) && gotLines[j] != l {
					j++
				}
				if j == len(gotLines) {
					changed++
					j = 0
				}
			}
			if changed > 4 { // a reformatted file would change nearly every line
				t.Errorf("%d input lines changed; a fix should change at most the values it fixes", changed)
			}
		})
	}
}
