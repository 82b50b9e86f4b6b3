// Package secret recognises credentials written literally into manifests:
// known token formats anywhere, and high-entropy values under names that say
// they are secret. It reports what kind of secret a value looks like, never
// the value.
package secret

import (
	"math"
	"regexp"
	"strings"
)

type format struct {
	kind string
	// hints are literals one of which every match contains: the regular
	// expression only runs on values that contain one, which keeps the
	// common case (no secret) to a few substring searches.
	hints []string
	re    *regexp.Regexp
}

// formats are token shapes that are secrets whatever their name.
var formats = []format{
	{"private key", []string{"PRIVATE KEY"}, regexp.MustCompile(`-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----`)},
	{"AWS access key ID", []string{"AKIA", "ASIA", "ABIA", "ACCA"}, regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
	{"GitHub token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b`)},
	{"GitLab token", []string{"glpat-"}, regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`)},
	{"Slack token", []string{"xox"}, regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`)},
	{"Google API key", []string{"AIza"}, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"Stripe secret key", []string{"_live_"}, regexp.MustCompile(`\b(sk|rk)_live_[0-9A-Za-z]{20,}\b`)},
	{"JSON Web Token", []string{"eyJ"}, regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{"password in a URL", []string{"://"}, regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]{3,}@[^/\s]+`)},
}

// secretNames are words that make a key name a secret's name.
var secretNames = []string{"password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "private_key", "privatekey", "access_key", "accesskey", "credential", "auth"}

// notSecretNames end names that only point at a secret (a file, a reference).
var notSecretNames = []string{"_file", "_path", "_ref", "_name", "_url", "_endpoint", "_host", "_header", "_type", "_length"}

// placeholders are values that are obviously not real secrets.
var placeholders = []string{"changeme", "change-me", "example", "placeholder", "redacted", "dummy", "xxxx", "<", "${", "{{", "$("}

// Detect reports whether value, stored under key (an env var name, a data
// key, an annotation; may be empty), looks like a credential, and what kind.
func Detect(key, value string) (string, bool) {
	if len(value) < 8 {
		return "", false
	}
	for _, f := range formats {
		for _, h := range f.hints {
			if strings.Contains(value, h) {
				if f.re.MatchString(value) {
					return f.kind, true
				}
				break
			}
		}
	}
	if !secretName(key) || placeholder(value) || reference(value) {
		return "", false
	}
	if len(value) >= 8 && entropy(value) >= 3.0 && !strings.ContainsAny(value, " \n") {
		return "literal " + nameKind(key), true
	}
	return "", false
}

// referenceRE matches values that name something rather than hold a secret:
// lowercase words joined by dashes or dots (a Secret's name, a host).
var referenceRE = regexp.MustCompile(`^[a-z0-9]+([.-][a-z0-9]+)+$` +
	// namespace/name, as annotations name a Secret
	`|^[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]([a-z0-9.-]*[a-z0-9])?$` +
	// a list of plain words (helper or provider names)
	`|^[a-z0-9-]+(,[a-z0-9-]+)+$`)

// reference reports values that point at a secret (a path, a name) instead
// of being one.
func reference(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "file:") || referenceRE.MatchString(v)
}

func secretName(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, n := range notSecretNames {
		if strings.HasSuffix(k, n) {
			return false
		}
	}
	for _, n := range secretNames {
		if strings.Contains(k, n) {
			return true
		}
	}
	return false
}

func nameKind(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "pass") || strings.Contains(k, "pwd"):
		return "password"
	case strings.Contains(k, "token"):
		return "token"
	case strings.Contains(k, "key"):
		return "key"
	default:
		return "secret"
	}
}

func placeholder(v string) bool {
	l := strings.ToLower(v)
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
