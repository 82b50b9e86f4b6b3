// Package vuln matches packages against vulnerability advisories in the OSV
// format (https://ossf.github.io/osv-schema/): a local database of OSV JSON
// files, versions compared by each ecosystem's own rules, distro advisories
// for distro packages (by their source package), withdrawn advisories left
// out.
package vuln

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Vuln is an OSV record (the fields matching reads).
type Vuln struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Published time.Time  `json:"published"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"`
	Aliases   []string   `json:"aliases"`
	Related   []string   `json:"related"`
	Summary   string     `json:"summary"`
	Details   string     `json:"details"`
	Severity  []Severity `json:"severity"`
	Affected  []Affected `json:"affected"`
	// DatabaseSpecific may hold a severity word (GitHub: "HIGH").
	DatabaseSpecific map[string]any `json:"database_specific"`
	References       []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"references"`
}

// Severity is a scored severity (CVSS_V3, CVSS_V4, Ubuntu, ...).
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is the package an advisory is about, and its versions.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity          []Severity     `json:"severity"`
	Ranges            []Range        `json:"ranges"`
	Versions          []string       `json:"versions"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific"`
	DatabaseSpecific  map[string]any `json:"database_specific"`
}

// Range is a version range: events in order.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo"`
	Events []Event `json:"events"`
}

// Event starts or ends a range.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// DB is an index of advisories by ecosystem and package name.
type DB struct {
	// byKey: "ecosystem base|normalized name" (Debian|openssl).
	byKey map[string][]*Vuln
	// Count is the number of records loaded; Withdrawn of them were left
	// out.
	Count, Withdrawn int
	// Updated is the newest record's modification time.
	Updated time.Time
	// Errors are files that could not be read (the rest still is).
	Errors []error
}

// maxRecord bounds one OSV file.
const maxRecord = 32 << 20

// Load reads every OSV JSON file under dir (and the JSON files inside .zip
// files there, as OSV's per-ecosystem exports come).
func Load(dir string) (*DB, error) {
	db := &DB{byKey: map[string][]*Vuln{}}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--db: %s is not a folder", dir)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			db.Errors = append(db.Errors, err)
			return nil
		}
		if d.IsDir() || d.Name() == MetadataFile {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json":
			data, err := readBounded(p)
			if err != nil {
				db.Errors = append(db.Errors, err)
				return nil
			}
			db.add(p, data)
		case ".zip":
			db.addZip(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, vs := range db.byKey {
		// One record per ID (the exports repeat a record in each
		// ecosystem it names): the newest.
		sort.SliceStable(vs, func(i, j int) bool {
			if vs[i].ID != vs[j].ID {
				return vs[i].ID < vs[j].ID
			}
			return vs[i].Modified.After(vs[j].Modified)
		})
		out := vs[:0]
		for i, v := range vs {
			if i == 0 || v.ID != vs[i-1].ID {
				out = append(out, v)
			}
		}
		db.byKey[k] = out
	}
	return db, nil
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p) //nolint:gosec // a file of the database folder the user names
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecord {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxRecord)
	}
	return data, nil
}

func (db *DB) addZip(p string) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		db.Errors = append(db.Errors, fmt.Errorf("%s: %w", p, err))
		return
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if !strings.HasSuffix(strings.ToLower(zf.Name), ".json") || zf.UncompressedSize64 > maxRecord {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			db.Errors = append(db.Errors, fmt.Errorf("%s!%s: %w", p, zf.Name, err))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxRecord))
		_ = rc.Close()
		if err != nil {
			db.Errors = append(db.Errors, fmt.Errorf("%s!%s: %w", p, zf.Name, err))
			continue
		}
		db.add(p+"!"+zf.Name, data)
	}
}

func (db *DB) add(name string, data []byte) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return
	}
	var vs []*Vuln
	if data[0] == '{' && bytes.Contains(data[:min(len(data), 64)], []byte(`"vulns"`)) {
		// An OSV API answer: {"vulns": [...]}.
		var wrapped struct {
			Vulns []*Vuln `json:"vulns"`
		}
		if err := json.Unmarshal(data, &wrapped); err == nil && len(wrapped.Vulns) > 0 {
			vs = wrapped.Vulns
		}
	}
	switch {
	case vs != nil:
	case data[0] == '[':
		if err := json.Unmarshal(data, &vs); err != nil {
			db.Errors = append(db.Errors, fmt.Errorf("%s: %w", name, err))
			return
		}
	default:
		var v Vuln
		if err := json.Unmarshal(data, &v); err != nil {
			db.Errors = append(db.Errors, fmt.Errorf("%s: %w", name, err))
			return
		}
		vs = []*Vuln{&v}
	}
	for _, v := range vs {
		if v.ID == "" {
			db.Errors = append(db.Errors, fmt.Errorf("%s: a record without an id", name))
			continue
		}
		db.Count++
		if v.Modified.After(db.Updated) {
			db.Updated = v.Modified
		}
		if v.Withdrawn != nil {
			db.Withdrawn++
			continue
		}
		seen := map[string]bool{}
		for _, a := range v.Affected {
			k := key(a.Package.Ecosystem, a.Package.Name)
			if !seen[k] {
				seen[k] = true
				db.byKey[k] = append(db.byKey[k], v)
			}
		}
	}
}

// base is an ecosystem without its release ("Debian:12" → "Debian").
func base(eco string) string {
	b, _, _ := strings.Cut(eco, ":")
	return b
}

// key indexes a package: the ecosystem's base and the name as the
// ecosystem compares names.
func key(eco, name string) string {
	return base(eco) + "|" + normalize(base(eco), name)
}

// normalize spells a name as its ecosystem compares it (PyPI: PEP 503).
func normalize(eco, name string) string {
	if eco == "PyPI" {
		name = strings.ToLower(name)
		r := strings.NewReplacer("_", "-", ".", "-")
		for {
			n := r.Replace(name)
			n = strings.ReplaceAll(n, "--", "-")
			if n == name {
				return name
			}
			name = n
		}
	}
	return name
}

// ErrNoDB is returned when no database is given.
var ErrNoDB = errors.New("no vulnerability database: give --db DIR (OSV JSON files) or run rampart db update")
