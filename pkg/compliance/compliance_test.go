package compliance

import (
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/audit"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// knownChecks are the IDs a framework may reference: the scan catalog, the
// image checks and the CIS controls (cis-ID).
func knownChecks(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	reg, err := checks.Registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range reg.Checks() {
		known[c.ID] = true
	}
	for _, id := range []string{image.CheckVulnerability, image.CheckRunsAsRoot, image.CheckShell, image.CheckPackageManager, image.CheckEndOfLife, image.CheckSecret, image.CheckNotMinimal} {
		known[id] = true
	}
	b, err := cis.Load(CISFramework)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Controls {
		known["cis-"+c.ID] = true
	}
	return known
}

// TestEveryControlIsAccountedFor: every control of every framework has one
// status rule (checks, manual with guidance, or not applicable with the
// reason), and every check and detection it names exists.
func TestEveryControlIsAccountedFor(t *testing.T) {
	known := knownChecks(t)
	rules, err := audit.Builtin().Compile()
	if err != nil {
		t.Fatal(err)
	}
	detections := map[string]bool{}
	for _, r := range rules {
		detections[r.Name] = true
	}
	want := map[string]int{"cis-1.12": 131, "nsa-cisa-1.2": 25, "mitre-attack-containers": 40, "pci-dss-4.0": 20, "soc2": 20, "hipaa": 20}
	if got := Names(); len(got) != len(want) {
		t.Errorf("frameworks %v, want %d", got, len(want))
	}
	for _, name := range Names() {
		f, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Controls) < want[name] {
			t.Errorf("%s: %d controls, want at least %d", name, len(f.Controls), want[name])
		}
		if f.Name == "" || f.Scope == "" || f.URL == "" {
			t.Errorf("%s: needs a name, a scope and a URL", name)
		}
		for _, c := range f.Controls {
			if err := c.valid(); err != nil {
				t.Errorf("%s %s: %v", name, c.ID, err)
			}
			for _, id := range c.Checks {
				if !known[id] {
					t.Errorf("%s %s: unknown check %q", name, c.ID, id)
				}
			}
			for _, d := range c.Detections {
				if !detections[d] {
					t.Errorf("%s %s: unknown audit rule %q", name, c.ID, d)
				}
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no rule", "id: x\nname: X\ncontrols:\n- id: a\n  title: A\n", "exactly one status rule"},
		{"two rules", "id: x\nname: X\ncontrols:\n- id: a\n  title: A\n  checks: [pss-privileged]\n  manual: look\n", "exactly one status rule"},
		{"guidance without checks", "id: x\nname: X\ncontrols:\n- id: a\n  title: A\n  manual: look\n  guidance: more\n", "guidance goes with checks"},
		{"twice", "id: x\nname: X\ncontrols:\n- id: a\n  title: A\n  manual: m\n- id: a\n  title: A\n  manual: m\n", "listed twice"},
		{"unknown field", "id: x\nname: X\ncontrols:\n- id: a\n  title: A\n  manul: m\n", "unknown field"},
		{"wrong id", "id: other\nname: X\n", `id is "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("x", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "nsa-cisa-1.2") {
		t.Errorf("Load(nope) = %v, want the list of frameworks", err)
	}
}

func ref(kind, ns, name string) finding.ObjectRef {
	return finding.ObjectRef{APIVersion: "apps/v1", Kind: kind, Namespace: ns, Name: name}
}

// TestStatus: the status rules, including that nothing evaluated never passes.
func TestStatus(t *testing.T) {
	fw := &Framework{ID: "t", Controls: []Control{
		{ID: "fails", Title: "t", Checks: []string{"pss-privileged", "pss-host-ports"}},
		{ID: "passes", Title: "t", Checks: []string{"pss-host-ports"}},
		{ID: "nothing-applied", Title: "t", Checks: []string{"rbac-wildcard-verbs"}},
		{ID: "part-evaluated", Title: "t", Checks: []string{"pss-host-ports", "image-vulnerability"}},
		{ID: "suppressed-passes", Title: "t", Checks: []string{"secret-env-var"}},
		{ID: "manual", Title: "t", Manual: "ask"},
		{ID: "na", Title: "t", NotApplicable: "physical"},
		{ID: "cis-pass", Title: "t", Checks: []string{"cis-1.2.1"}},
		{ID: "cis-fail", Title: "t", Checks: []string{"cis-1.2.2"}},
		{ID: "cis-warn", Title: "t", Checks: []string{"cis-1.2.3"}},
		{ID: "cis-missing", Title: "t", Checks: []string{"cis-1.2.4"}},
		{ID: "cis-not-evaluated", Title: "t", Checks: []string{"cis-1.2.5"}},
	}}
	dep := ref("Deployment", "shop", "web")
	res := &engine.Result{
		Objects:    []engine.Evaluated{{Object: dep, Checks: []string{"pss-privileged", "pss-host-ports", "secret-env-var"}}},
		Findings:   []check.Finding{{CheckID: "pss-privileged", Object: dep, Field: "spec.template.spec.containers[0].securityContext.privileged", Location: &finding.Location{File: "web.yaml", Line: 12}}},
		Suppressed: []suppress.Suppressed{{Finding: check.Finding{CheckID: "secret-env-var", Object: dep}, By: "annotation", Justification: "legacy app"}},
	}
	in := Input{Result: res, CIS: []cis.Result{
		{ID: "1.2.1", Status: cis.Pass}, {ID: "1.2.2", Status: cis.Fail}, {ID: "1.2.3", Status: cis.Warn, Reason: "check by hand"},
		{ID: "1.2.5", Status: cis.NotEvaluated, Reason: "forbidden: get nodes/configz"},
	}, CISWhy: "needs --root or --cluster"}
	rep := Evaluate(fw, in)
	if len(rep.Controls) != len(fw.Controls) {
		t.Fatalf("%d results for %d controls", len(rep.Controls), len(fw.Controls))
	}
	want := map[string]Status{"fails": Fail, "passes": Pass, "nothing-applied": NotEvaluated, "part-evaluated": Pass,
		"suppressed-passes": Pass, "manual": Manual, "na": NotApplicable, "cis-pass": Pass, "cis-fail": Fail, "cis-warn": Manual,
		"cis-missing": NotEvaluated, "cis-not-evaluated": NotEvaluated}
	for _, c := range rep.Controls {
		if c.Status != want[c.ID] {
			t.Errorf("%s: %s, want %s", c.ID, c.Status, want[c.ID])
		}
		switch c.ID {
		case "fails":
			if ev := c.Checks[0].Evidence; len(ev) != 1 || !strings.Contains(ev[0], "web.yaml:12") || !strings.Contains(ev[0], "privileged") {
				t.Errorf("fails: evidence %v, want the object, field and file:line", ev)
			}
		case "part-evaluated":
			if c.Checks[1].Status != NotEvaluated || !strings.Contains(c.Checks[1].Reason, "--images") {
				t.Errorf("part-evaluated: image check %+v, want not evaluated for want of --images", c.Checks[1])
			}
		case "suppressed-passes":
			if ev := c.Checks[0].Evidence; len(ev) != 1 || !strings.Contains(ev[0], "legacy app") {
				t.Errorf("suppressed: evidence %v, want the reason", ev)
			}
		case "cis-missing":
			if c.Checks[0].Reason != "needs --root or --cluster" {
				t.Errorf("cis-missing: reason %q", c.Checks[0].Reason)
			}
		case "cis-not-evaluated":
			if c.Checks[0].Reason != "forbidden: get nodes/configz" {
				t.Errorf("cis-not-evaluated: reason %q", c.Checks[0].Reason)
			}
		}
	}
	if rep.Summary[Pass] != 4 || rep.Summary[Fail] != 2 || rep.Summary[NotEvaluated] != 3 {
		t.Errorf("summary %v", rep.Summary)
	}
	// With no input at all, nothing passes.
	for _, name := range Names() {
		f, _ := Load(name)
		for _, c := range Evaluate(f, Input{}).Controls {
			if c.Status == Pass {
				t.Errorf("%s %s passes with nothing evaluated", name, c.ID)
			}
		}
	}
}
