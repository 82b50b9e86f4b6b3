package cli

import (
	"context"
	"log/slog"
	"runtime"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/secret"
)

// redactingHandler passes the log records of libraries (Helm logs the
// values it coalesces, with -v) through secret.Message: their message and
// every attribute. Rampart's own records are passed as they are: they hold
// counts, paths and durations, never values.
type redactingHandler struct {
	slog.Handler
}

const ownModule = "github.com/rampart-k8s/rampart/"

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	if fromRampart(r.PC) {
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, secret.Message(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(slog.String(a.Key, secret.Message(a.Value.Resolve().String())))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i, a := range as {
		as[i] = slog.String(a.Key, secret.Message(a.Value.Resolve().String()))
	}
	return redactingHandler{h.Handler.WithAttrs(as)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}

// fromRampart reports whether the record was logged by Rampart's code.
func fromRampart(pc uintptr) bool {
	if pc == 0 {
		return false
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return strings.HasPrefix(f.Function, ownModule)
}
