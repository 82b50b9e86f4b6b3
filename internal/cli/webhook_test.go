package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchConfig: a configuration mounted from a ConfigMap changes by a
// swapped symbolic link (the file's own time does not move); rewriting the
// same contents is no change.
func TestWatchConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) { // whole, as the kubelet writes a ConfigMap's files
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target string) {
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("v1/.rampart.yaml", "checks: {disable: [pss-privileged]}\n")
	write("v2/.rampart.yaml", "checks: {disable: []}\n")
	link("v1")
	file := filepath.Join(dir, ".rampart.yaml")
	if err := os.Symlink(filepath.Join("..data", ".rampart.yaml"), file); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan struct{}, 10)
	seen, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	go watchConfig(ctx, file, seen, 10*time.Millisecond, func() { changes <- struct{}{} })
	time.Sleep(50 * time.Millisecond)
	write("v1/.rampart.yaml", "checks: {disable: [pss-privileged]}\n") // same contents
	select {
	case <-changes:
		t.Fatal("the same contents counted as a change")
	case <-time.After(100 * time.Millisecond):
	}
	link("v2")
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("the swapped link was not seen")
	}
}
