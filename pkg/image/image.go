// Package image reads container images without a daemon (a registry with
// the usual keychain, an OCI layout, a docker save tarball), flattens their
// layers as a container runtime would (whiteouts and opaque folders
// honoured), keeping for each file the layer that wrote it, and inventories
// the packages they hold: dpkg, apk, Go binaries' build information, npm,
// Python and Java packages.
package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Source says where an image comes from: exactly one of Ref, OCILayout or
// DockerArchive.
type Source struct {
	// Ref is a registry reference (nginx:1.27, ghcr.io/x/y@sha256:...).
	Ref string
	// OCILayout is an OCI image layout folder.
	OCILayout string
	// DockerArchive is a `docker save` tarball.
	DockerArchive string
	// Platform picks from a multi-platform image (os/arch[/variant]);
	// linux/amd64 by default.
	Platform string
	// Insecure allows plain HTTP registries (tests, local registries).
	Insecure bool
	// Cache is an OCI layout holding images under their references
	// (annotation org.opencontainers.image.ref.name): a Ref found there is
	// read from it, without the network.
	Cache string
}

func (s Source) String() string {
	switch {
	case s.OCILayout != "":
		return "oci-layout:" + s.OCILayout
	case s.DockerArchive != "":
		return "docker-archive:" + s.DockerArchive
	}
	return s.Ref
}

// Open reads an image's manifest (its layers are read later, as they are
// walked).
func Open(ctx context.Context, src Source) (v1.Image, error) {
	plat, err := platform(src.Platform)
	if err != nil {
		return nil, err
	}
	switch {
	case src.OCILayout != "":
		return fromLayout(src.OCILayout, plat)
	case src.DockerArchive != "":
		img, err := tarball.ImageFromPath(src.DockerArchive, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.DockerArchive, err)
		}
		return img, nil
	case src.Ref != "" && src.Cache != "":
		if img, err := fromCache(src.Cache, src.Ref, plat); err == nil {
			return img, nil
		} else if !errors.Is(err, errNotCached) {
			return nil, err
		}
		return Open(ctx, Source{Ref: src.Ref, Platform: src.Platform, Insecure: src.Insecure})
	case src.Ref != "":
		var opts []name.Option
		if src.Insecure {
			opts = append(opts, name.Insecure)
		}
		ref, err := name.ParseReference(src.Ref, opts...)
		if err != nil {
			return nil, fmt.Errorf("image %q: %w", src.Ref, err)
		}
		img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithPlatform(plat))
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src.Ref, err)
		}
		return img, nil
	}
	return nil, errors.New("no image given")
}

func platform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("--platform %q: %w", s, err)
	}
	return *p, nil
}

// fromLayout picks the image of an OCI layout: the only one, or the one of
// the platform (nested indexes followed).
func fromLayout(dir string, plat v1.Platform) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	img, err := pick(idx, plat, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return img, nil
}

func pick(idx v1.ImageIndex, plat v1.Platform, depth int) (v1.Image, error) {
	if depth > 4 {
		return nil, errors.New("index nesting too deep")
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var images []v1.Descriptor
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := pick(child, plat, depth+1); err == nil {
				return img, nil
			}
			continue
		}
		if d.MediaType.IsImage() {
			images = append(images, d)
		}
	}
	for _, d := range images {
		if d.Platform == nil || d.Platform.Satisfies(plat) {
			return idx.Image(d.Digest)
		}
	}
	var plats []string
	for _, d := range images {
		if d.Platform != nil {
			plats = append(plats, d.Platform.String())
		}
	}
	return nil, fmt.Errorf("no image for %s (it has %s)", plat.String(), strings.Join(plats, ", "))
}

var errNotCached = errors.New("not in the image cache")

// RefAnnotation names an image of an OCI layout.
const RefAnnotation = "org.opencontainers.image.ref.name"

// fromCache reads an image from an OCI layout by its reference: the
// annotation holds the reference as written, or in its full form
// (index.docker.io/library/nginx:1.27).
func fromCache(dir, ref string, plat v1.Platform) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image cache %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image cache %s: %w", dir, err)
	}
	names := map[string]bool{ref: true}
	if r, err := name.ParseReference(ref); err == nil {
		names[r.Name()] = true
	}
	for _, d := range m.Manifests {
		ann := d.Annotations[RefAnnotation]
		if r, err := name.ParseReference(ann); err == nil {
			ann = r.Name() // nginx:1.27 and index.docker.io/library/nginx:1.27 alike
		}
		if !names[ann] && !names[d.Annotations[RefAnnotation]] {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			return pick(child, plat, 1)
		}
		return idx.Image(d.Digest)
	}
	return nil, errNotCached
}
