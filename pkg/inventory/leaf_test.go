package inventory

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoAnalyzer: the inventory indexes objects; the analyzers (rbac,
// netpol, checks) read it, never the other way round.
func TestImportsNoAnalyzer(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/rampart-k8s/rampart/") && imp != "github.com/rampart-k8s/rampart/pkg/manifest" && imp != "github.com/rampart-k8s/rampart/pkg/object" {
			t.Errorf("pkg/inventory imports %s", imp)
		}
	}
}
