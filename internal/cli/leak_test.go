package cli

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/report"
)

// valueAt resolves a field path in a generic YAML document.
func valueAt(doc any, path string) any {
	cur := doc
	for _, s := range manifest.ParsePath(path) {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[s.Key]
		case []any:
			if s.Index < 0 || s.Index >= len(c) {
				return nil
			}
			cur = c[s.Index]
		default:
			return nil
		}
	}
	return cur
}

// collectSecrets returns every string under v, and base64-decoded forms.
func collectSecrets(v any, out map[string]bool) {
	switch t := v.(type) {
	case string:
		out[t] = true
		if b, err := base64.StdEncoding.DecodeString(t); err == nil && len(b) >= 6 {
			out[string(b)] = true
		}
		// the value part of --name=value arguments and each line of a file
		for _, line := range strings.Split(t, "\n") {
			if _, v, ok := strings.Cut(line, "="); ok && len(v) >= 6 {
				out[v] = true
			}
		}
	case map[string]any:
		for _, x := range t {
			collectSecrets(x, out)
		}
	case []any:
		for _, x := range t {
			collectSecrets(x, out)
		}
	}
}

// TestNoSecretValueLeaks scans every secrets fixture and the examples in
// every output format, suppressed findings shown, and asserts that no value a
// secrets finding points at appears anywhere in the output.
func TestNoSecretValueLeaks(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for _, pattern := range []string{"../../pkg/checks/testdata/hardcoded-credential-*/fail-*.yaml", "../../pkg/checks/testdata/secret-*/fail-*.yaml", "../../examples/insecure/*.yaml"} {
		m, _ := filepath.Glob(pattern)
		inputs = append(inputs, m...)
	}
	for i, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(filepath.Dir(in))+"-"+string(rune('a'+i%26))+filepath.Base(in)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := rampart(t, "", "scan", dir, "-o", "json", "--fail-on", "none")
	var out struct {
		Findings []struct {
			CheckID  string `json:"checkID"`
			Category string `json:"category"`
			Field    string `json:"field"`
			Object   struct{ Kind, Name string }
			Location struct {
				File string `json:"file"`
			} `json:"location"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stderr)
	}
	secrets := map[string]bool{}
	for _, f := range out.Findings {
		// secret-env-var points at a Secret reference (a name), not a value.
		if f.Category != "secrets" || f.CheckID == "secret-env-var" {
			continue
		}
		data, _ := os.ReadFile(f.Location.File)
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		for {
			var doc map[string]any
			if dec.Decode(&doc) != nil {
				break
			}
			if meta, _ := doc["metadata"].(map[string]any); meta != nil && meta["name"] == f.Object.Name && doc["kind"] == f.Object.Kind {
				collectSecrets(valueAt(doc, f.Field), secrets)
			}
		}
	}
	var values []string
	for s := range secrets {
		if len(s) >= 6 {
			values = append(values, s)
		}
	}
	if len(values) < 8 {
		t.Fatalf("only %d secret values collected from the fixtures; the test would prove little: %v", len(values), values)
	}
	for _, format := range report.Formats {
		r := rampart(t, "", "scan", dir, "-o", format, "--show-suppressed", "--fail-on", "none", "--color", "always")
		for _, v := range values {
			if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
				t.Errorf("%s output contains a secret value from the fixtures: %q", format, v)
			}
		}
	}
	// The diffs fix prints (context lines included) hold none either; the
	// files it writes keep the real values.
	r = rampart(t, "", "fix", "--breaking", dir)
	if !strings.Contains(r.stdout, "+++ ") {
		t.Fatalf("fix printed no diff: the test would prove nothing\n%s", r.stderr)
	}
	for _, v := range values {
		if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
			t.Errorf("fix diff contains a secret value from the fixtures: %q", v)
		}
	}
}

// TestFixDiffRedactsSecretsInContext: values Rampart recognises as
// credentials next to the lines fix edits are redacted in the printed diff
// (context lines included), and written unchanged to the file.
func TestFixDiffRedactsSecretsInContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	random := func() string {
		const chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		b := make([]byte, 20)
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	pw, token, apiKey, ghp := random(), random(), random(), "ghp_"+random()+random()[:16]
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    api-token: "` + apiKey + `"
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example.com/api:1.0
        args: ["--token=` + token + `", "--listen=:8080"]
        env:
        - name: DB_PASSWORD
          value: "` + pw + `"
        - name: GH
          value: ` + ghp + `
        securityContext:
          privileged: true
`
	dir := t.TempDir()
	file := filepath.Join(dir, "api.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rampart(t, "", "fix", "--breaking", file)
	if !strings.Contains(r.stdout, "privileged") {
		t.Fatalf("the diff does not show the edit next to the secrets:\n%s", r.stdout)
	}
	for _, v := range []string{pw, token, apiKey, ghp} {
		if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
			t.Errorf("fix diff shows a secret value: %q\n%s", v, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "<redacted>") {
		t.Errorf("no redaction marker in the diff:\n%s", r.stdout)
	}
	if r := rampart(t, "", "fix", "--breaking", "--write", file); r.code != ExitOK {
		t.Fatalf("fix --write: exit %d %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(file)
	for _, v := range []string{pw, token, apiKey, ghp} {
		if !strings.Contains(string(data), v) {
			t.Errorf("the written file lost a value: %q", v)
		}
	}
}
