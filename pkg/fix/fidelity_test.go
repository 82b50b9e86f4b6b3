package fix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// TestFidelityGoldens: fix keeps what it does not mean to change. For every
// testdata/fidelity input, fixing privileged and allowPrivilegeEscalation
// gives the .golden file byte for byte, and: line ends (LF, CRLF, CR) and a
// BOM are kept, JSON stays valid JSON, nothing is edited through an anchor
// or alias (the finding is listed as not made, naming it), merge keys are
// read as kubectl reads them (a local override wins), the result parses,
// and a second fix changes nothing.
func TestFidelityGoldens(t *testing.T) {
	ins, _ := filepath.Glob("testdata/fidelity/*")
	n := 0
	for _, in := range ins {
		if strings.HasSuffix(in, ".golden") {
			continue
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, res := fixFidelity(t, filepath.Base(in), string(src))
			golden := in + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden (go test ./pkg/fix -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("fix differs from %s:\n%q", golden, got)
			}
			base := filepath.Base(in)
			switch {
			case strings.Contains(base, "crlf"):
				if strings.Count(got, "\n") != strings.Count(got, "\r\n") || !strings.Contains(got, "\r\n") {
					t.Error("CRLF line ends not kept")
				}
			case strings.HasPrefix(base, "cr."):
				if strings.Contains(got, "\n") || !strings.Contains(got, "\r") {
					t.Error("CR line ends not kept")
				}
			default:
				if strings.Contains(got, "\r") {
					t.Error("CR added to an LF file")
				}
			}
			if strings.HasPrefix(base, "bom") != strings.HasPrefix(got, "\ufeff") {
				t.Error("BOM not kept (or added)")
			}
			if strings.HasSuffix(base, ".json") && !json.Valid([]byte(got)) {
				t.Errorf("not JSON any more:\n%s", got)
			}
			if strings.HasPrefix(base, "aliases") {
				if got != string(src) {
					t.Error("a field shared through an anchor was edited")
				}
				named := false
				for _, p := range res.Pending {
					named = named || strings.Contains(p.Reason, "&sc") || strings.Contains(p.Reason, "*sc")
				}
				if !named {
					t.Errorf("the findings not made do not name the anchor: %+v", res.Pending)
				}
			} else if got == string(src) {
				t.Error("the fix changed nothing")
			}
			if _, errs := manifest.Parse(base, []byte(got)); len(errs) > 0 {
				t.Errorf("the fixed file does not parse: %v", errs)
			}
			if again, _ := fixFidelity(t, base, got); again != got {
				t.Errorf("fixing twice changed the file again:\n%q", again)
			}
		})
	}
	if n < 7 {
		t.Fatalf("only %d fidelity inputs", n)
	}
}

func fixFidelity(t *testing.T, name, src string) (string, *Result) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Files([]string{p}, checks.Builtin(), restricted, Options{Breaking: true, NoGenerate: true,
		Only: []string{"pss-privileged", "pss-allow-privilege-escalation"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if f.Name == p {
			return f.After, res
		}
	}
	return src, res
}
