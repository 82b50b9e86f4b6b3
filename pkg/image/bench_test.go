package image_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/image/imagetest"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

var (
	benchOnce             sync.Once
	benchArchive, benchDB string
	benchErr              error
)

// benchInputs writes, once, a docker archive of a generated image (500
// Debian packages, 100 MB of incompressible files in 100 files) and an OSV
// folder with two advisories for every package's source.
func benchInputs(b *testing.B) (string, string) {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-image-bench-")
		if err != nil {
			benchErr = err
			return
		}
		var status strings.Builder
		for i := 0; i < 500; i++ {
			fmt.Fprintf(&status, "Package: pkg%03d\nStatus: install ok installed\nArchitecture: amd64\nSource: src%03d\nVersion: 1.%d.0-1\n\n", i, i, i%7)
		}
		l0 := imagetest.Layer(b,
			imagetest.Entry{Path: "/etc/os-release", Data: "ID=debian\nVERSION_ID=\"12\"\n"},
			imagetest.Entry{Path: "/var/lib/dpkg/status", Data: status.String()})
		r := rand.New(rand.NewPCG(7, 7))
		var files []imagetest.Entry
		for i := 0; i < 100; i++ {
			data := make([]byte, 1<<20)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			files = append(files, imagetest.Entry{Path: fmt.Sprintf("/usr/share/data/f%03d.bin", i), Data: string(data)})
		}
		l1 := imagetest.Layer(b, files...)
		img, err := mutate.AppendLayers(empty.Image, l0, l1)
		if err != nil {
			benchErr = err
			return
		}
		benchArchive = filepath.Join(dir, "image.tar")
		tag, _ := name.NewTag("bench/image:1")
		if benchErr = tarball.WriteToFile(benchArchive, tag, img); benchErr != nil {
			return
		}
		benchDB = filepath.Join(dir, "osv")
		if benchErr = os.MkdirAll(benchDB, 0o755); benchErr != nil {
			return
		}
		for i := 0; i < 500; i++ {
			for k, fixed := range []string{"1.3.0-1", "1.9.0-1"} {
				rec := fmt.Sprintf(`{"id":"DSA-%d-%d","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"src%03d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}]}]}`, i, k, i, fixed)
				if benchErr = os.WriteFile(filepath.Join(benchDB, fmt.Sprintf("DSA-%d-%d.json", i, k)), []byte(rec), 0o644); benchErr != nil {
					return
				}
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchArchive, benchDB
}

// BenchmarkScan scans the 100 MB, 500-package image with the advisories
// loaded (go test -bench Scan -cpu 1 ./pkg/image).
func BenchmarkScan(b *testing.B) {
	archive, dbDir := benchInputs(b)
	db, err := vuln.Load(dbDir)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(100 << 20)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := image.Scan(context.Background(), image.Source{DockerArchive: archive}, image.ScanOptions{DB: db})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Packages) != 500 || len(rep.Vulnerabilities) == 0 {
			b.Fatalf("%d packages, %d vulnerabilities", len(rep.Packages), len(rep.Vulnerabilities))
		}
	}
}

// BenchmarkLoadDB loads the 1,000 advisories.
func BenchmarkLoadDB(b *testing.B) {
	_, dbDir := benchInputs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := vuln.Load(dbDir); err != nil {
			b.Fatal(err)
		}
	}
}
