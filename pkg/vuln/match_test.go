package vuln

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMatchGolden matches packages against advisories written for the test:
// distro releases, a distro package named by its source, upstream records
// that do not apply, several ranges, last_affected, explicit versions,
// withdrawn records, PEP 503 names, Go's v prefix.
func TestMatchGolden(t *testing.T) {
	db, err := Load("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	if db.Count != 11 || db.Withdrawn != 1 || len(db.Errors) != 1 {
		t.Errorf("loaded %d records, %d withdrawn, errors %v; want 11, 1 and the broken file", db.Count, db.Withdrawn, db.Errors)
	}
	queries := []Query{
		{"Debian:12", "openssl", "3.0.11-1~deb12u2"},               // DSA-9001-1, fixed 3.0.13-1~deb12u1
		{"Debian:12", "openssl", "3.0.13-1~deb12u1"},               // fixed
		{"Debian:12", "glibc", "2.36-9+deb12u4"},                   // between the ranges: not affected
		{"Debian:12", "glibc", "2.36-9+deb12u6"},                   // second range
		{"Debian:12", "bash", "5.2.15-2+b2"},                       // nothing
		{"npm", "express", "4.17.1"},                               // first range; the withdrawn one not
		{"npm", "express", "5.0.0"},                                // second range
		{"npm", "express", "4.18.0"},                               // between
		{"PyPI", "urllib3", "1.26.5"},                              // last_affected 1.26.17: no fix known
		{"PyPI", "urllib3", "1.24.3"},                              // an explicit version
		{"PyPI", "urllib3", "1.26.18"},                             // after last_affected
		{"Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"}, // critical
		{"Go", "golang.org/x/text", "v0.3.7"},                      // the v prefix
		{"Go", "golang.org/x/text", "v0.20.0"},
		{"Go", "stdlib", "1.22.5"},
		{"Alpine:v3.20", "openssl", "3.3.2-r0"},
		{"Alpine:v3.19", "openssl", "3.3.2-r0"},
	}
	type row struct {
		Query   Query   `json:"query"`
		Matches []Match `json:"matches"`
	}
	var rows []row
	for _, q := range queries {
		rows = append(rows, row{q, db.Match(q)})
	}
	got, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "match.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("matches differ from %s (run with -update):\n%s", golden, got)
	}
}

func TestCVSS3(t *testing.T) {
	for vector, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10.0,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N": 6.5,
		"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N": 5.5,
		"CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N": 2.0,
		"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N": 6.4,
		"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N": 0,
	} {
		got, ok := CVSS3(vector)
		if !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", vector, got, ok, want)
		}
	}
	for _, bad := range []string{"", "CVSS:2.0/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N"} {
		if _, ok := CVSS3(bad); ok {
			t.Errorf("%q read as a vector", bad)
		}
	}
}

func FuzzLoadRecord(f *testing.F) {
	data, _ := os.ReadFile("testdata/osv/GHSA-log4j.json")
	f.Add(data)
	f.Add([]byte(`[{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"limit":"1"}]}]}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		db := &DB{byKey: map[string][]*Vuln{}}
		db.add("fuzz", data)
		for _, vs := range db.byKey {
			for _, v := range vs {
				for _, a := range v.Affected {
					db.Match(Query{a.Package.Ecosystem, a.Package.Name, "1.0.0"})
				}
			}
		}
	})
}

// TestEcosystemsAndLimits: Ubuntu's LTS records, Red Hat's product records,
// limit events, one record per ID.
func TestEcosystemsAndLimits(t *testing.T) {
	db := &DB{byKey: map[string][]*Vuln{}}
	add := func(rec string) { db.add("t", []byte(rec)) }
	add(`{"id":"USN-1","affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.2-0ubuntu1.10"}]}]}]}`)
	add(`{"id":"RHSA-1","affected":[{"package":{"ecosystem":"Red Hat:enterprise_linux:9::appstream","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-25.el9"}]}]}]}`)
	add(`{"id":"LIM-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"limit":"2.0.0"},{"introduced":"3.0.0"}]}]}]}`)
	add(`{"id":"DUP-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"y"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`)
	add(`{"id":"DUP-1","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"y"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}]}`)
	dir := t.TempDir()
	for i, rec := range []string{`{"id":"DUP-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"y"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`,
		`{"id":"DUP-1","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"y"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}]}`} {
		if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".json"), []byte(rec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		db   *DB
		q    Query
		want string
	}{
		{db, Query{"Ubuntu:22.04", "openssl", "3.0.2-0ubuntu1.9"}, "USN-1"},
		{db, Query{"Ubuntu:20.04", "openssl", "3.0.2-0ubuntu1.9"}, ""},
		{db, Query{"Red Hat:9", "openssl", "1:3.0.7-24.el9"}, "RHSA-1"},
		{db, Query{"Red Hat:8", "openssl", "1:3.0.7-24.el9"}, ""},
		{db, Query{"npm", "x", "1.5.0"}, "LIM-1"},
		{db, Query{"npm", "x", "3.5.0"}, ""}, // at or above every limit
		{loaded, Query{"npm", "y", "1.5.0"}, "DUP-1 fixed 2.0.0"},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range tt.db.Match(tt.q) {
			s := m.ID
			if strings.HasPrefix(m.ID, "DUP") {
				s += " fixed " + m.Fixed
			}
			got = append(got, s)
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("%+v: %v, want %q", tt.q, got, tt.want)
		}
	}
}
