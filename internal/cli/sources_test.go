package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

type locatedFinding struct {
	CheckID string `json:"checkID"`
	Message string `json:"message"`
	Object  struct {
		Kind, Namespace, Name string
	} `json:"object"`
	Location struct {
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"location"`
}

func scanFindings(t *testing.T, args ...string) ([]locatedFinding, run) {
	t.Helper()
	r := rampart(t, "", append(append([]string{"scan"}, args...), "-o", "json", "--fail-on", "none")...)
	var doc struct {
		Findings []locatedFinding `json:"findings"`
		Errors   []struct {
			File, Message string
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, r.stderr)
	}
	return doc.Findings, r
}

func find(fs []locatedFinding, id string) []locatedFinding {
	var out []locatedFinding
	for _, f := range fs {
		if f.CheckID == id {
			out = append(out, f)
		}
	}
	return out
}

var helmDir = filepath.Join("..", "..", "pkg", "source", "testdata", "helm")

func TestHelmChart(t *testing.T) {
	chart := filepath.Join(helmDir, "shop")
	tests := []struct {
		name          string
		args          []string
		wantPrivilege bool
		wantSubchart  bool
	}{
		{"defaults", nil, false, true},
		{"values file", []string{"-f", filepath.Join(chart, "values-prod.yaml")}, true, true},
		{"--set wins", []string{"-f", filepath.Join(chart, "values-prod.yaml"), "--set", "securityContext.privileged=false,cache.enabled=false"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, r := scanFindings(t, append([]string{chart, "--release-name", "prod", "-n", "shop"}, tt.args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			priv := find(fs, "pss-privileged")
			if (len(priv) > 0) != tt.wantPrivilege {
				t.Fatalf("pss-privileged findings %v, want %v", priv, tt.wantPrivilege)
			}
			if tt.wantPrivilege {
				f := priv[0]
				if !strings.HasSuffix(f.Location.File, filepath.Join("shop", "templates", "deployment.yaml")) || f.Location.Line != 22 {
					t.Errorf("privileged at %s:%d, want templates/deployment.yaml:22", f.Location.File, f.Location.Line)
				}
				if !strings.Contains(f.Message, "values key securityContext.privileged") {
					t.Errorf("message does not name the values key: %s", f.Message)
				}
				if f.Object.Name != "prod-web" || f.Object.Namespace != "shop" {
					t.Errorf("object %+v, want shop/prod-web", f.Object)
				}
			}
			host := find(fs, "pss-host-namespaces")
			if (len(host) > 0) != tt.wantSubchart {
				t.Fatalf("subchart hostNetwork findings %v, want %v", host, tt.wantSubchart)
			}
			if tt.wantSubchart {
				f := host[0]
				if !strings.HasSuffix(f.Location.File, filepath.Join("charts", "cache", "templates", "statefulset.yaml")) || f.Location.Line != 13 || !strings.Contains(f.Message, "values key cache.hostNetwork") {
					t.Errorf("subchart finding %+v", f)
				}
			}
		})
	}
	// A packaged chart (.tgz) renders the same.
	ch, err := loader.Load(chart)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs, r := scanFindings(t, tgz, "-f", filepath.Join(chart, "values-prod.yaml"))
	if r.code != ExitOK || len(find(fs, "pss-privileged")) != 1 || len(find(fs, "pss-host-namespaces")) != 1 {
		t.Errorf("packaged chart: exit %d, %d findings; stderr %s", r.code, len(fs), r.stderr)
	}
	// A failing template is an input error naming the chart.
	_, r = scanFindings(t, filepath.Join(helmDir, "broken"))
	if r.code != ExitError || !strings.Contains(r.stdout, "image.tag is required") || !strings.Contains(r.stdout, filepath.Join("broken", "Chart.yaml")) {
		t.Errorf("broken chart: exit %d, output %s", r.code, r.stdout)
	}
}

var kustomizeDir = filepath.Join("..", "..", "pkg", "source", "testdata", "kustomize")

func TestKustomize(t *testing.T) {
	tests := []struct {
		overlay   string
		wantCheck string
		wantName  string
		wantFile  string
		wantLine  int
	}{
		// The patch adds hostPID; the finding points at the base file's spec,
		// the nearest field the base has.
		{"prod", "pss-host-namespaces", "prod-web", filepath.Join("base", "deployment.yaml"), 11},
		// The component adds SYS_PTRACE to the base's capabilities.
		{"dev", "cap-sys-ptrace", "web", filepath.Join("base", "deployment.yaml"), 20},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			fs, r := scanFindings(t, filepath.Join(kustomizeDir, "overlays", tt.overlay))
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
			}
			got := find(fs, tt.wantCheck)
			if len(got) != 1 {
				t.Fatalf("%s findings: %+v", tt.wantCheck, got)
			}
			f := got[0]
			if f.Object.Name != tt.wantName || f.Object.Namespace != tt.overlay {
				t.Errorf("object %+v, want %s/%s", f.Object, tt.overlay, tt.wantName)
			}
			if !strings.HasSuffix(f.Location.File, tt.wantFile) || f.Location.Line != tt.wantLine {
				t.Errorf("finding at %s:%d, want %s:%d", f.Location.File, f.Location.Line, tt.wantFile, tt.wantLine)
			}
		})
	}
	// A folder of overlays: each kustomization is built, none read as plain files.
	fs, r := scanFindings(t, filepath.Join(kustomizeDir, "overlays"))
	if r.code != ExitOK || len(find(fs, "pss-host-namespaces")) != 1 || len(find(fs, "cap-sys-ptrace")) != 1 {
		t.Errorf("scanning both overlays: exit %d, findings %d", r.code, len(fs))
	}
	_, r = scanFindings(t, filepath.Join(kustomizeDir+"-broken"))
	if r.code != ExitError || !strings.Contains(r.stdout, "kustomize build failed") {
		t.Errorf("broken kustomization: exit %d, %s", r.code, r.stdout)
	}
}
