package suppress

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"time"

	"github.com/rampart-k8s/rampart/pkg/check"
	rfile "github.com/rampart-k8s/rampart/pkg/file"
)

// Exception is a configured suppression: globs over check, kind, namespace,
// name and container (empty matches anything), a reason, and an optional
// expiry date from which it no longer applies.
type Exception struct {
	Check, Kind, Namespace, Name, Container string
	Reason                                  string
	Expires                                 time.Time // zero: never
	// Source names where it was configured, e.g. .rampart.yaml:12.
	Source string
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// Matches reports whether the exception covers a finding on container.
func (e Exception) Matches(f check.Finding, container string) bool {
	return glob(e.Check, f.CheckID) && glob(e.Kind, f.Object.Kind) && glob(e.Namespace, f.Object.Namespace) &&
		glob(e.Name, f.Object.Name) && (e.Container == "" || glob(e.Container, container))
}

// Expired reports whether the exception no longer applies on day now.
func (e Exception) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// Kinds of suppression, as SARIF names them.
const (
	InSource = "inSource" // an annotation on the object
	External = "external" // configuration or baseline
)

// Suppressed is a finding that a suppression silenced.
type Suppressed struct {
	check.Finding
	// Kind is InSource or External; By says which: annotation, exception or
	// baseline; Justification is the reason given.
	Kind          string `json:"kind"`
	By            string `json:"by"`
	Justification string `json:"justification"`
	// Baseline is set when the baseline suppressed it (a baseline written
	// again keeps it).
	Baseline bool `json:"-"`
}

// Baseline is a set of known findings: a scan with it reports only new ones.
// Entries are keyed by check, object and field, not line, so that edits
// elsewhere in a file do not resurface them.
type Baseline struct {
	Path string
	// checks maps each entry's fingerprint (Key) to its check ID.
	checks map[string]string
}

// Entries maps each known finding's fingerprint (Key) to its check ID.
func (b *Baseline) Entries() map[string]string {
	if b == nil {
		return nil
	}
	return b.checks
}

type baselineFile struct {
	Version  int             `json:"version"`
	Findings []baselineEntry `json:"findings"`
}

type baselineEntry struct {
	CheckID     string `json:"checkID"`
	Object      string `json:"object"`
	Field       string `json:"field"`
	Fingerprint string `json:"fingerprint"`
}

// Key identifies a finding across scans.
func Key(f check.Finding) string {
	h := sha256.Sum256([]byte(f.CheckID + "\x00" + f.Object.APIVersion + "\x00" + f.Object.String() + "\x00" + f.Field))
	return hex.EncodeToString(h[:12])
}

// Has reports whether the baseline knows f.
func (b *Baseline) Has(f check.Finding) bool {
	if b == nil {
		return false
	}
	_, ok := b.checks[Key(f)]
	return ok
}

// LoadBaseline reads a baseline written by WriteBaseline.
func LoadBaseline(file string) (*Baseline, error) {
	data, err := os.ReadFile(file) //nolint:gosec // the user names the file
	if err != nil {
		return nil, fmt.Errorf("reading baseline: %w", err)
	}
	var bf baselineFile
	if err := json.Unmarshal(data, &bf); err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", file, err)
	}
	if bf.Version != 1 {
		return nil, fmt.Errorf("reading baseline %s: unsupported version %d", file, bf.Version)
	}
	b := &Baseline{Path: file, checks: map[string]string{}}
	for _, e := range bf.Findings {
		b.checks[e.Fingerprint] = e.CheckID
	}
	return b, nil
}

// WriteBaseline writes the findings as a baseline, sorted and deduplicated.
func WriteBaseline(file string, findings []check.Finding) error {
	seen := map[string]bool{}
	bf := baselineFile{Version: 1, Findings: []baselineEntry{}}
	for _, f := range findings {
		k := Key(f)
		if seen[k] {
			continue
		}
		seen[k] = true
		bf.Findings = append(bf.Findings, baselineEntry{CheckID: f.CheckID, Object: f.Object.String(), Field: f.Field, Fingerprint: k})
	}
	sort.Slice(bf.Findings, func(i, j int) bool {
		a, b := bf.Findings[i], bf.Findings[j]
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.CheckID != b.CheckID {
			return a.CheckID < b.CheckID
		}
		return a.Field < b.Field
	})
	data, err := json.MarshalIndent(bf, "", "  ")
	if err != nil {
		return fmt.Errorf("writing baseline: %w", err)
	}
	if err := rfile.WriteAtomic(file, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing baseline: %w", err)
	}
	return nil
}

// Rules are the suppressions of one scan besides annotations.
type Rules struct {
	Exceptions []Exception
	Baseline   *Baseline
	// Now is the day exceptions' expiry is judged against.
	Now time.Time
	// NoAnnotations ignores the objects' own rampart.dev/ignore
	// annotations (admission: an author must not switch a check off for
	// their own object; the configuration's exceptions still apply).
	NoAnnotations bool
}

// Match silences a finding by a configured exception that has not expired
// or by the baseline. An expired exception that matches silences nothing:
// note says so, to be added to the finding's message.
func (r *Rules) Match(f check.Finding, container string) (s *Suppressed, note string) {
	if r == nil {
		return nil, ""
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, e := range r.Exceptions {
		if !e.Matches(f, container) {
			continue
		}
		if e.Expired(now) {
			note = fmt.Sprintf(" (the exception at %s expired on %s: %s)", e.Source, e.Expires.Format("2006-01-02"), e.Reason)
			continue
		}
		just := e.Reason
		if !e.Expires.IsZero() {
			just += " (until " + e.Expires.Format("2006-01-02") + ")"
		}
		return &Suppressed{Finding: f, Kind: External, By: "exception " + e.Source, Justification: just}, note
	}
	if r.Baseline.Has(f) {
		return &Suppressed{Finding: f, Kind: External, By: "baseline " + r.Baseline.Path, Justification: "known finding recorded in the baseline", Baseline: true}, note
	}
	return nil, note
}

// Filter splits findings that have no object annotations (benchmark
// results, for one) into the ones reported and the ones silenced.
func (r *Rules) Filter(fs []check.Finding) (kept []check.Finding, silenced []Suppressed, expired int) {
	for _, f := range fs {
		s, note := r.Match(f, "")
		if note != "" {
			expired++
		}
		if s != nil {
			silenced = append(silenced, *s)
			continue
		}
		f.Message += note
		kept = append(kept, f)
	}
	return kept, silenced, expired
}
