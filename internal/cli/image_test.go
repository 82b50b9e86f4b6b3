package cli

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

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
	if r := rampart(t, "", "image", "scan"); r.code != 2 {
		t.Errorf("no image: exit %d", r.code)
	}
}
