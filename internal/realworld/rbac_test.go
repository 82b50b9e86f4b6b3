package realworld

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScanAgreesWithRbacRisky: over every input of the corpus, the
// rbac-escalation-path findings of scan are rbac risky's answer: the same
// subjects, the same goals, the same chains, step for step.
func TestScanAgreesWithRbacRisky(t *testing.T) {
	compared, chains := 0, 0
	// The project's own RBAC fixtures and examples first, then the corpus.
	own, _ := filepath.Glob(filepath.Join("..", "..", "pkg", "checks", "testdata", "rbac-*", "*.yaml"))
	own = append(own, filepath.Join("..", "..", "examples"))
	var paths []string
	for _, m := range Corpus {
		dir, err := Fetch(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range m.Inputs {
			paths = append(paths, Path(dir, in))
		}
	}
	for _, path := range append(own, paths...) {
		out, _, _ := run(t, "scan", path, "--disable", "all", "--enable", "rbac-escalation-path", "-o", "json", "--fail-on", "none")
		var scan struct {
			Findings []struct {
				Message string `json:"message"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &scan); err != nil {
			t.Fatalf("%s: scan: %v", path, err)
		}
		riskyOut, _, _ := run(t, "rbac", "risky", path, "-o", "json")
		var risky []struct {
			Subject string
			Paths   []struct {
				Goal  string
				Steps []struct{ From, Action string }
			}
		}
		if err := json.Unmarshal([]byte(riskyOut), &risky); err != nil {
			t.Fatalf("%s: rbac risky: %v\n%s", path, err, riskyOut)
		}
		var want, got []string
		for _, r := range risky {
			if len(r.Paths) == 0 || len(r.Paths[0].Steps) < 2 {
				continue // direct power is the per-rule checks'
			}
			var steps []string
			for _, s := range r.Paths[0].Steps {
				steps = append(steps, s.From+" "+s.Action)
			}
			want = append(want, r.Subject+" reaches "+r.Paths[0].Goal+": "+strings.Join(steps, "; then "))
		}
		for _, f := range scan.Findings {
			got = append(got, f.Message)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: scan reports\n  %s\nrbac risky says\n  %s", path, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		compared++
		chains += len(want)
	}
	t.Logf("%d inputs, %d escalation chains, scan and rbac risky agree", compared, chains)
	if chains == 0 {
		t.Error("no escalation chain in the whole corpus: the test proves nothing")
	}
}
