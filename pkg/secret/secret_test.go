package secret

import (
	"regexp"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // "" when not a secret
	}{
		{"DB_PASSWORD", "hunter2-Xq9!vL", "literal password"},
		{"API_TOKEN", "d41d8cd98f00b204e9800998ecf8427e", "literal token"},
		{"anything", "AKIAIOSFODNN7EXAMPLE", "AWS access key ID"},
		// Seen in public bundles: a Secret named as namespace/name
		// (cert-manager's CA injection), a list of helper names (kyverno).
		{"cert-manager.io/inject-ca-from-secret", "cert-manager/cert-manager-webhook-ca", ""},
		{"registryCredentialHelpers", "default,google,amazon,azure,github", ""},
		{"token", "shop/Xq9vLw2ZpR7tK", "literal token"},
		{"", "ghp_0123456789abcdefghijABCDEFGHIJ012345", "GitHub token"},
		{"", "glpat-abcdefghij0123456789", "GitLab token"},
		{"", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private key"},
		{"", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JSON Web Token"},
		{"DATABASE_URL", "postgres://app:s3cr3tpw@db.internal:5432/app", "password in a URL"},
		// not secrets
		{"DB_PASSWORD", "changeme", ""},
		{"DB_PASSWORD", "${DB_PASSWORD}", ""},
		{"DB_PASSWORD_FILE", "/run/secrets/db-password-file", ""},
		{"LOG_LEVEL", "d41d8cd98f00b204e9800998ecf8427e", ""},
		{"TOKEN", "short", ""},
		{"TOKEN", "aaaaaaaaaaaaaaaa", ""},
		{"DATABASE_URL", "postgres://db.internal:5432/app", ""},
		{"AUTH_MODE", "oauth2 with pkce", ""},
		{"token-secret", "api-monitoring-token", ""},
		{"token-file", "/var/run/secrets/token", ""},
		{"password-file", "/var/run/secrets/db/password", ""},
		{"DB_PASSWORD", "Xk9#mQ2!vLp7@wR4", "literal password"},
	}
	for _, tt := range tests {
		got, ok := Detect(tt.key, tt.value)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("Detect(%q, %q) = %q, %v; want %q", tt.key, tt.value, got, ok, tt.want)
		}
	}
}

func FuzzDetect(f *testing.F) {
	f.Add("PASSWORD", "p@ssw0rd-long-enough")
	f.Fuzz(func(t *testing.T, k, v string) {
		if kind, ok := Detect(k, v); ok && kind == "" {
			t.Fatal("a detection without a kind")
		}
	})
}

func TestRedactor(t *testing.T) {
	tests := []struct {
		lines []string
		want  []string
	}{
		{[]string{"  - name: DB_PASSWORD", `    value: "Xq9vLw2ZpR7tKm3e"`}, []string{"  - name: DB_PASSWORD", `    value: "<redacted>"`}},
		{[]string{`    args: ["--token=d41d8cd98f00b204e9800998ecf8427e", "--port=80"]`}, []string{`    args: ["--token=<redacted>", "--port=80"]`}},
		{[]string{"    api-token: Xq9vLw2ZpR7tKm3eW"}, []string{"    api-token: <redacted>"}},
		{[]string{"  GH: ghp_0123456789abcdefghijABCDEFGHIJ012345"}, []string{"  GH: <redacted>"}},
		{[]string{"        args:", "        - --password", "        - Xq9vLw2ZpR7tKm3e", "        - -p", "        - \"8080\""}, []string{"        args:", "        - --password", "        - <redacted>", "        - -p", "        - \"8080\""}},
		{[]string{`        args: ["-p", "Xq9vLw2ZpR7tKm3e", "--port", "8080"]`}, []string{`        args: ["-p", "<redacted>", "--port", "8080"]`}},
		{[]string{`        command: ["sh", "-c", "mysql -uroot -pXq9vLw2ZpR7tKm3e -e 'select 1'"]`}, []string{`        command: ["sh", "-c", "mysql -uroot -p<redacted> -e 'select 1'"]`}},
		{[]string{"  - name: LOG_LEVEL", "    value: debug", "    image: nginx:1.27"}, []string{"  - name: LOG_LEVEL", "    value: debug", "    image: nginx:1.27"}},
	}
	for _, tt := range tests {
		var r Redactor
		for i, l := range tt.lines {
			if got := r.Line(l); got != tt.want[i] {
				t.Errorf("Line(%q) = %q, want %q", l, got, tt.want[i])
			}
		}
	}
}

// TestSplitKV holds the hand-written "key: value" reader to the regular
// expression it replaced (kept here as the reference).
func TestSplitKV(t *testing.T) {
	ref := regexp.MustCompile(`^(\s*(?:-\s+)?)("[^"]*"|'[^']*'|[^\s:#"'{\[][^:#]*?):(?:\s+(.*?))?\s*$`)
	lines := []string{"a: b", "  - name: DB", "    value: \"x y\"  ", "key:", "url: http://x:80", "http://x", "  # c: d", "'q k': v",
		`"q:k": v`, "- - a: b", "k:v", "  k :v", "{a: b}", "- [a]", "a#b: c", "", "   ", "-", "- ", "k: v # c", "\tk:\tv"}
	for _, l := range lines {
		m := ref.FindStringSubmatch(l)
		p, k, v, ok := splitKV(l)
		if ok != (m != nil) {
			t.Errorf("%q: ok %v, regexp %v", l, ok, m != nil)
			continue
		}
		if ok && (p != m[1] || k != m[2] || v != strings.TrimSpace(m[3])) {
			t.Errorf("%q: %q %q %q, regexp %q %q %q", l, p, k, v, m[1], m[2], m[3])
		}
	}
}

func FuzzSplitKV(f *testing.F) {
	ref := regexp.MustCompile(`^(\s*(?:-\s+)?)("[^"]*"|'[^']*'|[^\s:#"'{\[][^:#]*?):(?:\s+(.*?))?\s*$`)
	for _, s := range []string{"a: b", "  - name: x", "'k': v", "url: http://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, l string) {
		if strings.ContainsAny(l, "\n\r\v\f\u0085\u00a0") {
			return // lines only; \s differs from ' ' and '\t' on the rest
		}
		m := ref.FindStringSubmatch(l)
		if m != nil && len(m[2]) > 1 && m[2][0] == '-' && (m[2][1] == ' ' || m[2][1] == '\t') {
			return // the regexp may read a list item's "- " as part of a key ("- :", `- ":`); splitKV never does
		}
		p, k, v, ok := splitKV(l)
		if ok != (m != nil) || ok && (p != m[1] || k != m[2] || v != strings.TrimSpace(m[3])) {
			t.Fatalf("%q: %q %q %q %v; regexp %q", l, p, k, v, ok, m)
		}
	})
}

// TestLinesReviewCases: forms a review found printed in clear.
func TestLinesReviewCases(t *testing.T) {
	const v = "hK3v9QxT2mLpW7"
	tests := []struct {
		name  string
		lines []string
	}{
		{"flow env var", []string{"        env:\n", "        - {name: DB_PASSWORD, value: " + v + "}\n"}},
		{"block item flag with &", []string{"        args:\n", "        - --password=" + v + "&x\n"}},
		{"kind with a comment", []string{"data:\n", "  blob: " + v + "\n", "kind: Secret # creds\n"}},
		{"data with a comment", []string{"kind: Secret\n", "data: # base64\n", "  blob: " + v + "\n"}},
		{"flow data", []string{"kind: Secret\n", "data: {blob: " + v + "}\n"}},
		{"escaped private key", []string{`  key: "-----BEGIN RSA PRIVATE KEY-----\n` + v + `\n-----END RSA PRIVATE KEY-----"` + "\n"}},
		{"base64 token", []string{"  API_TOKEN: Zk3Rq9Xw2Lm7Np4TaB==\n"}},
	}
	for _, tt := range tests {
		out := strings.Join(Lines(tt.lines), "")
		if strings.Contains(out, v[:8]) || strings.Contains(out, "Zk3Rq9Xw") {
			t.Errorf("%s: a value is printed:\n%s", tt.name, out)
		}
	}
}
