package image_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-k8s/rampart/pkg/image"
)

// entry is a file of a test layer; mode 0 is 0644; a Link makes a symlink.
type entry struct {
	path, data string
	mode       int64
	link       string
}

func layer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: strings.TrimPrefix(e.path, "/"), Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.link == "" {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func jarWith(t testing.TB, group, artifact, version string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(fmt.Sprintf("META-INF/maven/%s/%s/pom.properties", group, artifact))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "#Generated\ngroupId=%s\nartifactId=%s\nversion=%s\n", group, artifact, version)
	if _, err := zw.Create("com/example/App.class"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

const dpkgStatus = `Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc (2.36-9+deb12u4)
Version: 2.36-9+deb12u4

Package: removed-one
Status: deinstall ok config-files
Version: 1.0-1
`

// testImage is a Debian-like image in three layers: packages of every kind,
// then whiteouts of a file and of a folder's lower contents.
func testImage(t testing.TB) v1.Image {
	t.Helper()
	goBin := goBinary(t)
	l0 := layer(t,
		entry{path: "/etc/os-release", data: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"},
		entry{path: "/var/lib/dpkg/status", data: dpkgStatus},
		entry{path: "/bin/sh", link: "bash"},
	)
	l1 := layer(t,
		entry{path: "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", data: "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"},
		entry{path: "/app/node_modules/lodash/package.json", data: `{"name":"lodash","version":"4.17.20"}`},
		entry{path: "/app/node_modules/@babel/core/package.json", data: `{"name":"@babel/core","version":"7.22.0"}`},
		entry{path: "/app/lib/app.jar", data: jarWith(t, "org.apache.logging.log4j", "log4j-core", "2.14.1")},
		entry{path: "/usr/local/bin/tool", data: string(goBin), mode: 0o755},
		entry{path: "/usr/local/bin/script", data: strings.Repeat("#!/bin/sh\necho\n", 100), mode: 0o755},
	)
	l2 := layer(t,
		entry{path: "/app/node_modules/.wh.lodash"},
		entry{path: "/app/node_modules/express/package.json", data: `{"name":"express","version":"4.17.1"}`},
		entry{path: "/usr/lib/python3/dist-packages/.wh..wh..opq"},
		entry{path: "/usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/METADATA", data: "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\n"},
	)
	img, err := mutate.AppendLayers(empty.Image, l0, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.User = ""
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var (
	goBinOnce sync.Once
	goBinData []byte
	goBinErr  error
)

// goBinary builds testdata/gobin once: a Go binary with build information.
func goBinary(t testing.TB) []byte {
	t.Helper()
	goBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-gobin-")
		if err != nil {
			goBinErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "tool")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/gobin")
		if b, err := cmd.CombinedOutput(); err != nil {
			goBinErr = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		goBinData, goBinErr = os.ReadFile(out)
	})
	if goBinErr != nil {
		t.Fatal(goBinErr)
	}
	return goBinData
}

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
	img := testImage(t)
	srv := httptest.NewServer(registry.New())
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
	img, err := mutate.AppendLayers(empty.Image, layer(t,
		entry{path: "/etc/os-release", data: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"},
		entry{path: "/lib/apk/db/installed", data: "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nC:Q1def=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\n"},
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
