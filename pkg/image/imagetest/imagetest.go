// Package imagetest builds container images in process for tests: layers
// written by the test (package databases, a Go binary with build
// information, lockfiles, JARs), whiteouts included.
package imagetest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// gobinDir is the folder of the test Go binary's source.
func gobinDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "gobin")
}

// Entry is a file of a test layer; mode 0 is 0644; a Link makes a symlink.
type Entry struct {
	Path, Data string
	Mode       int64
	Link       string
	// Hard makes Link a hard link.
	Hard bool
}

func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: strings.TrimPrefix(e.Path, "/"), Mode: e.Mode, Size: int64(len(e.Data)), Typeflag: tar.TypeReg}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.Link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
			if e.Hard {
				h.Typeflag, h.Linkname = tar.TypeLink, strings.TrimPrefix(e.Link, "/")
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.Link == "" {
			if _, err := tw.Write([]byte(e.Data)); err != nil {
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

func JarWith(t testing.TB, group, artifact, version string) string {
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

// Debian is a Debian-like image in three layers: packages of every kind,
// then whiteouts of a file and of a folder's lower contents.
func Debian(t testing.TB) v1.Image {
	t.Helper()
	goBin := GoBinary(t)
	l0 := Layer(t,
		Entry{Path: "/etc/os-release", Data: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"},
		Entry{Path: "/var/lib/dpkg/status", Data: dpkgStatus},
		Entry{Path: "/bin/sh", Link: "bash"},
	)
	l1 := Layer(t,
		Entry{Path: "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", Data: "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"},
		Entry{Path: "/app/node_modules/lodash/package.json", Data: `{"name":"lodash","version":"4.17.20"}`},
		Entry{Path: "/app/node_modules/@babel/core/package.json", Data: `{"name":"@babel/core","version":"7.22.0"}`},
		Entry{Path: "/srv/web/package-lock.json", Data: `{"name":"web","lockfileVersion":3,"packages":{"":{"name":"web"},"node_modules/minimist":{"version":"1.2.5"},"node_modules/a/node_modules/qs":{"version":"6.5.2"},"../lib":{"link":true}}}`},
		Entry{Path: "/app/lib/app.jar", Data: JarWith(t, "org.apache.logging.log4j", "log4j-core", "2.14.1")},
		Entry{Path: "/usr/local/bin/tool", Data: string(goBin), Mode: 0o755},
		Entry{Path: "/usr/local/bin/script", Data: strings.Repeat("#!/bin/sh\necho\n", 100), Mode: 0o755},
	)
	l2 := Layer(t,
		Entry{Path: "/app/node_modules/.wh.lodash"},
		Entry{Path: "/app/node_modules/express/package.json", Data: `{"name":"express","version":"4.17.1"}`},
		Entry{Path: "/usr/lib/python3/dist-packages/.wh..wh..opq"},
		Entry{Path: "/usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/METADATA", Data: "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\n"},
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

// GoBinary builds testdata/gobin once: a Go binary with build information.
func GoBinary(t testing.TB) []byte {
	t.Helper()
	goBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-gobin-")
		if err != nil {
			goBinErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "tool")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, gobinDir())
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
