package cli

import (
	"encoding/json"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
)

// TestExamples: the insecure app raises at least one finding of every
// category; its hardened twin raises none at severity low or above, except
// ones suppressed with a reason.
func TestExamples(t *testing.T) {
	type out struct {
		Findings []struct {
			CheckID  string `json:"checkID"`
			Category string `json:"category"`
			Severity string `json:"severity"`
		} `json:"findings"`
		Suppressed []struct {
			CheckID       string `json:"checkID"`
			Justification string `json:"justification"`
		} `json:"suppressed"`
		Errors []any `json:"errors"`
	}
	scan := func(path string) (out, int) {
		r := rampart(t, "", "scan", path, "-o", "json", "--show-suppressed")
		var o out
		if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, r.stderr)
		}
		if len(o.Errors) > 0 {
			t.Errorf("%s: input errors %v", path, o.Errors)
		}
		return o, r.code
	}

	insecure, code := scan("../../examples/insecure")
	if code != ExitFindings {
		t.Errorf("insecure: exit %d, want %d", code, ExitFindings)
	}
	seen := map[string]bool{}
	for _, f := range insecure.Findings {
		seen[f.Category] = true
	}
	for _, c := range check.Categories {
		if !seen[string(c)] {
			t.Errorf("examples/insecure raises no finding of category %s", c)
		}
	}

	hardened, code := scan("../../examples/hardened")
	if code != ExitOK {
		t.Errorf("hardened: exit %d, want 0", code)
	}
	for _, f := range hardened.Findings {
		if sev, _ := check.ParseSeverity(f.Severity); sev >= check.Low {
			t.Errorf("examples/hardened raises %s (%s)", f.CheckID, f.Severity)
		}
	}
	if len(hardened.Suppressed) == 0 {
		t.Error("examples/hardened should show a suppression with its reason")
	}
	for _, s := range hardened.Suppressed {
		if s.Justification == "" {
			t.Errorf("suppressed %s without a reason", s.CheckID)
		}
	}
}
