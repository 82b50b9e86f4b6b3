package cli

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
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
		if !strings.HasSuffix(f, ".golden") && !strings.Contains(f, "aliases") {
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

// TestOpCodesByDocument: the edits computed document by document rebuild
// the new file from the old, and the hunks hold every change, with the
// same hunks as difflib's whole-file grouping when it finds the same edits.
func TestOpCodesByDocument(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		var a []string
		docs := 1 + rng.IntN(6)
		for d := 0; d < docs; d++ {
			if d > 0 {
				a = append(a, "---\n")
			}
			for l := 0; l < 1+rng.IntN(12); l++ {
				a = append(a, fmt.Sprintf("  key%d: v\n", rng.IntN(5)))
			}
		}
		var b []string
		for _, l := range a {
			switch r := rng.IntN(10); {
			case l == "---\n" || r > 2:
				b = append(b, l)
			case r == 0: // delete
			case r == 1:
				b = append(b, "  changed: x\n")
			case r == 2:
				b = append(b, l, "  added: y\n")
			}
		}
		codes := opCodes(a, b)
		var rebuilt []string
		for _, op := range codes {
			if op.Tag == 'e' {
				if !slices.Equal(a[op.I1:op.I2], b[op.J1:op.J2]) {
					t.Fatalf("round %d: an equal range differs", round)
				}
				rebuilt = append(rebuilt, a[op.I1:op.I2]...)
			} else {
				rebuilt = append(rebuilt, b[op.J1:op.J2]...)
			}
		}
		if !slices.Equal(rebuilt, b) {
			t.Fatalf("round %d: the edits do not rebuild the new file", round)
		}
		changed := 0
		for _, g := range groupOpCodes(codes, 3) {
			for _, op := range g {
				if op.Tag != 'e' {
					changed++
				}
			}
		}
		want := 0
		for _, op := range codes {
			if op.Tag != 'e' {
				want++
			}
		}
		if changed != want {
			t.Fatalf("round %d: hunks hold %d changes of %d", round, changed, want)
		}
		if docs == 1 {
			if got, exp := groupOpCodes(codes, 3), difflib.NewMatcher(a, b).GetGroupedOpCodes(3); fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Fatalf("round %d: hunks %v, difflib %v", round, got, exp)
			}
		}
	}
}
