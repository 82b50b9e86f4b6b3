package audit

import (
	"context"
	"io"
	"os"
	"time"
)

// Follower reads a log file as it grows, like tail -F: at its end it waits
// for more; when the file is rotated (renamed and a new one created at the
// path) it reads the old one to its end, then the new one from its start;
// when it is truncated it starts again at the beginning. It ends (io.EOF)
// when ctx does.
type Follower struct {
	ctx  context.Context
	path string
	f    *os.File
	pos  int64
	// Poll is how often the file is looked at when nothing is new.
	Poll time.Duration
}

// Follow opens path; fromStart reads what it holds already, else only what
// is written from now on.
func Follow(ctx context.Context, path string, fromStart bool) (*Follower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fl := &Follower{ctx: ctx, path: path, f: f, Poll: 250 * time.Millisecond}
	if !fromStart {
		if fl.pos, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, err
		}
	}
	return fl, nil
}

// Close closes the file being read.
func (fl *Follower) Close() error { return fl.f.Close() }

func (fl *Follower) Read(p []byte) (int, error) {
	for {
		n, err := fl.f.Read(p)
		fl.pos += int64(n)
		if n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		// At the end: rotated, truncated, or nothing new yet.
		cur, cerr := fl.f.Stat()
		now, serr := os.Stat(fl.path)
		switch {
		case serr == nil && cerr == nil && !os.SameFile(cur, now):
			f, err := os.Open(fl.path)
			if err == nil {
				fl.f.Close()
				fl.f, fl.pos = f, 0
				continue
			}
		case cerr == nil && cur.Size() < fl.pos:
			if _, err := fl.f.Seek(0, io.SeekStart); err == nil {
				fl.pos = 0
				continue
			}
		}
		select {
		case <-fl.ctx.Done():
			return 0, io.EOF
		case <-time.After(fl.Poll):
		}
	}
}
