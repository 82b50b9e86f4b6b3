package realworld

import (
	"archive/tar"
	"bytes"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// writeJarImage writes an OCI layout of one image holding the JAR.
func writeJarImage(dir string, jar []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "app/lib/guava.jar", Mode: 0o644, Size: int64(len(jar)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(jar); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return lp.AppendImage(img)
}
