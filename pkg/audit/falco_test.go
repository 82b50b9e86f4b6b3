package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// falcoCase is one test of Falco's k8s_audit regression tests, in its
// runner's format.
type falcoCase struct {
	Detect          bool             `json:"detect"`
	DetectLevel     string           `json:"detect_level"`
	DetectCounts    []map[string]int `json:"detect_counts"`
	RulesFile       []string         `json:"rules_file"`
	AddlCmdlineOpts string           `json:"addl_cmdline_opts"`
	StderrContains  string           `json:"stderr_contains"`
}

// renamed are rule names the tests file uses that Falco has since renamed
// (the tests predate the split of the Role/ClusterRole activity rules).
var renamed = map[string]string{
	"K8s Role/Clusterrole Created":        "K8s ClusterRole Created",
	"K8s Role/Clusterrole Deleted":        "K8s ClusterRole Deleted",
	"K8s Role/Clusterrolebinding Created": "K8s ClusterRoleBinding Created",
	"K8s Role/Clusterrolebinding Deleted": "K8s ClusterRoleBinding Deleted",
}

var traceFile = regexp.MustCompile(`trace_files/k8s_audit/(\S+)`)

// TestFalcoRegression runs Falco's k8s_audit regression tests: each trace
// through the built-in rules and the override files the test names; the
// alerts per rule are the counts the test expects, at its level; a test
// that expects nothing gets no alert at all.
func TestFalcoRegression(t *testing.T) {
	data, err := os.ReadFile("testdata/falco/falco_k8s_audit_tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceFiles map[string]falcoCase `json:"trace_files"`
	}
	if err := yaml.Unmarshal([]byte(strings.Replace(string(data), "!mux", "", 1)), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.TraceFiles) != 66 {
		t.Fatalf("%d tests, want Falco's 66", len(doc.TraceFiles))
	}
	names := make([]string, 0, len(doc.TraceFiles))
	for n := range doc.TraceFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		tc := doc.TraceFiles[name]
		t.Run(name, func(t *testing.T) {
			rs := NewRuleset()
			for _, f := range tc.RulesFile {
				base := filepath.Base(f)
				switch base {
				case "falco_rules.yaml": // Falco's system-call rules: nothing for audit events
				case "k8s_audit_rules.yaml", "engine_v4_k8s_audit_rules.yaml":
					if len(rs.order) == 0 {
						rs = Builtin()
					}
				default:
					data, err := os.ReadFile(filepath.Join("testdata/falco/rules", base))
					if err != nil {
						t.Fatal(err)
					}
					if err := rs.Add(base, data); err != nil {
						t.Fatal(err)
					}
				}
			}
			rules, err := rs.Compile()
			if err != nil {
				t.Fatal(err)
			}
			m := traceFile.FindStringSubmatch(tc.AddlCmdlineOpts)
			if m == nil {
				t.Fatalf("no trace in %q", tc.AddlCmdlineOpts)
			}
			f, err := os.Open(filepath.Join("testdata/falco/traces", m[1]))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d := NewDetector(rules)
			var alerts []Alert
			var inputErrors []string
			var r Reader
			err = r.Read(m[1], f, func(e Event) error {
				alerts = d.Detect(e, alerts)
				return nil
			}, func(e InputError) { inputErrors = append(inputErrors, e.Error()) })
			if err != nil {
				t.Fatal(err)
			}
			if tc.StderrContains != "" && !strings.Contains(strings.Join(inputErrors, "\n"), tc.StderrContains) {
				t.Errorf("errors %q, want one containing %q", inputErrors, tc.StderrContains)
			}
			if tc.StderrContains == "" && len(inputErrors) > 0 {
				t.Errorf("input errors: %v", inputErrors)
			}
			counts := map[string]int{}
			for _, a := range alerts {
				counts[a.Rule]++
			}
			if !tc.Detect {
				if len(alerts) > 0 {
					t.Errorf("want no alert, got %v", counts)
				}
				return
			}
			for _, want := range tc.DetectCounts {
				for rule, n := range want {
					if r, ok := renamed[rule]; ok {
						rule = r
					}
					if counts[rule] != n {
						t.Errorf("%s: %d alerts, want %d (all: %v)", rule, counts[rule], n, counts)
					}
				}
			}
			level, err := severityOf(&Item{Priority: tc.DetectLevel})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, a := range alerts {
				found = found || a.Severity == level
			}
			if !found {
				t.Errorf("no alert at %s (%s); got %v", tc.DetectLevel, level, counts)
			}
		})
	}
}

func TestBuiltinRulesCompile(t *testing.T) {
	rs := Builtin()
	rules, err := rs.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.order) < 48 {
		t.Errorf("%d built-in rules, want Falco's 48 and more", len(rs.order))
	}
	// Those Falco leaves off by default (their macros make the condition
	// false) are not evaluated at all.
	active := map[string]bool{}
	for _, r := range rules {
		active[r.Name] = true
	}
	var off []string
	for _, name := range rs.order {
		if !active[name] {
			off = append(off, name)
		}
	}
	if want := "[Create Disallowed Pod All K8s Audit Events Full K8s Administrative Access Untrusted Node Successfully Joined the Cluster Untrusted Node Unsuccessfully Tried to Join the Cluster]"; fmt.Sprint(off) != want {
		t.Errorf("off by default: %v, want %s", off, want)
	}
	for _, r := range rules {
		if r.Desc == "" || r.Output == "" || len(r.MITRE) == 0 || r.Remediation == "" {
			t.Errorf("%s: each rule has a description, an output, a MITRE ATT&CK technique and a remediation", r.Name)
		}
	}
}
