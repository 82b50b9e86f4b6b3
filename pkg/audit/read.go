package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/valyala/fastjson"
)

// DefaultMaxEvent bounds one event (or one EventList) in bytes: the API
// server's own limit on a request body is 3 MiB, and an event holds at most
// its request and its response.
const DefaultMaxEvent = 16 << 20

// InputError is an event that could not be read; the others still are.
type InputError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e InputError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message) }

// Reader reads audit events as the API server's log backend writes them
// (one JSON Event per line), Events and EventLists one per line or
// pretty-printed, plain or gzip-compressed.
type Reader struct {
	// MaxEvent bounds one event; DefaultMaxEvent when zero.
	MaxEvent int
	p        fastjson.Parser
}

// Read calls fn with each event of in, in order, and onError with each
// value that is not one (which costs only itself). It returns fn's first
// error, or a read error.
func (r *Reader) Read(name string, in io.Reader, fn func(Event) error, onError func(InputError)) error {
	max := r.MaxEvent
	if max <= 0 {
		max = DefaultMaxEvent
	}
	br := bufio.NewReaderSize(in, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	var (
		buf       []byte // the value being read
		start     int    // its first line
		depth     int    // of brackets, outside strings
		inString  bool
		escaped   bool
		lines     = -1 // 1: one value per line; 0: values span lines; -1: not known yet
		line      = 1  // of the next byte
		oversized bool
		started   bool // a value is being read
	)
	fail := func(at int, msg string) { onError(InputError{File: name, Line: at, Message: msg}) }
	reset := func() { buf, depth, inString, escaped, oversized, started = buf[:0], 0, false, false, false, false }
	emit := func() error {
		defer reset()
		if oversized {
			fail(start, fmt.Sprintf("an event larger than %d bytes; skipped", max))
			return nil
		}
		return r.value(name, start, buf, fn, fail)
	}
	keep := func(b []byte) {
		if oversized {
			return
		}
		if len(buf)+len(b) > max {
			oversized, buf = true, buf[:0]
			return
		}
		buf = append(buf, b...)
	}
	lineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if lineStart && started && len(chunk) > 0 && chunk[0] == '{' {
			// A value opens in the first column while one is still open:
			// that one was cut short, or was not JSON (nothing an encoder
			// writes nests an object there). It alone is lost.
			if depth > 0 {
				fail(start, "a truncated event; skipped")
			} else {
				fail(start, "not JSON")
			}
			reset()
		}
		lineStart = err == nil
		from := 0 // the part of chunk not yet kept
		for i := 0; i < len(chunk); i++ {
			// Jump to the next byte that matters: a quote or a backslash in
			// a string, a quote or a bracket outside.
			if started && !escaped {
				stops := `"{}[]`
				if inString {
					stops = `"\\`
				}
				j := bytes.IndexAny(chunk[i:], stops)
				if j < 0 {
					break
				}
				i += j
			}
			c := chunk[i]
			if !started {
				switch c {
				case ' ', '\t', '\r', '\n':
					from = i + 1
					continue
				}
				started, start, from = true, line, i
			}
			switch {
			case escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			case inString:
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					// A whole value: one per line, or pretty-printed.
					keep(chunk[from : i+1])
					from = i + 1
					if lines == -1 {
						lines = 0
						if start == line {
							lines = 1
						}
					}
					if ferr := emit(); ferr != nil {
						return ferr
					}
				}
			}
			if depth < 0 {
				fail(line, "not JSON: a closing bracket with no opening one")
				reset()
				from = i + 1
			}
		}
		if started {
			keep(chunk[from:])
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // the rest of a long line
		}
		if err == nil {
			line++
			if started && lines == 1 {
				// One event per line, and this one is cut short: it alone
				// is lost.
				fail(start, "a truncated event; skipped")
				reset()
			}
			continue
		}
		if started {
			fail(start, "a truncated event at the end of the input; skipped")
		}
		if err == io.EOF {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	}
}

// quoted matches the quoted excerpts of the parser's messages: the event's
// own text, which may hold a secret.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// value parses one JSON value: an Event, or an EventList of them.
func (r *Reader) value(name string, line int, data []byte, fn func(Event) error, fail func(int, string)) error {
	v, err := r.p.ParseBytes(data)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "; unparsed tail"); i >= 0 {
			msg = msg[:i]
		}
		fail(line, "not JSON: "+quoted.ReplaceAllString(msg, `"…"`))
		return nil
	}
	if string(v.GetStringBytes("kind")) == "EventList" {
		for i, item := range v.GetArray("items") {
			ev, err := NewEvent(item, true)
			if err != nil {
				fail(line, fmt.Sprintf("EventList item %d: %v", i, err))
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		return nil
	}
	ev, err := NewEvent(v, false)
	if err != nil {
		fail(line, err.Error())
		return nil
	}
	return fn(ev)
}
