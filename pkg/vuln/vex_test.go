package vuln

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVEX(t *testing.T) {
	dir := t.TempDir()
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex-1", "author": "shop team",
 "statements": [
  {"vulnerability": {"name": "CVE-2099-0001"}, "products": [{"@id": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path", "impact_statement": "TLS is terminated by the mesh"},
  {"vulnerability": {"name": "GHSA-aaaa-bbbb-cccc"}, "products": [{"@id": "registry.example.com/shop/api:1.0", "subcomponents": [{"@id": "pkg:npm/express@4.17.1"}]}],
   "status": "fixed"},
  {"vulnerability": {"name": "CVE-2021-44228"}, "products": [{"@id": "registry.example.com/shop/api:1.0"}], "status": "under_investigation"},
  {"vulnerability": "PYSEC-2099-6", "products": ["pkg:pypi/urllib3@1.26.5"], "status": "not_affected", "justification": "component_not_present"},
  {"vulnerability": "PYSEC-2099-6", "products": ["pkg:pypi/urllib3@1.26.5"], "status": "affected"}
 ]}`
	f := filepath.Join(dir, "vex.json")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := LoadVEX(f)
	if err != nil {
		t.Fatal(err)
	}
	const img = "registry.example.com/shop/api:1.0"
	tests := []struct {
		ids        []string
		purl, want string
		silenced   bool
	}{
		{[]string{"DSA-9001-1", "CVE-2099-0001"}, "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", "TLS is terminated by the mesh", true},
		{[]string{"GHSA-aaaa-bbbb-cccc"}, "pkg:npm/express@4.17.1", "VEX fixed", true},
		{[]string{"GHSA-aaaa-bbbb-cccc"}, "pkg:npm/lodash@4.17.20", "", false},
		{[]string{"GHSA-jfh8-c2jp-5v3q", "CVE-2021-44228"}, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "", false},
		{[]string{"PYSEC-2099-6"}, "pkg:pypi/urllib3@1.26.5", "", false}, // a later statement says affected
		{[]string{"CVE-2099-0001"}, "pkg:deb/debian/libssl3@3.0.13-1", "", false},
	}
	for _, tt := range tests {
		reason, ok := v.Silences(tt.ids, tt.purl, img, "sha256:abc")
		if ok != tt.silenced || !strings.Contains(reason, tt.want) {
			t.Errorf("%v %s: %v %q", tt.ids, tt.purl, ok, reason)
		}
	}
	for name, bad := range map[string]string{
		"not openvex": `{"@context": "https://cyclonedx.org", "statements": []}`,
		"bad status":  `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "X", "products": ["p"], "status": "maybe"}]}`,
		"no reason":   `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "X", "products": ["p"], "status": "not_affected"}]}`,
		"not json":    `{`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadVEX(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
