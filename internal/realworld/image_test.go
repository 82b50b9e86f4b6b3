package realworld

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

// scalibrModule ships real images' docker-save tarballs (alpine:3.20.2, and
// the same with packages added, removed and added again over six layers), a
// JAR byte-identical to Maven Central's guava 31.1-jre, and 356 real GitHub
// advisories as the OSV API returns them.
var scalibrModule = Module{Path: "github.com/google/osv-scalibr", Version: "v0.5.3"}

// TestImagesOfPublicMaterial scans those real images and matches the real
// JAR against the real advisories.
func TestImagesOfPublicMaterial(t *testing.T) {
	dir, err := Fetch(scalibrModule)
	if err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "artifact", "image", "layerscanning", "image", "testdata")
	ctx := context.Background()

	rep, err := image.Scan(ctx, image.Source{DockerArchive: filepath.Join(images, "alpine.tar")}, image.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Packages) != 14 || rep.OS.ID != "alpine" || rep.OS.Version != "3.20.2" {
		t.Errorf("alpine.tar: %d packages, os %+v", len(rep.Packages), rep.OS)
	}
	for _, p := range rep.Packages {
		if p.Ecosystem != "Alpine:v3.20" || p.Layer != 0 || p.Type != "apk" {
			t.Errorf("alpine.tar: %+v", p)
		}
		if p.Name == "libcrypto3" && (p.Version != "3.3.1-r3" || p.Source != "openssl") {
			t.Errorf("libcrypto3: %+v", p)
		}
	}

	// Six layers: apk upgrade, add git, add bash, del git, add git. Each
	// package belongs to the layer that installed the version it has.
	rep, err = image.Scan(ctx, image.Source{DockerArchive: filepath.Join(images, "alpine-with-packages.tar")}, image.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]int{}
	for _, p := range rep.Packages {
		layers[p.Name] = p.Layer
	}
	if len(rep.Packages) != 31 || len(rep.Layers) != 6 || layers["musl"] != 0 || layers["bash"] != 3 || layers["git"] != 5 {
		t.Errorf("alpine-with-packages.tar: %d packages, %d layers, musl %d bash %d git %d", len(rep.Packages), len(rep.Layers), layers["musl"], layers["bash"], layers["git"])
	}
	if !strings.Contains(rep.Layers[3].CreatedBy, "apk add bash") {
		t.Errorf("layer 3 history %q", rep.Layers[3].CreatedBy)
	}

	// The real JAR in an image, against the real advisories.
	jar, err := os.ReadFile(filepath.Join(dir, "extractor", "filesystem", "language", "java", "archive", "testdata", "guava-31.1-jre.jar"))
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	if err := writeJarImage(layout, jar); err != nil {
		t.Fatal(err)
	}
	dbDir := t.TempDir()
	adv, err := os.ReadFile(filepath.Join(dir, "guidedremediation", "internal", "strategy", "override", "testdata", "zeppelin-server", "vulnerabilities.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dbDir, "zeppelin.json"), adv, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := vuln.Load(dbDir)
	if err != nil || db.Count != 356 || len(db.Errors) != 0 {
		t.Fatalf("advisories: %d, %v, %v", db.Count, db.Errors, err)
	}
	rep, err = image.Scan(ctx, image.Source{OCILayout: layout}, image.ScanOptions{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range rep.Vulnerabilities {
		ids = append(ids, v.Match.ID+" fixed "+v.Match.Fixed)
	}
	// guava 31.1: CVE-2023-2976 (fixed in 32.0.0) and CVE-2020-8908 (fixed
	// in 32.0.0), both in the advisories; the third guava record covers
	// versions before 24.1.1.
	if strings.Join(ids, ",") != "GHSA-5mg8-w23w-74h3 fixed 32.0.0-android,GHSA-7g45-4rm6-3mm3 fixed 32.0.0-android" {
		t.Errorf("guava 31.1-jre: %v", ids)
	}
}
