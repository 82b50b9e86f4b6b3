package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rampart-k8s/rampart/pkg/secret"
)

// Limits bound what one image may cost.
const (
	// maxCapture is the largest file read for an inventory (a Go binary,
	// a JAR, a package database).
	maxCapture = 256 << 20
	// maxEntries bounds the entries of all layers.
	maxEntries = 5_000_000
)

// Layer is one layer of an image.
type Layer struct {
	Index  int    `json:"index"`
	Digest string `json:"digest"`
	// CreatedBy is the history's command for the layer, when recorded.
	CreatedBy string `json:"createdBy,omitempty"`
	Size      int64  `json:"size"`
}

// File is a file of the flattened filesystem.
type File struct {
	Path  string
	Layer int
	Mode  int64
	Size  int64
	// Link is a symbolic link's target.
	Link string
	// Data is kept for the files an inventory reads as text.
	Data []byte
	// Earlier are the versions of a package database that lower layers
	// wrote (oldest first): a package's layer is the one from which it is
	// in every later version, not the last layer that rewrote the file.
	Earlier []Version
	// Packages are what the file lists or is (a Go binary, a JAR).
	Packages []Package
}

// FS is an image's filesystem after its layers are applied in order.
type FS struct {
	Layers []Layer
	Files  map[string]*File
	// Config is the image's configuration (user, environment, history).
	Config *v1.ConfigFile
	// Size is the sum of the surviving regular files' sizes.
	Size int64
}

// Flatten applies the image's layers in order: a layer's files replace the
// ones below; `.wh.NAME` deletes NAME (and what is under it) from the layers
// below, `.wh..wh..opq` empties its folder of what the layers below put
// there. The files an inventory needs are read as they go by (one at a
// time, bounded); the rest keep only their metadata.
func Flatten(img v1.Image) (*FS, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image configuration: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the layers: %w", err)
	}
	fsys := &FS{Files: map[string]*File{}, Config: cfg}
	history := nonEmptyHistory(cfg)
	entries := 0
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		size, _ := l.Size()
		info := Layer{Index: i, Digest: d.String(), Size: size}
		if i < len(history) {
			info.CreatedBy = safeCommand(history[i])
		}
		fsys.Layers = append(fsys.Layers, info)
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, d, err)
		}
		n, err := fsys.apply(i, rc)
		_ = rc.Close()
		entries += n
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, d, err)
		}
		if entries > maxEntries {
			return nil, fmt.Errorf("more than %d files in the layers", maxEntries)
		}
	}
	for _, f := range fsys.Files {
		if f.Regular() {
			fsys.Size += f.Size
		}
	}
	return fsys, nil
}

// dirBit marks a folder in File.Mode.
const dirBit = 1 << 31

// Version is a package database as one layer left it.
type Version struct {
	Layer int
	Data  []byte
}

// Regular reports whether the file is a regular file.
func (f *File) Regular() bool { return f.Mode&dirBit == 0 && f.Link == "" }

// nonEmptyHistory lists the history commands of the layers, in order.
func nonEmptyHistory(cfg *v1.ConfigFile) []string {
	var out []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}

// apply adds one layer: whiteouts first (they delete from the layers
// below only), then its entries.
func (fsys *FS) apply(layer int, r io.Reader) (int, error) {
	tr := tar.NewReader(r)
	var added []*File
	inLayer := map[string]*File{}
	var deletes, opaques []string
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		n++
		p := clean(h.Name)
		dir, base := path.Split(p)
		if base == ".wh..wh..opq" {
			opaques = append(opaques, path.Clean(dir))
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			deletes = append(deletes, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		f := &File{Path: p, Layer: layer, Size: h.Size}
		switch h.Typeflag {
		case tar.TypeDir:
			f.Mode = h.Mode | dirBit
		case tar.TypeSymlink:
			f.Link = h.Linkname
		case tar.TypeLink:
			// A hard link: the same content as its target, added earlier
			// in this layer or in a lower one.
			t := inLayer[clean(h.Linkname)]
			if t == nil {
				t = fsys.Files[clean(h.Linkname)]
			}
			if t != nil {
				cp := *t
				cp.Path, cp.Layer = p, layer
				cp.Packages = relocate(t.Packages, p, layer)
				added = append(added, &cp)
				inLayer[p] = &cp
			}
			continue
		case tar.TypeReg:
			f.Mode = h.Mode
			if err := capture(f, tr); err != nil {
				return n, fmt.Errorf("%s: %w", p, err)
			}
		default:
			continue
		}
		added = append(added, f)
		inLayer[f.Path] = f
	}
	fsys.remove(opaques, deletes)
	for _, f := range added {
		if old := fsys.Files[f.Path]; old != nil && old.Data != nil && f.Data != nil && packageDB(f.Path) {
			f.Earlier = append(append([]Version{}, old.Earlier...), Version{Layer: old.Layer, Data: old.Data})
		}
		fsys.Files[f.Path] = f
	}
	return n, nil
}

// remove applies a layer's whiteouts to the layers below, in one pass over
// the files: a deleted path goes with what lies under it; an opaque folder
// keeps itself and loses its contents.
func (fsys *FS) remove(opaques, deletes []string) {
	if len(opaques)+len(deletes) == 0 {
		return
	}
	gone := map[string]bool{}
	for _, d := range deletes {
		gone[d] = true
	}
	emptied := map[string]bool{}
	for _, d := range opaques {
		emptied[d] = true
	}
	for p := range fsys.Files {
		if gone[p] {
			delete(fsys.Files, p)
			continue
		}
		for dir := path.Dir(p); ; dir = path.Dir(dir) {
			if gone[dir] || emptied[dir] {
				delete(fsys.Files, p)
				break
			}
			if dir == "/" {
				break
			}
		}
	}
}

// clean makes a tar name an absolute, cleaned path.
func clean(name string) string { return path.Clean("/" + name) }

func relocate(ps []Package, p string, layer int) []Package {
	out := make([]Package, len(ps))
	for i, x := range ps {
		x.Path, x.Layer = p, layer
		out[i] = x
	}
	return out
}

// Paths lists the files, sorted.
func (fsys *FS) Paths() []string {
	out := make([]string, 0, len(fsys.Files))
	for p := range fsys.Files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// safeCommand is a history command as reports may show it: credentials
// redacted, and an ENV or ARG instruction reduced to its names (their
// values are configuration that may be secret).
func safeCommand(c string) string {
	c = strings.Join(strings.Fields(c), " ")
	body := strings.TrimPrefix(strings.TrimPrefix(c, "/bin/sh -c "), "#(nop) ")
	for _, kw := range []string{"ENV ", "ARG "} {
		if strings.HasPrefix(body, kw) {
			var names []string
			for _, kv := range strings.Fields(strings.TrimPrefix(body, kw)) {
				k, _, _ := strings.Cut(kv, "=")
				names = append(names, k)
			}
			return kw + strings.Join(names, " ") + " (values not shown)"
		}
	}
	if len(secret.Find(c)) > 0 {
		return "(a command holding a credential; not shown)"
	}
	return secret.Text(c)
}
