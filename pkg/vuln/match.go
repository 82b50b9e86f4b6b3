package vuln

import (
	"sort"
	"strings"
)

// Query is a package to match.
type Query struct {
	// Ecosystem is OSV's, with a release for distributions ("Debian:12").
	Ecosystem string
	// Name is the name advisories use: the source package for a distro
	// package.
	Name    string
	Version string
}

// Match is an advisory that affects a package.
type Match struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// Fixed is the lowest version that fixes it above the one installed
	// ("" when none is known).
	Fixed string `json:"fixed,omitempty"`
	// Severity is critical, high, medium, low, or "" when the advisory
	// gives none; Score the CVSS base score when one is given.
	Severity string  `json:"severity,omitempty"`
	Score    float64 `json:"score,omitempty"`
	// Ecosystem and Package name the advisory's entry that matched.
	Ecosystem string `json:"ecosystem"`
	Package   string `json:"package"`
	// Withdrawn never matches; Vuln is the record.
	Vuln *Vuln `json:"-"`
}

// Match lists the advisories that affect a package version, sorted by ID.
// An advisory about the same package through several entries counts once.
func (db *DB) Match(q Query) []Match {
	if db == nil || q.Version == "" {
		return nil
	}
	var out []Match
	for _, v := range db.byKey[key(q.Ecosystem, q.Name)] {
		for _, a := range v.Affected {
			if !sameEcosystem(a.Package.Ecosystem, q.Ecosystem) || normalize(base(q.Ecosystem), a.Package.Name) != normalize(base(q.Ecosystem), q.Name) {
				continue
			}
			hit, fixed := affects(a, q)
			if !hit {
				continue
			}
			m := Match{ID: v.ID, Aliases: v.Aliases, Summary: v.Summary, Fixed: fixed, Ecosystem: a.Package.Ecosystem, Package: a.Package.Name, Vuln: v}
			m.Severity, m.Score = severityOf(v, a)
			out = append(out, m)
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sameEcosystem: an advisory for "Debian:12" is for Debian 12 only; one for
// "Debian" (no release) for every release.
func sameEcosystem(advisory, pkg string) bool {
	if advisory == pkg || advisory == pkg+":LTS" {
		return true // Ubuntu's records name LTS releases "Ubuntu:22.04:LTS"
	}
	if b := base(pkg); b == "Red Hat" && strings.HasPrefix(advisory, "Red Hat:") {
		// "Red Hat:enterprise_linux:9::appstream" for a RHEL 9 image.
		parts := strings.Split(advisory, ":")
		_, major, _ := strings.Cut(pkg, ":")
		return len(parts) >= 3 && strings.HasPrefix(parts[1], "enterprise_linux") && parts[2] == major
	}
	return !strings.Contains(advisory, ":") && advisory == base(pkg)
}

// comparable is the version as the ecosystem's comparator reads it (Go's
// module versions carry a v that OSV's Go records leave out).
func comparable(eco, v string) string {
	if base(eco) == "Go" {
		return strings.TrimPrefix(v, "v")
	}
	return v
}

// affects applies an affected entry's explicit versions and ranges to a
// version, as OSV's evaluation defines it; fixed is the first fix above it.
func affects(a Affected, q Query) (hit bool, fixed string) {
	eco := base(q.Ecosystem)
	version := comparable(eco, q.Version)
	for _, v := range a.Versions {
		if comparable(eco, v) == version {
			hit = true
		}
	}
	for _, r := range a.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue // GIT ranges name commits, not versions
		}
		in, fix, ok := inRange(eco, version, r.Events)
		if !ok {
			continue
		}
		if in {
			hit = true
			if fix != "" && (fixed == "" || less(eco, fix, fixed)) {
				fixed = fix
			}
		}
	}
	return hit, fixed
}

// inRange walks a range's events in version order: introduced opens it
// ("0" is before every version), fixed and limit close it at their version,
// last_affected just after. ok is false when a version of the range cannot
// be read by the ecosystem's comparator.
func inRange(eco, version string, events []Event) (in bool, fixed string, ok bool) {
	type point struct {
		v    string
		kind string
	}
	var ps []point
	var limits []string
	for _, e := range events {
		switch {
		case e.Introduced != "":
			ps = append(ps, point{comparable(eco, e.Introduced), "introduced"})
		case e.Fixed != "":
			ps = append(ps, point{comparable(eco, e.Fixed), "fixed"})
		case e.LastAffected != "":
			ps = append(ps, point{comparable(eco, e.LastAffected), "last_affected"})
		case e.Limit != "":
			limits = append(limits, comparable(eco, e.Limit))
		}
	}
	var bad bool
	cmp := func(a, b string) int {
		if a == b {
			return 0
		}
		if a == "0" {
			return -1
		}
		if b == "0" {
			return 1
		}
		c, err := Compare(eco, a, b)
		if err != nil {
			bad = true
		}
		return c
	}
	sort.SliceStable(ps, func(i, j int) bool { return cmp(ps[i].v, ps[j].v) < 0 })
	for _, p := range ps {
		c := cmp(version, p.v)
		switch p.kind {
		case "introduced":
			if p.v == "0" || c >= 0 {
				in = true
			}
		case "fixed":
			if c >= 0 {
				in = false
			} else if in && fixed == "" {
				fixed = p.v
			}
		case "last_affected":
			if c > 0 {
				in = false
			}
		}
	}
	if in && len(limits) > 0 {
		// Limits bound the range as a whole: below one of them.
		below := false
		for _, l := range limits {
			if cmp(version, l) < 0 {
				below = true
			}
		}
		in = below
	}
	if !in {
		fixed = ""
	}
	return in, fixed, !bad
}

func less(eco, a, b string) bool {
	c, err := Compare(eco, a, b)
	return err == nil && c < 0
}

// severityOf is the advisory's severity: a CVSS vector's base score (the
// package entry's before the record's), or a severity word the database
// gives.
func severityOf(v *Vuln, a Affected) (string, float64) {
	for _, list := range [][]Severity{a.Severity, v.Severity} {
		for _, s := range list {
			if strings.HasPrefix(s.Type, "CVSS_V3") || strings.HasPrefix(s.Score, "CVSS:3") {
				if score, ok := CVSS3(s.Score); ok {
					return scoreWord(score), score
				}
			}
		}
	}
	for _, m := range []map[string]any{a.DatabaseSpecific, a.EcosystemSpecific, v.DatabaseSpecific} {
		if w, ok := m["severity"].(string); ok {
			switch strings.ToLower(w) {
			case "critical":
				return "critical", 0
			case "high", "important":
				return "high", 0
			case "medium", "moderate":
				return "medium", 0
			case "low", "negligible", "unimportant":
				return "low", 0
			}
		}
	}
	return "", 0
}

func scoreWord(s float64) string {
	switch {
	case s >= 9:
		return "critical"
	case s >= 7:
		return "high"
	case s >= 4:
		return "medium"
	case s > 0:
		return "low"
	}
	return ""
}
