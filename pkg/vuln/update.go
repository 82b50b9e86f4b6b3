package vuln

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rampart-k8s/rampart/pkg/file"
)

// DefaultSource is where OSV publishes its per-ecosystem exports
// (<source>/<Ecosystem>/all.zip).
const DefaultSource = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the exports `rampart db update` fetches unless told.
var DefaultEcosystems = []string{"Alpine", "Chainguard", "Debian", "Go", "Maven", "npm", "PyPI", "Ubuntu", "Wolfi"}

// maxExport bounds one export's download.
const maxExport = 2 << 30

// Metadata is what the database folder records of its exports.
type Metadata struct {
	Source     string                     `json:"source"`
	Ecosystems map[string]EcosystemExport `json:"ecosystems"`
}

// EcosystemExport is one downloaded export.
type EcosystemExport struct {
	Downloaded   time.Time `json:"downloaded"`
	LastModified string    `json:"lastModified,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	Size         int64     `json:"size"`
}

// MetadataFile is the database folder's record of its exports.
const MetadataFile = "rampart-db.json"

// ReadMetadata reads a database folder's record ("" source when none).
func ReadMetadata(dir string) (Metadata, error) {
	m := Metadata{Ecosystems: map[string]EcosystemExport{}}
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", MetadataFile, err)
	}
	if m.Ecosystems == nil {
		m.Ecosystems = map[string]EcosystemExport{}
	}
	return m, nil
}

// UpdateResult says what an update did, per ecosystem.
type UpdateResult struct {
	Updated   []string
	Unchanged []string
	Failed    map[string]error
}

// Update downloads each ecosystem's export into dir/<Ecosystem>/all.zip
// (atomically: a failed download leaves the previous one), sending the
// previous ETag so that an unchanged export is not fetched again, and
// records the date of each in dir/rampart-db.json. One ecosystem failing
// does not stop the others.
func Update(ctx context.Context, dir, source string, ecosystems []string, client *http.Client, now func() time.Time) (*UpdateResult, error) {
	if source == "" {
		source = DefaultSource
	}
	if len(ecosystems) == 0 {
		ecosystems = DefaultEcosystems
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	meta.Source = source
	res := &UpdateResult{Failed: map[string]error{}}
	for _, eco := range ecosystems {
		got, changed, err := fetchExport(ctx, client, source, eco, filepath.Join(dir, eco, "all.zip"), meta.Ecosystems[eco])
		if err != nil {
			res.Failed[eco] = err
			continue
		}
		if !changed {
			res.Unchanged = append(res.Unchanged, eco)
			continue
		}
		got.Downloaded = now().UTC()
		meta.Ecosystems[eco] = got
		res.Updated = append(res.Updated, eco)
	}
	sort.Strings(res.Updated)
	sort.Strings(res.Unchanged)
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return res, err
	}
	return res, file.WriteAtomic(filepath.Join(dir, MetadataFile), append(data, '\n'), 0o644)
}

func fetchExport(ctx context.Context, client *http.Client, source, eco, dest string, prev EcosystemExport) (EcosystemExport, bool, error) {
	u := source + "/" + url.PathEscape(eco) + "/all.zip"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return prev, false, err
	}
	if _, statErr := os.Stat(dest); statErr == nil && prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return prev, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return prev, false, nil
	case http.StatusOK:
	default:
		return prev, false, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	// Streamed to a temporary file beside the export (never held in
	// memory), checked as a whole zip, then renamed over the old one.
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return prev, false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".all.zip.rampart-*")
	if err != nil {
		return prev, false, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, maxExport+1))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return prev, false, fmt.Errorf("GET %s: %w", u, err)
	}
	if n > maxExport {
		return prev, false, fmt.Errorf("GET %s: larger than %d bytes", u, maxExport)
	}
	zr, err := zip.OpenReader(tmp.Name())
	if err != nil {
		return prev, false, fmt.Errorf("GET %s: not a whole zip file: %w", u, err)
	}
	_ = zr.Close()
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return prev, false, err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return prev, false, err
	}
	if d, err := os.Open(filepath.Dir(dest)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return EcosystemExport{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Size: n}, true, nil
}
