package check

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoScan: the catalog's vocabulary depends on the findings'
// model and the object view only, never on the inventory of a scan, so a
// webhook, an audit detector or a CIS runner can judge objects with it.
func TestImportsNoScan(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/rampart-k8s/rampart/pkg/finding":  true,
		"github.com/rampart-k8s/rampart/pkg/object":   true,
		"github.com/rampart-k8s/rampart/pkg/manifest": true, // through object; the positions
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/rampart-k8s/rampart/") && !allowed[imp] {
			t.Errorf("pkg/check imports %s", imp)
		}
	}
}
