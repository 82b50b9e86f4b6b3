// Package file writes files the way a tool that edits people's manifests
// must: atomically. A write goes to a temporary file in the same folder,
// which is synced and renamed over the target, so an interrupt or a full
// disk at any moment leaves the target either as it was or complete.
package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// writeData writes data to f; tests replace it to inject failures.
var writeData = func(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}

// WriteAtomic replaces path with data. The file keeps its permission bits
// (perm for a new file). A symbolic link is replaced through: the file it
// points at is the one written, and the link stays.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	owner := func(*os.File) {}
	if st, err := os.Stat(target); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		perm = st.Mode().Perm()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			// The replacement keeps the owner where the writer may set
			// it (root fixing a root-owned static pod manifest).
			owner = func(f *os.File) { _ = f.Chown(int(sys.Uid), int(sys.Gid)) }
		}
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".rampart-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := writeData(tmp, data); err != nil {
		return err
	}
	owner(tmp)
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	done = true
	// The rename is durable once the folder is synced (best effort: some
	// file systems refuse to sync a folder).
	if d, err := os.Open(dir); err == nil { //nolint:gosec // the folder of a file being written
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// FailWriteForTest makes the n-th following write (1 = the next) stop
// after half its data with an error, as a full disk does; restore undoes
// it. It is for tests of whole commands: the other writes go through.
func FailWriteForTest(n int) (restore func()) {
	orig := writeData
	count := 0
	writeData = func(f *os.File, data []byte) error {
		count++
		if count == n {
			_, _ = f.Write(data[:len(data)/2])
			return errors.New("no space left on device (injected)")
		}
		return orig(f, data)
	}
	return func() { writeData = orig }
}
