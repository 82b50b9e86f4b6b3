package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixDiffsApply: every diff fix prints for the fix goldens (and for the
// files it would create) is accepted by git apply --check and patch -p1,
// also when the input's last line has no newline.
func TestFixDiffsApply(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join("..", "..", "pkg", "checks", "testdata", "*", "fix", "in.yaml"))
	if len(goldens) < 20 {
		t.Fatalf("%d fix goldens found", len(goldens))
	}
	// The text-fidelity inputs too (CRLF, CR, BOM, JSON, merge keys); the
	// aliases one has no diff (nothing is edited through an anchor).
	fidelity, _ := filepath.Glob(filepath.Join("..", "..", "pkg", "fix", "testdata", "fidelity", "*"))
	for _, f := range fidelity {
		if !strings.HasSuffix(f, ".out") && !strings.Contains(f, "aliases") {
			goldens = append(goldens, f)
		}
	}
	for _, g := range goldens {
		file := filepath.Base(g)
		label := filepath.Base(filepath.Dir(filepath.Dir(g)))
		if file != "in.yaml" {
			label = file
		}
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range []string{"", "no final newline"} {
			name := label + " " + variant
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				content := string(data)
				if variant != "" {
					content = strings.TrimRight(content, "\r\n")
				}
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Chdir(dir)
				r := rampart(t, "", "fix", "--breaking", file)
				if r.code != ExitOK || !strings.Contains(r.stdout, "+++ b/"+file) {
					t.Fatalf("exit %d, diff:\n%s\n%s", r.code, r.stdout, r.stderr)
				}
				if err := os.WriteFile(filepath.Join(dir, "fix.patch"), []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, cmd := range [][]string{{"git", "apply", "--check", "fix.patch"}, {"patch", "-p1", "--dry-run", "-i", "fix.patch"}} {
					if _, err := exec.LookPath(cmd[0]); err != nil {
						t.Fatalf("%s is not installed", cmd[0])
					}
					c := exec.Command(cmd[0], cmd[1:]...)
					c.Dir = dir
					if out, err := c.CombinedOutput(); err != nil {
						t.Errorf("%s: %v\n%s\npatch:\n%s", strings.Join(cmd, " "), err, out, r.stdout)
					}
				}
			})
		}
	}
}
