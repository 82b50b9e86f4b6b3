package fix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// applyTextEdit makes te on text (LF line ends).
func applyTextEdit(t *testing.T, text string, te check.TextEdit) string {
	t.Helper()
	offset := func(line, col int) int {
		o := 0
		for l := 1; l < line; l++ {
			i := strings.IndexByte(text[o:], '\n')
			if i < 0 {
				t.Fatalf("line %d past the end", line)
			}
			o += i + 1
		}
		return o + col - 1
	}
	start, end := offset(te.Line, te.Column), offset(te.EndLine, te.EndColumn)
	if start > end || end > len(text) {
		t.Fatalf("bad span %+v", te)
	}
	return text[:start] + te.NewText + text[end:]
}

// TestTextEditsMakeTheFix: on every fix golden's input, and on the CRLF and
// no-final-newline variants of them, each text edit a finding's fix carries
// (what SARIF offers) leaves YAML that parses, changes nothing outside its
// lines, and resolves the finding: the check no longer reports it.
func TestTextEditsMakeTheFix(t *testing.T) {
	ins, _ := filepath.Glob("../checks/testdata/*/fix/in.yaml")
	opts := restricted
	opts.Fixes = true
	opts.Resources = map[string]string{"requests.cpu": "100m", "requests.memory": "128Mi", "limits.cpu": "500m", "limits.memory": "128Mi", "limits.ephemeral-storage": "1Gi"}
	made, refused := 0, 0
	for _, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		id := filepath.Base(filepath.Dir(filepath.Dir(in)))
		for variant, text := range map[string]string{"lf": string(data), "crlf": strings.ReplaceAll(string(data), "\n", "\r\n"), "no-final-newline": strings.TrimSuffix(string(data), "\n")} {
			p := filepath.Join(t.TempDir(), "in.yaml")
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var only []check.Check
			for _, x := range checks.Builtin() {
				if x.ID == id {
					only = append(only, x)
				}
			}
			objs, errs := manifest.Parse(p, []byte(text))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			res := engine.Run(only, inventory.New(objs), opts)
			TextEdits(res.Findings, nil, Resolver(only, opts))
			for _, f := range res.Findings {
				for _, fx := range f.Fixes {
					if len(fx.Creates) > 0 {
						continue // writes another file: no text edit
					}
					if len(fx.TextEdits) == 0 {
						refused++
						continue
					}
					made++
					after := text
					for _, te := range fx.TextEdits {
						if te.File != p {
							t.Fatalf("%s: edit of %s", id, te.File)
						}
						after = applyTextEdit(t, after, te)
					}
					lf := strings.ReplaceAll(after, "\r\n", "\n")
					if variant == "crlf" && strings.Count(after, "\n") != strings.Count(after, "\r\n") {
						t.Errorf("%s/%s: the edit brought LF lines into a CRLF file", id, variant)
					}
					objs2, errs := manifest.Parse(p, []byte(lf))
					if len(errs) > 0 {
						t.Errorf("%s/%s: %q leaves YAML that does not parse: %v\n%s", id, variant, fx.Message, errs, after)
						continue
					}
					for _, g := range engine.Run(only, inventory.New(objs2), restricted).Findings {
						if g.Object == f.Object && g.Field == f.Field && g.Message == f.Message {
							t.Errorf("%s/%s: %q made, the finding on %s remains:\n%s", id, variant, fx.Message, f.Field, after)
						}
					}
				}
			}
		}
	}
	if made < 60 {
		t.Fatalf("only %d text edits made (%d refused)", made, refused)
	}
	t.Logf("%d text edits made, %d fixes without one", made, refused)
}

// TestTextEditsShowNoCredential: a fix that rewrites a line holding a
// credential value (a container written in flow style, with its password)
// gets no text edit, so SARIF never prints the value; the same fix on a
// block-style container, where it only inserts lines, gets one.
func TestTextEditsShowNoCredential(t *testing.T) {
	const password = "Zq8!vN3#pL5wR2xT"
	for _, tc := range []struct {
		name, container string
		want            bool
	}{
		{"flow", `  - {name: app, image: registry.example.com/app:1.0, env: [{name: DB_PASSWORD, value: "` + password + `"}]}` + "\n", false},
		{"block", "  - name: app\n    image: registry.example.com/app:1.0\n    env:\n    - name: DB_PASSWORD\n      value: \"" + password + "\"\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n" + tc.container
			p := filepath.Join(t.TempDir(), "pod.yaml")
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			objs, errs := manifest.Parse(p, []byte(src))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			opts := restricted
			opts.Fixes = true
			var only []check.Check
			for _, c := range checks.Builtin() {
				if c.ID == "pss-allow-privilege-escalation" {
					only = append(only, c)
				}
			}
			res := engine.Run(only, inventory.New(objs), opts)
			TextEdits(res.Findings, nil, Resolver(only, opts))
			got := false
			for _, f := range res.Findings {
				for _, fx := range f.Fixes {
					for _, te := range fx.TextEdits {
						got = true
						if strings.Contains(te.NewText, password) {
							t.Errorf("text edit shows the password: %q", te.NewText)
						}
					}
				}
			}
			if got != tc.want {
				t.Errorf("text edit made: %v, want %v", got, tc.want)
			}
		})
	}
}
