package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/compliance"
)

var updateCompliance = flag.Bool("update-compliance", false, "rewrite the compliance goldens")

// TestComplianceExamples: the insecure example fails controls of every
// framework and the hardened one fails none; JSON lists every control.
func TestComplianceExamples(t *testing.T) {
	t.Chdir("../..")
	for _, name := range compliance.Names() {
		fw, err := compliance.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			bad := rampart(t, "", "compliance", "--framework", name, "examples/insecure", "-o", "json")
			if bad.code != 1 {
				t.Fatalf("insecure: exit %d, want 1\n%s", bad.code, bad.stderr)
			}
			var rep compliance.Report
			if err := json.Unmarshal([]byte(bad.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Controls) != len(fw.Controls) || rep.Summary[compliance.Fail] == 0 {
				t.Errorf("insecure: %d controls of %d, summary %v", len(rep.Controls), len(fw.Controls), rep.Summary)
			}
			good := rampart(t, "", "compliance", "--framework", name, "examples/hardened", "-o", "json")
			if good.code != 0 {
				t.Errorf("hardened: exit %d, want 0\n%s", good.code, good.stdout)
			}
		})
	}
}

func TestComplianceGoldens(t *testing.T) {
	t.Chdir("../..")
	for _, format := range []string{"text", "markdown"} {
		r := rampart(t, "", "compliance", "--framework", "nsa-cisa-1.2", "examples/insecure", "-o", format)
		if r.code != 1 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden := filepath.Join("internal", "cli", "testdata", "compliance", "nsa-insecure."+format)
		if *updateCompliance {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update-compliance)", err)
		}
		if r.stdout != string(want) {
			t.Errorf("%s output differs from %s (run with -update-compliance and review the diff)", format, golden)
		}
	}
}

func TestComplianceUsage(t *testing.T) {
	list := rampart(t, "", "compliance", "--list")
	if list.code != 0 || strings.Count(list.stdout, "\n") != len(compliance.Names()) {
		t.Errorf("--list: exit %d\n%s", list.code, list.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compliance", "../../examples"}, "--framework is required"},
		{[]string{"compliance", "--framework", "gdpr", "../../examples"}, `unknown framework "gdpr"`},
		{[]string{"compliance", "--framework", "soc2", "-o", "sarif", "../../examples"}, `unknown output "sarif"`},
		{[]string{"compliance", "--framework", "soc2", "--root", "/", "--cluster"}, "give one"},
		{[]string{"report", "../../examples"}, "-o FILE.html is required"},
		{[]string{"report", "-o", filepath.Join(t.TempDir(), "r.html"), "--framework", "nope", "../../examples"}, `unknown framework "nope"`},
	} {
		r := rampart(t, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestComplianceCISFromNode: with --root, the CIS framework takes the node's
// results (the fixture node of pkg/cis passes every automated control).
func TestComplianceCISFromNode(t *testing.T) {
	root := cisTree(t, nil)
	r := rampart(t, "", "compliance", "--framework", "cis-1.12", "--root", root, "-o", "json")
	var rep compliance.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s", r.code, err, r.stderr)
	}
	for _, c := range rep.Controls {
		if strings.HasPrefix(c.ID, "1.") && c.Status == compliance.NotEvaluated {
			t.Errorf("%s not evaluated with --root: %+v", c.ID, c.Checks)
		}
	}
	if rep.Summary[compliance.Pass] < 60 {
		t.Errorf("summary %v: want the automated node controls passing", rep.Summary)
	}
}

// TestReportCommand writes the combined page; the browser test opens it.
func TestReportCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.html")
	r := rampart(t, "", "report", "-o", out, "--framework", "mitre-attack-containers", "../../examples")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"graphs":[{"id":"rbac"`, `"id":"netpol"`, `"framework":{"id":"mitre-attack-containers"`, "Content-Security-Policy"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
