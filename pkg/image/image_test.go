package image_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/image/imagetest"
)

func summary(ps []image.Package) []string {
	var out []string
	for _, p := range ps {
		v := p.Version
		if p.Type == "go-stdlib" || p.Type == "go-module" {
			v = "V" // the toolchain's and go.mod's
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s layer%d %s src=%s", p.Type, p.Ecosystem, p.Name, v, p.Path, p.Layer, strings.Split(p.PURL, "@")[0], p.Source))
	}
	return out
}

// TestSameInventoryFromEverySource reads one image from an in-process
// registry, an OCI layout and a docker save tarball: the same packages,
// whiteouts honoured, each with the layer that added it.
func TestSameInventoryFromEverySource(t *testing.T) {
	img := imagetest.Debian(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/shop/api:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "image.tar")
	tag, _ := name.NewTag("shop/api:1.0")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"deb Debian:12 bash 5.2.15-2+b2 /var/lib/dpkg/status layer0 pkg:deb/debian/bash src=bash",
		"deb Debian:12 libc6 2.36-9+deb12u4 /var/lib/dpkg/status layer0 pkg:deb/debian/libc6 src=glibc",
		"deb Debian:12 libssl3 3.0.11-1~deb12u2 /var/lib/dpkg/status layer0 pkg:deb/debian/libssl3 src=openssl",
		"go-module Go golang.org/x/text V /usr/local/bin/tool layer1 pkg:golang/golang.org/x/text src=",
		"go-stdlib Go stdlib V /usr/local/bin/tool layer1 pkg:golang/stdlib src=",
		"maven Maven org.apache.logging.log4j:log4j-core 2.14.1 /app/lib/app.jar layer1 pkg:maven/org.apache.logging.log4j/log4j-core src=",
		"npm npm @babel/core 7.22.0 /app/node_modules/@babel/core/package.json layer1 pkg:npm/%40babel/core src=",
		"npm npm express 4.17.1 /app/node_modules/express/package.json layer2 pkg:npm/express src=",
		"npm npm minimist 1.2.5 /srv/web/package-lock.json layer1 pkg:npm/minimist src=",
		"npm npm qs 6.5.2 /srv/web/package-lock.json layer1 pkg:npm/qs src=",
		"pypi PyPI urllib3 1.26.5 /usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/METADATA layer2 pkg:pypi/urllib3 src=",
	}
	for _, src := range []image.Source{{Ref: host + "/shop/api:1.0", Insecure: true}, {OCILayout: filepath.Join(dir, "layout")}, {DockerArchive: tarPath}} {
		t.Run(src.String()[:8], func(t *testing.T) {
			got, err := image.Open(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			fsys, err := image.Flatten(got)
			if err != nil {
				t.Fatal(err)
			}
			if s := summary(fsys.Packages()); !slices.Equal(s, want) {
				t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
			}
			if len(fsys.Layers) != 3 || fsys.Files["/app/node_modules/lodash/package.json"] != nil || fsys.Files["/bin/sh"].Link != "bash" {
				t.Errorf("layers %d, lodash %v", len(fsys.Layers), fsys.Files["/app/node_modules/lodash/package.json"])
			}
			if d := fsys.OS(); d.ID != "debian" || d.Version != "12" {
				t.Errorf("os %+v", d)
			}
		})
	}
}

func TestAlpine(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t,
		imagetest.Entry{Path: "/etc/os-release", Data: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"},
		imagetest.Entry{Path: "/lib/apk/db/installed", Data: "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nC:Q1def=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\n"},
	))
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := image.Flatten(img)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(fsys.Packages())
	want := []string{
		"apk Alpine:v3.20 libcrypto3 3.3.2-r0 /lib/apk/db/installed layer0 pkg:apk/alpine/libcrypto3 src=openssl",
		"apk Alpine:v3.20 musl 1.2.5-r0 /lib/apk/db/installed layer0 pkg:apk/alpine/musl src=musl",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s", strings.Join(got, "\n"))
	}
}

// TestHygiene: root, a shell, a package manager, an end-of-life release, a
// credential in the environment and in the history (never shown).
func TestHygiene(t *testing.T) {
	const token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
	img, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t,
		imagetest.Entry{Path: "/etc/os-release", Data: "PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nID=debian\nVERSION_ID=\"10\"\n"},
		imagetest.Entry{Path: "/bin/bash", Data: "x", Mode: 0o755},
		imagetest.Entry{Path: "/usr/bin/apt-get", Data: "x", Mode: 0o755},
	))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.Config.Env = []string{"PATH=/usr/bin", "GITHUB_TOKEN=" + token}
	cfg.History = []v1.History{{CreatedBy: "RUN curl -H 'Authorization: token " + token + "' https://example.invalid/x"}}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tag, _ := name.NewTag("shop/old:1")
	path := filepath.Join(dir, "old.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	rep, err := image.Scan(context.Background(), image.Source{DockerArchive: path}, image.ScanOptions{Now: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.CheckID+" "+f.Field)
		if strings.Contains(f.Message, token) || strings.Contains(f.Message, "ghp_") {
			t.Errorf("the credential is shown: %s", f.Message)
		}
	}
	want := []string{"image-runs-as-root config.User", "image-secret config.Env[1]", "image-secret history[0].created_by", "image-shell files[/bin/bash]", "image-package-manager files[/usr/bin/apt-get]", "image-end-of-life os"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// TestRPM reads the RPM database of a public CentOS 7 image: go-rpmdb's
// own test data, from its module zip (fetched through the Go module proxy).
func TestRPM(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	db, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata", "centos7-plain", "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t,
		imagetest.Entry{Path: "/etc/os-release", Data: "NAME=\"CentOS Linux\"\nID=\"centos\"\nVERSION_ID=\"7\"\n"},
		imagetest.Entry{Path: "/var/lib/rpm/Packages", Data: string(db)},
	))
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := image.Flatten(img)
	if err != nil {
		t.Fatal(err)
	}
	ps := fsys.Packages()
	found := false
	for _, p := range ps {
		if p.Name == "openssl-libs" {
			found = true
			if p.Version != "1:1.0.2k-12.el7" || p.Source != "openssl" || p.Type != "rpm" || p.Ecosystem != "" ||
				p.PURL != "pkg:rpm/centos/openssl-libs@1.0.2k-12.el7?arch=x86_64&distro=centos-7&epoch=1&upstream=openssl-1.0.2k-12.el7.src.rpm" {
				t.Errorf("openssl-libs: %+v", p)
			}
		}
	}
	if len(ps) < 100 || !found {
		t.Errorf("%d packages, openssl-libs found %v", len(ps), found)
	}
}

// TestLayersAndLinks: hard links to a file of the same layer, an executable
// whose name ends in "ar", a credential in a history command never kept.
func TestLayersAndLinks(t *testing.T) {
	goBin := string(imagetest.GoBinary(t))
	img, err := mutate.AppendLayers(empty.Image,
		imagetest.Layer(t, imagetest.Entry{Path: "/app/node_modules/qs/package.json", Data: `{"name":"qs","version":"1.0.0"}`}),
		imagetest.Layer(t,
			imagetest.Entry{Path: "/app/node_modules/qs/package.json", Data: `{"name":"qs","version":"2.0.0"}`},
			imagetest.Entry{Path: "/app/node_modules/qs2/package.json", Link: "/app/node_modules/qs/package.json", Hard: true},
			imagetest.Entry{Path: "/usr/bin/csi-node-driver-registrar", Data: goBin, Mode: 0o755}),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.History = []v1.History{{CreatedBy: "RUN curl -u admin:hunter2 https://example.invalid"}, {CreatedBy: "/bin/sh -c #(nop) ENV DB_PASSWORD=hunter2 MODE=prod"}}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	fsys, err := image.Flatten(img)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range fsys.Packages() {
		if p.Type == "npm" {
			got = append(got, p.Path+" "+p.Version)
		}
		if p.Type == "go-stdlib" && p.Path != "/usr/bin/csi-node-driver-registrar" {
			t.Errorf("stdlib at %s", p.Path)
		}
	}
	if strings.Join(got, ",") != "/app/node_modules/qs/package.json 2.0.0,/app/node_modules/qs2/package.json 2.0.0" {
		t.Errorf("npm packages %v", got)
	}
	for _, l := range fsys.Layers {
		if strings.Contains(l.CreatedBy, "hunter2") {
			t.Errorf("layer %d keeps a credential: %s", l.Index, l.CreatedBy)
		}
	}
}

// TestNestedJars: a Spring Boot-style JAR of nested JARs lists each nested
// JAR's coordinates at the outer JAR's path (the decompression budget,
// 256 MiB a JAR, is far above them).
func TestNestedJars(t *testing.T) {
	inner := []byte(imagetest.JarWith(t, "org.example", "inner", "1.0"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 50; i++ {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("BOOT-INF/lib/x%d.jar", i), Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(inner); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t, imagetest.Entry{Path: "/app/app.jar", Data: buf.String()}))
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := image.Flatten(img)
	if err != nil {
		t.Fatal(err)
	}
	ps := fsys.Packages()
	if len(ps) != 50 || ps[0].Path != "/app/app.jar" {
		t.Errorf("%d packages, first at %s", len(ps), ps[0].Path)
	}
}
