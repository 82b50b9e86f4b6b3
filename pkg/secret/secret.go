// Package secret recognises credentials written literally into manifests:
// known token formats anywhere, values under names that say they are
// secret, and credentials inside command lines and URLs. It reports what
// kind of secret a value looks like and where it lies in a text, never the
// value. The detectors are data, in detectors.go.
package secret

import (
	"math"
	"regexp"
	"strings"
	"sync"
)

// Match is a credential found in a text: Text[Start:End] is the value.
type Match struct {
	Kind       string
	Start, End int
}

// Detect reports whether value, stored under key (an env var name, a data
// key, an annotation, a flag; may be empty), holds a credential, and what
// kind: a known token format anywhere in it, the whole value under a
// secret's name, or a credential inside it (a command line, a URL).
func Detect(key, value string) (string, bool) {
	if len(value) < 3 {
		return "", false
	}
	if m, ok := findFormat(value); ok {
		return m.Kind, true
	}
	if d := nameDetector(key); d != nil && credentialValue(value) {
		return d.Kind, true
	}
	if ms := findCommands(value, 1); len(ms) > 0 {
		return ms[0].Kind, true
	}
	return "", false
}

// Find returns every credential in a free text (a shell command, a
// configuration file held in a ConfigMap), in order, not overlapping.
func Find(text string) []Match {
	var out []Match
	for i := range Detectors {
		d := &Detectors[i]
		if d.How != Format || !hinted(text, d.Hints, false) {
			continue
		}
		for _, loc := range d.Pattern.FindAllStringIndex(text, -1) {
			out = append(out, Match{Kind: d.Kind, Start: loc[0], End: loc[1]})
		}
	}
	out = append(out, findCommands(text, -1)...)
	out = append(out, findPEMBody(text)...)
	return disjoint(out)
}

// Placeholder reports a value under a secret's name that is a stand-in
// (changeme, <password>, admin) rather than a credential or a template.
func Placeholder(key, value string) bool {
	if nameDetector(key) == nil || templated(value) || reference(value) {
		return false
	}
	v := strings.TrimSpace(value)
	return v != "" && placeholderWord(v)
}

// notSecretNames end names that only point at a secret or describe it (a
// file, a reference, a selector, a lifetime), matched after _ and - are
// removed.
var notSecretNames = []string{"file", "path", "ref", "name", "url", "uri", "endpoint", "host", "header", "type", "length", "selector", "namespace", "id", "ttl", "mode", "enabled", "policy", "format", "dir", "mount", "provider", "algorithm", "method", "audience", "issuer", "expiry", "duration", "env", "field", "template", "prefix", "store", "class", "version", "size", "count"}

// notSecretWords anywhere in a name make it a digest's or a hash's, not a
// secret's (Helm charts annotate pods with checksum/secret).
var notSecretWords = []string{"checksum", "hash", "digest", "fingerprint", "sha1", "sha256"}

// placeholders are parts of values that stand in for a credential.
var placeholders = []string{"changeme", "change-me", "change_me", "example", "placeholder", "redacted", "dummy", "xxxx", "****", "<", "your", "todo", "fixme", "replace"}

// weak are whole values charts ship as defaults: placeholders too.
var weak = map[string]bool{"password": true, "passw0rd": true, "secret": true, "admin": true, "root": true, "test": true, "default": true, "pass": true, "123456": true, "12345678": true, "letmein": true, "token": true, "guest": true, "postgres": true, "mysql": true}

// nameDetector returns the Keyword detector whose words a name holds, or
// nil when the name is not a secret's.
func nameDetector(key string) *Detector {
	if key == "" {
		return nil
	}
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	flat := strings.ReplaceAll(k, "_", "")
	for _, n := range notSecretNames {
		if strings.HasSuffix(flat, n) {
			return nil
		}
	}
	for _, n := range notSecretWords {
		if strings.Contains(flat, n) {
			return nil
		}
	}
	for i := range Detectors {
		d := &Detectors[i]
		if d.How != Keyword {
			continue
		}
		for _, w := range d.Words {
			if strings.Contains(k, w) {
				return d
			}
		}
	}
	return nil
}

// authScheme is what precedes a credential in an Authorization header.
var authScheme = regexp.MustCompile(`^(?i)(bearer|basic|token|apikey)\s+`)

// credentialValue reports a value that has the shape of a credential: long
// enough, varied enough, one word, neither a reference nor a stand-in.
func credentialValue(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	v = authScheme.ReplaceAllString(v, "")
	if len(v) < minLength || strings.ContainsAny(v, " \t\n") || templated(v) || reference(v) {
		return false
	}
	l := strings.ToLower(v)
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return false
		}
	}
	return entropy(v) >= minEntropy
}

// templated values are filled in elsewhere: shell or Helm variables.
func templated(v string) bool {
	return strings.HasPrefix(v, "$") || strings.Contains(v, "${") || strings.Contains(v, "{{") || strings.Contains(v, "$(") || strings.HasPrefix(v, "%(")
}

// referenceRE matches values that name something rather than hold a secret:
// lowercase words joined by dashes or dots (a Secret's name, a host).
var referenceRE = regexp.MustCompile(`^[a-z0-9]+([.-][a-z0-9]+)+$` +
	// namespace/name, as annotations name a Secret
	`|^[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]([a-z0-9.-]*[a-z0-9])?$` +
	// a list of plain words (helper or provider names)
	`|^[a-z0-9-]+(,[a-z0-9-]+)+$` +
	// an image or a path of lowercase words
	`|^[a-z0-9][a-z0-9._-]*(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?$` +
	// a field or label selector (base64 padding ends a value with ==)
	`|(!=|==)[^=]`)

// reference reports values that point at a secret (a path, a name) instead
// of being one.
func reference(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "file:") || strings.HasPrefix(v, "secret:") || referenceRE.MatchString(v)
}

func hinted(text string, hints []string, fold bool) bool {
	if len(hints) == 0 {
		return true
	}
	if fold {
		text = strings.ToLower(text)
	}
	for _, h := range hints {
		if strings.Contains(text, h) {
			return true
		}
	}
	return false
}

func findFormat(text string) (Match, bool) {
	for i := range Detectors {
		d := &Detectors[i]
		if d.How == Format && hinted(text, d.Hints, false) {
			if loc := d.Pattern.FindStringIndex(text); loc != nil {
				return Match{Kind: d.Kind, Start: loc[0], End: loc[1]}, true
			}
		}
	}
	return Match{}, false
}

// findCommands applies the Command detectors, at most limit matches (-1:
// all).
func findCommands(text string, limit int) []Match {
	var out []Match
	var lower string
	for i := range Detectors {
		d := &Detectors[i]
		if d.How != Command {
			continue
		}
		if lower == "" {
			lower = strings.ToLower(text)
		}
		if !hinted(lower, d.Hints, false) {
			continue
		}
		names := d.Pattern.SubexpNames()
		if keyedPattern(d) && !strings.Contains(lower, "-p") && !hinted(lower, secretWords(), false) {
			continue // its name group must say secret: no such word, no match
		}
		for _, sm := range d.Pattern.FindAllStringSubmatchIndex(text, -1) {
			var key string
			keyed := false
			v := [2]int{-1, -1}
			for g, name := range names {
				if sm[2*g] < 0 {
					continue
				}
				switch {
				case name == "v":
					v = [2]int{sm[2*g], sm[2*g+1]}
				case strings.HasPrefix(name, "k"):
					keyed, key = true, text[sm[2*g]:sm[2*g+1]]
				}
			}
			if v[0] < 0 {
				continue
			}
			value := text[v[0]:v[1]]
			if keyed {
				if key == "p" {
					key = "password"
				}
				if nameDetector(key) == nil || !credentialValue(value) {
					continue
				}
			} else if len(value) < 3 || templated(value) || placeholderWord(value) {
				continue
			}
			out = append(out, Match{Kind: d.Kind, Start: v[0], End: v[1]})
			if limit > 0 && len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// keyedPattern reports a Command detector whose pattern has a name group.
func keyedPattern(d *Detector) bool {
	for _, n := range d.Pattern.SubexpNames() {
		if strings.HasPrefix(n, "k") {
			return true
		}
	}
	return false
}

var (
	wordsOnce sync.Once
	words     []string
)

// secretWords are the words of every Keyword detector.
func secretWords() []string {
	wordsOnce.Do(func() {
		for _, d := range Detectors {
			if d.How == Keyword {
				words = append(words, d.Words...)
			}
		}
	})
	return words
}

// placeholderWord reports a stand-in value: a weak default or a part that
// says "fill me in".
func placeholderWord(v string) bool {
	l := strings.ToLower(v)
	if weak[l] {
		return true
	}
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// findPEMBody returns the body of each private key block: the lines
// between BEGIN and END are the secret, not the marker.
func findPEMBody(text string) []Match {
	var out []Match
	for off := 0; ; {
		i := strings.Index(text[off:], "PRIVATE KEY")
		if i < 0 {
			return out
		}
		start := off + i
		nl := strings.IndexByte(text[start:], '\n')
		sep := 1
		if esc := strings.Index(text[start:], `\n`); esc >= 0 && (nl < 0 || esc < nl) {
			nl, sep = esc, 2 // a key in a JSON string or a quoted scalar: "\n" escapes
		}
		if nl < 0 {
			return out
		}
		bodyStart := start + nl + sep
		end := strings.Index(text[bodyStart:], "-----END")
		if end < 0 {
			end = len(text) - bodyStart
		}
		if end > 0 {
			out = append(out, Match{Kind: "private key", Start: bodyStart, End: bodyStart + end})
		}
		off = bodyStart + end
	}
}

// disjoint sorts matches by start and drops those inside an earlier one.
func disjoint(ms []Match) []Match {
	if len(ms) < 2 {
		return ms
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && (ms[j].Start < ms[j-1].Start || ms[j].Start == ms[j-1].Start && ms[j].End > ms[j-1].End); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	out := ms[:1]
	for _, m := range ms[1:] {
		last := &out[len(out)-1]
		if m.Start < last.End {
			if m.End > last.End {
				last.End = m.End
			}
			continue
		}
		out = append(out, m)
	}
	return out
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

// ArgMatch is a credential in an argument list: Args[Index] holds it.
type ArgMatch struct {
	Index int
	Kind  string
}

// Args finds credentials in a command's argument list: a whole argument,
// the value of --name=value, the argument after a flag that names a secret
// (--password VALUE, -p VALUE), and anything Find sees inside an argument
// (a shell string run by sh -c).
func Args(args []string) []ArgMatch {
	var out []ArgMatch
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, value := "", a
		if k, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && strings.HasPrefix(a, "-") || ok && !strings.ContainsAny(k, " \t") {
			key, value = k, v
		}
		if kind, ok := Detect(key, value); ok {
			out = append(out, ArgMatch{i, kind})
			continue
		}
		if ms := Find(a); len(ms) > 0 {
			out = append(out, ArgMatch{i, ms[0].Kind})
			continue
		}
		if strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			flag := strings.TrimLeft(a, "-")
			if flag == "p" {
				flag = "password"
			}
			if d := nameDetector(flag); d != nil && credentialValue(args[i+1]) {
				out = append(out, ArgMatch{i + 1, "credential in a command-line flag"})
				i++
			}
		}
	}
	return out
}
