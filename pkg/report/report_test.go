package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	sigsyaml "sigs.k8s.io/yaml"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/fix"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// scanTestdata scans testdata/scan as the CLI does, with the checks of the
// catalog that report something there (findings or suppressed ones): the
// goldens change when the formats or these checks change, not each time
// the catalog grows.
func scanTestdata(t *testing.T) *engine.Result {
	t.Helper()
	high := check.High
	opts := engine.Options{
		PSS:    api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()},
		FailOn: &high,
	}
	all := engine.Scan([]string{"testdata/scan"}, manifest.Options{}, checks.Builtin(), opts)
	used := map[string]bool{}
	for _, f := range all.Findings {
		used[f.CheckID] = true
	}
	for _, s := range all.Suppressed {
		used[s.Finding.CheckID] = true
	}
	var catalog []check.Check
	for _, c := range checks.Builtin() {
		if used[c.ID] {
			catalog = append(catalog, c)
		}
	}
	return engine.Scan([]string{"testdata/scan"}, manifest.Options{}, catalog, opts)
}

// scanTestdataWithFixes is scanTestdata as scan -o sarif runs it: with the
// fixes of the findings and their text edits.
func scanTestdataWithFixes(t *testing.T) *engine.Result {
	t.Helper()
	high := check.High
	var catalog []check.Check
	catalog = append(catalog, scanTestdata(t).Checks...)
	res := engine.Scan([]string{"testdata/scan"}, manifest.Options{}, catalog, engine.Options{
		PSS:    api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()},
		FailOn: &high,
		Fixes:  true,
	})
	fix.TextEdits(res.Findings, nil, fix.Resolver(catalog, engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}))
	return res
}

func render(t *testing.T, format string, res *engine.Result) []byte {
	t.Helper()
	rep, err := For(format)
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, res, Options{Root: root, Version: "test", ShowSuppressed: true}); err != nil {
		t.Fatal(err)
	}
	// The absolute scan root differs between machines.
	return bytes.ReplaceAll(buf.Bytes(), []byte(filepath.ToSlash(root)), []byte("/ROOT"))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden %s (run go test ./pkg/report -update): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s differs from the golden file at line %d (run go test ./pkg/report -update and review the diff)\n got: %.300s\nwant: %.300s", name, i+1, g, w)
				break
			}
		}
	}
}

func TestGoldens(t *testing.T) {
	res := scanTestdata(t)
	if len(res.Findings) == 0 || len(res.Errors) != 1 || len(res.Suppressed) != 1 {
		t.Fatalf("test input should give findings, one suppressed finding and one input error; got %d, %d and %v", len(res.Findings), len(res.Suppressed), res.Errors)
	}
	withFixes := scanTestdataWithFixes(t)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			r := res
			if format == "sarif" {
				r = withFixes // SARIF results carry their fixes
			}
			out := render(t, format, r)
			if format == "html" {
				// The page's data, indented; the scripts are ours or
				// the pinned library (not committed), checked in a
				// browser by internal/e2e/report.
				out = pageData(t, out)
			}
			golden(t, "scan."+format, out)
		})
	}
	t.Run("text-color", func(t *testing.T) {
		var buf bytes.Buffer
		if err := (Text{}).Write(&buf, res, Options{Color: true}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "\x1b[") {
			t.Error("colour requested but no escape codes written")
		}
		plain := render(t, "text", res)
		if bytes.Contains(plain, []byte("\x1b[")) {
			t.Error("escape codes without colour")
		}
	})
	t.Run("catalog", func(t *testing.T) {
		// The checks of the scan golden; docs/checks.md holds the whole
		// catalog (TestChecksDocUpToDate).
		for _, format := range CatalogFormats {
			var buf bytes.Buffer
			if err := WriteCatalog(&buf, res.Checks, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "checks."+format, buf.Bytes())
		}
	})
	// No golden may be left over from a format that no longer exists.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	known := map[string]bool{}
	for _, f := range Formats {
		known["scan."+f] = true
	}
	for _, f := range CatalogFormats {
		known["checks."+f] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("stale golden file %s", f)
		}
	}
}

// TestEveryFindingIsLocated checks that JSON and SARIF carry file, line and
// column for every finding.
func TestEveryFindingIsLocated(t *testing.T) {
	res := scanTestdata(t)
	var doc struct {
		Findings []struct {
			CheckID  string `json:"checkID"`
			Location *struct {
				File         string `json:"file"`
				Line, Column int
			} `json:"location"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(render(t, "json", res), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Findings {
		if f.Location == nil || f.Location.File == "" || f.Location.Line == 0 || f.Location.Column == 0 {
			t.Errorf("JSON finding %s has no full location", f.CheckID)
		}
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine, StartColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, "sarif", res), &sarif); err != nil {
		t.Fatal(err)
	}
	if len(sarif.Runs[0].Results) != len(doc.Findings)+len(res.Suppressed) {
		t.Fatalf("SARIF has %d results, want %d findings and %d suppressed", len(sarif.Runs[0].Results), len(doc.Findings), len(res.Suppressed))
	}
	for _, r := range sarif.Runs[0].Results {
		pl := r.Locations[0].PhysicalLocation
		if !strings.HasPrefix(pl.ArtifactLocation.URI, "testdata/scan/") || pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
			t.Errorf("SARIF %s: URI %q is not relative to the scan root", r.RuleID, pl.ArtifactLocation.URI)
		}
		if pl.Region.StartLine == 0 || pl.Region.StartColumn == 0 {
			t.Errorf("SARIF %s: no line and column", r.RuleID)
		}
	}
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, res := range map[string]*engine.Result{"findings": scanTestdataWithFixes(t), "empty": {Summary: engine.Summary{}}} {
		out := render(t, "sarif", res)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: SARIF output does not validate: %v", name, err)
		}
	}
	// The validator must be able to fail.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`))
	if sch.Validate(bad) == nil {
		t.Error("an invalid SARIF log validated")
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := For("yaml"); err == nil {
		t.Error("unknown format accepted")
	}
	if err := WriteCatalog(&bytes.Buffer{}, nil, "xml"); err == nil {
		t.Error("unknown catalog format accepted")
	}
}

// TestMarkdownFitsAComment: thousands of findings still give a comment
// under GitHub's limit, saying what was cut; locations link to their lines.
func TestMarkdownFitsAComment(t *testing.T) {
	res := scanTestdata(t)
	many := *res
	many.Findings = nil
	for i := 0; i < 5000; i++ {
		f := res.Findings[i%len(res.Findings)]
		f.Message = fmt.Sprintf("%s | <b>%d</b>", f.Message, i)
		many.Findings = append(many.Findings, f)
	}
	var buf bytes.Buffer
	if err := (Markdown{}).Write(&buf, &many, Options{LinkBase: "https://github.com/o/r/blob/abc/"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if len(out) > MarkdownLimit || !strings.Contains(out, "more findings are in the SARIF or JSON report") {
		t.Errorf("%d characters; cut note present: %v", len(out), strings.Contains(out, "more findings"))
	}
	if !strings.Contains(out, "(https://github.com/o/r/blob/abc/testdata/scan/api.yaml#L30)") {
		t.Errorf("no link to a line:\n%.2000s", out)
	}
	if strings.Contains(out, "<b>") || strings.Contains(out, " | <") {
		t.Error("HTML or a pipe from a message reached the comment unescaped")
	}
}

// TestPolicyReportValidatesAgainstCRD validates the policyreport golden's
// documents against the CRD schemas of the openreports module it uses (from
// the module's own config/crd, through the Go module cache).
func TestPolicyReportValidatesAgainstCRD(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd")
	schemas := map[string]*jsonschema.Schema{}
	for kind, file := range map[string]string{"Report": "openreports.io_reports.yaml", "ClusterReport": "openreports.io_clusterreports.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := sigsyaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != "v1alpha1" {
				continue
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(v.Schema.OpenAPIV3Schema))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource(kind+".json", doc); err != nil {
				t.Fatal(err)
			}
			if schemas[kind], err = c.Compile(kind + ".json"); err != nil {
				t.Fatal(err)
			}
		}
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "scan.policyreport"))
	if err != nil {
		t.Fatal(err)
	}
	// And a cluster-scoped finding: the ClusterReport.
	cluster := &engine.Result{
		Findings: []check.Finding{{CheckID: "rbac-wildcard-verbs", Category: check.CategoryRBAC, Severity: check.High, Message: "verbs *",
			Object: check.ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "ops"}, Field: "rules[0].verbs", Remediation: "List the verbs."}},
		Objects: []engine.Evaluated{{Object: check.ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "ops"}}},
	}
	var buf bytes.Buffer
	if err := (PolicyReport{}).Write(&buf, cluster, Options{}); err != nil {
		t.Fatal(err)
	}
	docs := 0
	kinds := map[string]bool{}
	for _, part := range append(strings.Split(string(golden), "\n---\n"), buf.String()) {
		js, err := sigsyaml.YAMLToJSON([]byte(part))
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		kind := v.(map[string]any)["kind"].(string)
		kinds[kind] = true
		if err := schemas[kind].Validate(v); err != nil {
			t.Errorf("%s does not validate: %v", kind, err)
		}
		docs++
	}
	if docs < 2 || !kinds["Report"] || !kinds["ClusterReport"] {
		t.Errorf("%d documents of kinds %v, want Reports and a ClusterReport", docs, kinds)
	}
}

// pageData returns the JSON document of an HTML page, indented.
func pageData(t *testing.T, page []byte) []byte {
	t.Helper()
	const open = `<script id="rampart-data" type="application/json">`
	_, rest, ok := bytes.Cut(page, []byte(open))
	data, _, ok2 := bytes.Cut(rest, []byte("</script>"))
	if !ok || !ok2 {
		t.Fatal("no data script in the page")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		t.Fatalf("page data: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}
