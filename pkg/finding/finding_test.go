package finding

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf: the vocabulary imports no package of the project, so that
// every analyzer can report in it.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/rampart-k8s/rampart/") {
			t.Errorf("pkg/finding imports %s", imp)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for s := Info; s <= Critical; s++ {
		b, _ := json.Marshal(s)
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%v: %s -> %v, %v", s, b, back, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("an unknown severity was accepted")
	}
	if got := (Location{File: "a.yaml", Line: 3, Column: 5}).String(); got != "a.yaml:3:5" {
		t.Errorf("location %q", got)
	}
	f := Finding{CheckID: "c", Object: ObjectRef{Kind: "Pod", Namespace: "ns", Name: "p"}, Field: "spec"}
	if f.Key() != "c|Pod/ns/p|spec" {
		t.Errorf("key %q", f.Key())
	}
}
