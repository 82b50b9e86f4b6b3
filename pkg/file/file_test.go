package file

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(p, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(got) != "new\n" || st.Mode().Perm() != 0o640 {
		t.Errorf("content %q mode %v, want new content and the old mode 0640", got, st.Mode().Perm())
	}

	// A failed write leaves the file as it was and no temporary file.
	saved := writeData
	defer func() { writeData = saved }()
	writeData = func(f *os.File, data []byte) error {
		_, _ = f.Write(data[:len(data)/2])
		return errors.New("disk full")
	}
	if err := WriteAtomic(p, []byte("newer content\n"), 0o600); err == nil {
		t.Fatal("an injected write error was not reported")
	}
	writeData = saved
	got, _ = os.ReadFile(p)
	entries, _ := os.ReadDir(dir)
	if string(got) != "new\n" || len(entries) != 1 {
		t.Errorf("after a failed write: content %q, %d files in the folder", got, len(entries))
	}

	// A link is written through; the link stays a link.
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(p, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := WriteAtomic(link, []byte("via link\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(p)
	if fi, _ := os.Lstat(link); string(got) != "via link\n" || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("through a link: target %q, link mode %v", got, fi.Mode())
	}

	// A new file gets perm.
	n := filepath.Join(dir, "new.yaml")
	if err := WriteAtomic(n, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(n); st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v", st.Mode().Perm())
	}
}
