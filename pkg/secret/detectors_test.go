package secret

import (
	"strings"
	"testing"
)

// TestDetectorExamples holds every detector to its own true and false
// examples: a true example is found by that detector (and reported with its
// kind), a false one by no detector at all.
func TestDetectorExamples(t *testing.T) {
	ids := map[string]bool{}
	for _, d := range Detectors {
		if ids[d.ID] {
			t.Errorf("detector %s twice", d.ID)
		}
		ids[d.ID] = true
		if len(d.True) == 0 || len(d.False) == 0 {
			t.Errorf("detector %s needs true and false examples", d.ID)
		}
		for _, ex := range d.True {
			if got := detectExample(d, ex); got != d.Kind {
				t.Errorf("%s: true example %q: got %q, want %q", d.ID, ex, got, d.Kind)
			}
		}
		for _, ex := range d.False {
			if got := detectExample(d, ex); got != "" {
				t.Errorf("%s: false example %q detected as %q", d.ID, ex, got)
			}
		}
	}
}

// detectExample runs an example the way the checks meet it: "name=value"
// under its name for Keyword detectors, a free text otherwise.
func detectExample(d Detector, ex string) string {
	if d.How == Keyword {
		k, v, _ := strings.Cut(ex, "=")
		kind, _ := Detect(k, strings.Trim(v, `"`))
		return kind
	}
	if ms := Find(ex); len(ms) > 0 {
		return ms[0].Kind
	}
	kind, _ := Detect("", ex)
	return kind
}

func TestFindSpans(t *testing.T) {
	tests := []struct {
		text string
		want []string // the values found, in order
	}{
		{`sh -c "mysql -uroot -pQw8Zx3Lk9Vb2 -e 'select 1'"`, []string{"Qw8Zx3Lk9Vb2"}},
		{"PGPASSWORD=Qw8Zx3Lk9Vb2 psql -h db -c 'select 1'", []string{"Qw8Zx3Lk9Vb2"}},
		{"redis://:Qw8Zx3Lk9Vb2@redis:6379/0", []string{"Qw8Zx3Lk9Vb2"}},
		{"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nAoGBAM\n-----END EC PRIVATE KEY-----\n", []string{"-----BEGIN EC PRIVATE KEY-----", "MHcCAQEEIB\nAoGBAM\n"}},
		{"db.user=app\ndb.password=Qw8Zx3Lk9Vb2\nlog=debug", []string{"Qw8Zx3Lk9Vb2"}},
		{"--secret-field-selector=type!=helm.sh/release.v1 --leader-elect", nil},
		{"--token Qw8Zx3Lk9Vb2 --api-key=Zx3Lk9Vb2Qw8", []string{"Qw8Zx3Lk9Vb2", "Zx3Lk9Vb2Qw8"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range Find(tt.text) {
			got = append(got, tt.text[m.Start:m.End])
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Find(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestPlaceholder(t *testing.T) {
	tests := []struct {
		key, value string
		want       bool
	}{
		{"password", "changeme", true},
		{"DB_PASSWORD", "admin", true},
		{"adminPassword", "<set me>", true},
		{"password", "${DB_PASSWORD}", false},
		{"password", "{{ .Values.pw }}", false},
		{"password", "Qw8Zx3Lk9Vb2", false},
		{"LOG_LEVEL", "changeme", false},
		{"passwordSecretName", "changeme", false},
	}
	for _, tt := range tests {
		if got := Placeholder(tt.key, tt.value); got != tt.want {
			t.Errorf("Placeholder(%q, %q) = %v, want %v", tt.key, tt.value, got, tt.want)
		}
	}
}

func TestLines(t *testing.T) {
	in := []string{
		"apiVersion: v1\n",
		"data:\n",
		"  config.json: eyJhdXRocyI6e319Cg==\n",
		"  tls.key: |\n",
		"    bGluZTE=\n",
		"kind: Secret\n",
		"metadata:\n",
		"  name: s\n",
		"---\n",
		"kind: ConfigMap\n",
		"data:\n",
		"  key.pem: |\n",
		"    -----BEGIN RSA PRIVATE KEY-----\n",
		"    MIIEpAIBAAKCAQEA\n",
		"    -----END RSA PRIVATE KEY-----\n",
		"  level: debug\n",
	}
	want := []string{
		"apiVersion: v1\n",
		"data:\n",
		"  config.json: <redacted>\n",
		"  tls.key: <redacted>\n",
		"    <redacted>\n",
		"kind: Secret\n",
		"metadata:\n",
		"  name: s\n",
		"---\n",
		"kind: ConfigMap\n",
		"data:\n",
		"  key.pem: |\n",
		"    <redacted>\n",
		"    <redacted>\n",
		"    -----END RSA PRIVATE KEY-----\n",
		"  level: debug\n",
	}
	got := Lines(in)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}
