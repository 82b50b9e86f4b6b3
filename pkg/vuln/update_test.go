package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpdate serves OSV-style exports from a test server on 127.0.0.1: the
// first update fetches them, the second is told they did not change, a
// failing ecosystem costs only itself, and the folder loads.
func TestUpdate(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("GHSA-x.json")
	_, _ = w.Write([]byte(`{"id":"GHSA-x","modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}]}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	export := buf.Bytes()
	gets := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets[r.URL.Path]++
		switch r.URL.Path {
		case "/npm/all.zip":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			_, _ = w.Write(export)
		default:
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	res, err := Update(context.Background(), dir, srv.URL, []string{"npm", "PyPI"}, srv.Client(), now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Updated, ",") != "npm" || res.Failed["PyPI"] == nil {
		t.Fatalf("first update: %+v", res)
	}
	res, err = Update(context.Background(), dir, srv.URL, []string{"npm"}, srv.Client(), now)
	if err != nil || strings.Join(res.Unchanged, ",") != "npm" || gets["/npm/all.zip"] != 2 {
		t.Fatalf("second update: %+v %v %v", res, err, gets)
	}
	meta, err := ReadMetadata(dir)
	if err != nil || meta.Ecosystems["npm"].ETag != `"v1"` || !meta.Ecosystems["npm"].Downloaded.Equal(now()) {
		t.Errorf("metadata %+v %v", meta, err)
	}
	db, err := Load(dir)
	if err != nil || db.Count != 1 || len(db.Errors) != 0 || len(db.Match(Query{"npm", "a", "1.0.0"})) != 1 {
		t.Errorf("the updated folder: %v %+v", err, db)
	}
	if _, err := os.Stat(filepath.Join(dir, "PyPI")); err == nil {
		t.Error("a failed ecosystem left a folder")
	}
}
