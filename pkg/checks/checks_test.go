package checks

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// scanBytes runs the whole catalog over one file's content.
func scanBytes(t *testing.T, name string, data []byte, lv api.LevelVersion) *engine.Result {
	t.Helper()
	objs, errs := manifest.Parse(name, data)
	if len(errs) > 0 {
		t.Fatalf("%s: input errors: %v", name, errs)
	}
	manifest.SetDefaultNamespace(objs, "") // as every file source does
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	return engine.Run(Builtin(), inventory.New(objs), engine.Options{
		PSS:               lv,
		AllowedRegistries: []string{"registry.example.com", "*.mirror.example.com"},
		KnownCheck:        func(id string) bool { _, ok := reg.Get(id); return ok },
	})
}

var restrictedLatest = api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}

func TestCatalogMetadata(t *testing.T) {
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range reg.Checks() {
		if len(c.References) == 0 {
			t.Errorf("%s: no references", c.ID)
		}
		if strings.HasPrefix(c.ID, "pss-") != (c.Category == check.CategoryPSS) {
			t.Errorf("%s: PSS checks are named pss-* and only they have category pss (got %q)", c.ID, c.Category)
		}
		if c.Category == check.CategoryPSS {
			if !slices.ContainsFunc(c.References, func(r check.Ref) bool { return r.Source == "pss" }) {
				t.Errorf("%s: no Pod Security Standards reference", c.ID)
			}
			if !c.Scope.PodSpec {
				t.Errorf("%s: PSS checks apply to pod specs", c.ID)
			}
		}
		for _, r := range c.References {
			if r.Source == "" || (r.Title == "" && r.ID == "") {
				t.Errorf("%s: incomplete reference %+v", c.ID, r)
			}
		}
		if len(c.Description) < 40 {
			t.Errorf("%s: description too short to explain why: %q", c.ID, c.Description)
		}
	}
	if _, err := check.NewRegistry(append(Builtin(), Builtin()[0])); err == nil {
		t.Error("a duplicate ID was accepted")
	}
}

var wantRE = regexp.MustCompile(`#\s*want:\s*(.+)$`)

// wantLines returns, per check ID, the lines that carry "# want: <id> ...".
func wantLines(data []byte) map[string][]int {
	out := map[string][]int{}
	for i, line := range strings.Split(string(data), "\n") {
		if m := wantRE.FindStringSubmatch(line); m != nil {
			for _, id := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ' ' || r == ',' }) {
				out[id] = append(out[id], i+1)
			}
		}
	}
	return out
}

// TestFixtures runs every check's testdata/<id>/fail-*.yaml and pass-*.yaml:
// each check has both kinds, every fail fixture raises its check exactly on
// the lines marked "# want: <id>", and pass fixtures raise it nowhere.
func TestFixtures(t *testing.T) {
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := reg.Get(d.Name()); !ok && d.IsDir() {
			t.Errorf("testdata/%s: no check has this ID (orphan fixtures)", d.Name())
		}
	}
	for _, c := range reg.Checks() {
		t.Run(c.ID, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", c.ID, "*.yaml"))
			var fails, passes int
			for _, f := range files {
				base := filepath.Base(f)
				switch {
				case strings.HasPrefix(base, "fail-"):
					fails++
				case strings.HasPrefix(base, "pass-"):
					passes++
				default:
					continue
				}
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				res := scanBytes(t, f, data, restrictedLatest)
				var got []int
				for _, fd := range res.Findings {
					if fd.CheckID == c.ID {
						if fd.Location == nil || fd.Location.Line == 0 || fd.Location.Column == 0 {
							t.Errorf("%s: finding without line and column: %+v", base, fd)
							continue
						}
						got = append(got, fd.Location.Line)
					}
				}
				sort.Ints(got)
				want := wantLines(data)[c.ID]
				if strings.HasPrefix(base, "pass-") && len(want) > 0 {
					t.Errorf("%s: a pass fixture must not carry want markers for its check", base)
				}
				if strings.HasPrefix(base, "fail-") && len(want) == 0 {
					t.Errorf("%s: a fail fixture needs at least one '# want: %s' marker", base, c.ID)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s reported on lines %v, want %v", base, c.ID, got, want)
					for _, fd := range res.Findings {
						t.Logf("  %s %d:%d %s %s", fd.CheckID, fd.Location.Line, fd.Location.Column, fd.Field, fd.Message)
					}
				}
			}
			if fails == 0 || passes == 0 {
				t.Errorf("check %s has %d fail and %d pass fixtures; want at least one of each", c.ID, fails, passes)
			}
		})
	}
}

// TestKeyNamesThatLookLikeValuesAreNotPrinted: a "KEY=value" line pasted as
// a Secret or ConfigMap key is a value; messages never print it.
func TestKeyNamesThatLookLikeValuesAreNotPrinted(t *testing.T) {
	docs := `apiVersion: v1
kind: Secret
metadata: {name: s, namespace: shop}
stringData:
  "DB_PASSWORD=Xq9vLw2ZpR7tKm3e": ""
  api-key: abc
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data:
  "TOKEN=d41d8cd98f00b204e9800998ecf8427e": "token=d41d8cd98f00b204e9800998ecf8427e"
`
	res := scanBytes(t, "keys.yaml", []byte(docs), restrictedLatest)
	seen := false
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "Xq9vLw2ZpR7tKm3e") || strings.Contains(f.Message, "d41d8cd98f00b204e9800998ecf8427e") {
			t.Errorf("%s prints a value: %s", f.CheckID, f.Message)
		}
		if f.CheckID == "secret-in-manifest" && strings.Contains(f.Message, "api-key") && strings.Contains(f.Message, "not shown") {
			seen = true
		}
	}
	if !seen {
		t.Errorf("secret-in-manifest should name the valid key and hide the other: %+v", res.Findings)
	}
}
