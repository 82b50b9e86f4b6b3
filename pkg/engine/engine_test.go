package engine

import (
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

func inv(t *testing.T, docs string) *inventory.Inventory {
	t.Helper()
	objs, errs := manifest.Parse("in.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return inventory.New(objs)
}

const twoObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: b}
---
apiVersion: v1
kind: Secret
metadata: {name: a}
`

func fixed(id string, sev check.Severity, kinds ...string) check.Check {
	return check.Check{
		ID: id, Title: "t", Severity: sev, Category: "test", Description: "d", Remediation: "Fix it.",
		Scope: check.Scope{Kinds: kinds},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			return []check.Finding{check.NewFinding(o, "metadata.name", "found "+o.Name)}
		},
	}
}

func TestRunCompletesSortsAndJudges(t *testing.T) {
	high, medium := check.High, check.Medium
	cs := []check.Check{fixed("z-medium", check.Medium), fixed("a-high-secrets", check.High, "Secret")}
	tests := []struct {
		name       string
		failOn     *check.Severity
		wantFailed bool
	}{
		{"fail on high", &high, true},
		{"fail on medium", &medium, true},
		{"never fail", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Run(cs, inv(t, twoObjects), Options{FailOn: tt.failOn})
			if res.Summary.Failed != tt.wantFailed {
				t.Errorf("failed=%v, want %v", res.Summary.Failed, tt.wantFailed)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.CheckID+"@"+f.Object.Name)
				if f.Remediation != "Fix it." || f.Title != "t" {
					t.Errorf("finding not completed from its check: %+v", f)
				}
			}
			if want := "z-medium@b,a-high-secrets@a,z-medium@a"; strings.Join(got, ",") != want {
				t.Errorf("findings %v, want %s (file order, then check)", got, want)
			}
			if res.Summary.BySeverity["high"] != 1 || res.Summary.BySeverity["medium"] != 2 || res.Summary.BySeverity["critical"] != 0 {
				t.Errorf("bySeverity %v", res.Summary.BySeverity)
			}
			if len(res.Objects) != 2 || len(res.Objects[0].Checks) != 1 || len(res.Objects[1].Checks) != 2 {
				t.Errorf("evaluated %+v: scope not applied", res.Objects)
			}
		})
	}
}

func TestPanickingCheckIsAnErrorNotACrash(t *testing.T) {
	boom := fixed("boom", check.High)
	boom.Run = func(*check.Context, *object.Object) []check.Finding { panic("bad check") }
	res := Run([]check.Check{boom, fixed("ok", check.Low)}, inv(t, twoObjects), Options{})
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[0].Message, "internal error in check boom") {
		t.Errorf("errors %v, want one per object naming the check", res.Errors)
	}
	if len(res.Findings) != 2 {
		t.Errorf("the other check's findings were lost: %v", res.Findings)
	}
}

func TestFindingsSortedAcrossFilesGivenOutOfOrder(t *testing.T) {
	a, _ := manifest.Parse("a.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	b, _ := manifest.Parse("b.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"))
	res := Run([]check.Check{fixed("x", check.Low)}, inventory.New(append(b, a...)), Options{})
	if len(res.Findings) != 2 || res.Findings[0].Location.File != "a.yaml" {
		t.Errorf("findings not sorted by file: %+v", res.Findings)
	}
}

// TestTargetsJudgedAgainstContext: with Target set, only the targets get
// findings and are counted; the other objects are there as context.
func TestTargetsJudgedAgainstContext(t *testing.T) {
	a, _ := manifest.Parse("a.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	b, _ := manifest.Parse("b.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"))
	res := Run([]check.Check{fixed("x", check.Low)}, inventory.New(append(a, b...)), Options{
		Target: func(o *manifest.Object) bool { return o.Name == "b" },
	})
	if len(res.Findings) != 1 || res.Findings[0].Object.Name != "b" || res.Summary.Objects != 1 || len(res.Objects) != 1 {
		t.Errorf("findings %+v, summary %+v, objects %d", res.Findings, res.Summary, len(res.Objects))
	}
}
