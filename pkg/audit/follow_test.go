package audit

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestFollow: events appended, a rotation (rename, new file) and a
// truncation are all read, each event once, until the context ends.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	appendTo := func(p string, ids ...string) {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if _, err := f.WriteString(event(id, "get", "alice") + "\n"); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}
	appendTo(path, "old") // before the follower starts: skipped
	ctx, cancel := context.WithCancel(context.Background())
	fl, err := Follow(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	fl.Poll = 10 * time.Millisecond
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		var r Reader
		done <- r.Read("audit.log", fl, func(e Event) error {
			mu.Lock()
			got = append(got, e.AuditID())
			mu.Unlock()
			return nil
		}, func(e InputError) { t.Error(e) })
	}()
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			l := len(got)
			mu.Unlock()
			if l >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d events, want %d: %v", l, n, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendTo(path, "a", "b")
	wait(2)
	// Rotation: renamed, written once more under the old name's handle,
	// then a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(path+".1", "c")
	appendTo(path, "d")
	wait(4)
	// Truncation.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	appendTo(path, "e")
	wait(5)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "[a b c d e]"; fmtList(got) != want {
		t.Errorf("events %v, want %s", got, want)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}
