package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/image/imagetest"
)

// noNetwork fails every HTTP request the process makes while a test runs.
type noNetwork struct{ tries int }

func (n *noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	n.tries++
	return nil, errors.New("network denied by the test")
}

// TestImageScanOffline scans a docker save tarball against the advisories
// written for pkg/vuln's tests, with the network denied in process: the
// vulnerable packages of every ecosystem, each with its layer, the same
// bytes on a second run, and SARIF through the scan's reporter.
func TestImageScanOffline(t *testing.T) {
	deny := &noNetwork{}
	saved := http.DefaultTransport
	http.DefaultTransport = deny
	defer func() { http.DefaultTransport = saved }()

	archive := filepath.Join(t.TempDir(), "image.tar")
	tag, _ := name.NewTag("shop/api:1.0")
	if err := tarball.WriteToFile(archive, tag, imagetest.Debian(t)); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join("..", "..", "pkg", "vuln", "testdata", "osv")
	r := rampart(t, "", "image", "scan", "--docker-archive", archive, "--db", db, "-o", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a critical advisory)\n%s", r.code, r.stderr)
	}
	var rep struct {
		Packages        []struct{ Name string }
		Vulnerabilities []struct {
			Package struct {
				Name  string
				Layer int
			}
			Advisory struct {
				ID, Fixed string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rep.Vulnerabilities {
		got = append(got, v.Advisory.ID+" "+v.Package.Name+" layer"+string(rune('0'+v.Package.Layer))+" fixed "+v.Advisory.Fixed)
	}
	want := []string{
		"DSA-9001-1 libssl3 layer0 fixed 3.0.13-1~deb12u1",
		"GHSA-aaaa-bbbb-cccc express layer2 fixed 4.17.3",
		"GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core layer1 fixed 2.15.0",
		"PYSEC-2099-6 urllib3 layer2 fixed ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("vulnerabilities:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if again := rampart(t, "", "image", "scan", "--docker-archive", archive, "--db", db, "-o", "json"); again.stdout != r.stdout {
		t.Error("a second run gave other bytes")
	}
	if deny.tries > 0 {
		t.Errorf("%d network requests", deny.tries)
	}
	if r := rampart(t, "", "image", "scan", "--docker-archive", archive, "--db", db, "--ignore-unfixed", "-o", "sarif", "--fail-on", "none"); r.code != 0 ||
		!strings.Contains(r.stdout, "image-vulnerability") || strings.Contains(r.stdout, "PYSEC-2099-6") {
		t.Errorf("sarif with --ignore-unfixed: exit %d\n%s", r.code, r.stdout)
	}
	if r := rampart(t, "", "image", "scan", "--docker-archive", archive, "--packages"); r.code != 0 || !strings.Contains(r.stdout, "log4j-core") || !strings.Contains(r.stdout, "packages only") {
		t.Errorf("packages only: exit %d\n%s", r.code, r.stdout)
	}
	// A VEX statement: the advisory is suppressed with its justification.
	vex := filepath.Join(t.TempDir(), "vex.json")
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-2099-0001"},
  "products": [{"@id": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2"}], "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
	if err := os.WriteFile(vex, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rampart(t, "", "image", "scan", "--docker-archive", archive, "--db", db, "--vex", vex, "-o", "json", "--fail-on", "none")
	if strings.Contains(strings.Split(r.stdout, `"suppressed"`)[0], "DSA-9001-1") || !strings.Contains(r.stdout, "vulnerable_code_not_in_execute_path") {
		t.Errorf("with the VEX statement:\n%s", r.stdout)
	}
	// An SBOM of the image, in both formats, scans to the same advisories.
	for _, format := range []string{"cyclonedx", "spdx"} {
		sbom := filepath.Join(t.TempDir(), format+".json")
		if r := rampart(t, "", "image", "sbom", "--docker-archive", archive, "-o", format, "--output-file", sbom); r.code != 0 {
			t.Fatalf("sbom %s: %d %s", format, r.code, r.stderr)
		}
		again := rampart(t, "", "image", "sbom", "--docker-archive", archive, "-o", format)
		if data, _ := os.ReadFile(sbom); string(data) != again.stdout {
			t.Errorf("%s: a second SBOM differs", format)
		}
		r := rampart(t, "", "image", "scan", "--sbom", sbom, "--db", db, "-o", "json")
		var fromSBOM struct {
			Vulnerabilities []struct {
				Package  struct{ Name string }
				Advisory struct{ ID, Fixed string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &fromSBOM); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, r.stderr)
		}
		var ids []string
		for _, v := range fromSBOM.Vulnerabilities {
			ids = append(ids, v.Advisory.ID+" "+v.Package.Name+" fixed "+v.Advisory.Fixed)
		}
		wantIDs := []string{"DSA-9001-1 libssl3 fixed 3.0.13-1~deb12u1", "GHSA-aaaa-bbbb-cccc express fixed 4.17.3", "GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core fixed 2.15.0", "PYSEC-2099-6 urllib3 fixed "}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("%s: from the SBOM %v", format, ids)
		}
	}
	if r := rampart(t, "", "image", "scan"); r.code != 2 {
		t.Errorf("no image: exit %d", r.code)
	}
}

// TestScanImagesOffline: `scan --images` reads each image the manifests
// run once, from an OCI layout of images by reference (no network: every
// HTTP request of the process is denied), and puts its findings at the line
// of each container's image; the pod's runAsUser decides the user.
func TestScanImagesOffline(t *testing.T) {
	deny := &noNetwork{}
	saved := http.DefaultTransport
	http.DefaultTransport = deny
	defer func() { http.DefaultTransport = saved }()

	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	lp, err := layout.Write(cache, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "registry.example.com/shop/api:1.0"
	if err := lp.AppendImage(imagetest.Debian(t), layout.WithAnnotations(map[string]string{image.RefAnnotation: ref})); err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(dir, "k8s")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: ` + ref + `
      - name: sidecar
        image: ` + ref + `
        securityContext:
          runAsUser: 1000
`
	if err := os.WriteFile(filepath.Join(manifests, "api.yaml"), []byte(deploy), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join("..", "..", "pkg", "vuln", "testdata", "osv")
	args := []string{"scan", "--images", "--db", db, "--image-cache", cache, "--disable", "all", "-o", "json", manifests}
	r := rampart(t, "", args...)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := decode(t, r.stdout)
	count := map[string]int{}
	for _, f := range out.Findings {
		count[f.CheckID]++
		if f.Location.Line != 15 && f.Location.Line != 17 {
			t.Errorf("%s at line %d, want the image lines (15, 17)", f.CheckID, f.Location.Line)
		}
	}
	if count["image-vulnerability"] != 8 || count["image-runs-as-root"] != 1 || count["image-shell"] != 2 {
		t.Errorf("findings by check %v; want 4 advisories × 2 containers, root for the first only, a shell for both", count)
	}
	if again := rampart(t, "", args...); again.stdout != r.stdout {
		t.Error("a second run gave other bytes")
	}
	if deny.tries > 0 {
		t.Errorf("%d network requests", deny.tries)
	}
	// An ignore annotation with a reason silences an image check on the
	// object, as for the catalog's checks.
	annotated := strings.Replace(deploy, "  namespace: shop\n", "  namespace: shop\n  annotations:\n    rampart.dev/ignore: \"image-shell: the debug shell is kept on purpose (TICKET-2)\"\n", 1)
	if err := os.WriteFile(filepath.Join(manifests, "api.yaml"), []byte(annotated), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range decode(t, rampart(t, "", args...).stdout).Findings {
		if f.CheckID == "image-shell" {
			t.Errorf("image-shell not silenced by the annotation: %+v", f)
		}
	}
	// An image that is not in the cache, with the network denied: an input
	// error at its line, the rest still scanned.
	other := strings.Replace(deploy, "image: "+ref+"\n      - name: sidecar", "image: registry.example.com/shop/missing:2\n      - name: sidecar", 1)
	if err := os.WriteFile(filepath.Join(manifests, "api.yaml"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rampart(t, "", args...)
	out = decode(t, r.stdout)
	if r.code != 2 || len(out.Errors) != 1 || out.Errors[0].Line != 15 || !strings.Contains(out.Errors[0].Message, "missing:2") || len(out.Findings) == 0 {
		t.Errorf("missing image: exit %d, errors %+v, %d findings", r.code, out.Errors, len(out.Findings))
	}
}

// TestDBUpdate fetches an export from a server on 127.0.0.1 with
// `rampart db update`, then reads it with `db status`.
func TestDBUpdate(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("GHSA-x.json")
	_, _ = w.Write([]byte(`{"id":"GHSA-x","modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"express"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"9.0.0"}]}]}]}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/npm/all.zip" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(buf.Bytes())
	}))
	defer srv.Close()
	dir := t.TempDir()
	if r := rampart(t, "", "db", "update", "--db", dir, "--source", srv.URL, "--ecosystem", "npm"); r.code != 0 || !strings.Contains(r.stdout, "updated   npm") {
		t.Fatalf("update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := rampart(t, "", "db", "update", "--db", dir, "--source", srv.URL, "--ecosystem", "npm,Go"); r.code != 2 || !strings.Contains(r.stderr, "failed    Go") {
		t.Errorf("a failing ecosystem: %d %s", r.code, r.stderr)
	}
	if r := rampart(t, "", "db", "status", "--db", dir); r.code != 0 || !strings.Contains(r.stdout, "1 advisories") || !strings.Contains(r.stdout, "npm ") {
		t.Errorf("status: %d %s", r.code, r.stdout)
	}
}
