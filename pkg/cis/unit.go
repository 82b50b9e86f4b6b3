package cis

import (
	"bufio"
	"fmt"
	"strings"
)

// unitFile is what the kubelet's command line is made from in a systemd
// unit and its drop-ins: the ExecStart of [Service] and the environment it
// expands.
type unitFile struct {
	execStart string
	execFile  string
	execLine  int
	env       map[string]string
	envFiles  []envFile
	// origin is where each environment variable was last set.
	origin       map[string]srcLine
	sawExecStart bool
}

// srcLine is a file and line.
type srcLine struct {
	file string
	line int
}

type envFile struct {
	path     string
	optional bool
}

// parseUnit reads one unit file or drop-in into u, as systemd reads it:
// sections, comments (# and ;), backslash continuations, an empty
// ExecStart= resetting the ones before, Environment= with quoted
// assignments, EnvironmentFile= (a leading - makes it optional).
func parseUnit(u *unitFile, name, text string) error {
	if u.env == nil {
		u.env, u.origin = map[string]string{}, map[string]srcLine{}
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	section := ""
	lineNo, startLine := 0, 0
	var cont strings.Builder
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if cont.Len() == 0 {
			startLine = lineNo
			t := strings.TrimSpace(line)
			if t == "" || t[0] == '#' || t[0] == ';' {
				continue
			}
		}
		if cont.Len() > 0 {
			// systemd skips comment lines inside a continuation.
			if t := strings.TrimSpace(line); t != "" && (t[0] == '#' || t[0] == ';') {
				continue
			}
		}
		if strings.HasSuffix(line, "\\") {
			cont.WriteString(strings.TrimSuffix(line, "\\"))
			cont.WriteByte(' ')
			continue
		}
		cont.WriteString(line)
		full := strings.TrimSpace(cont.String())
		cont.Reset()
		if strings.HasPrefix(full, "[") && strings.HasSuffix(full, "]") {
			section = full[1 : len(full)-1]
			continue
		}
		if section != "Service" {
			continue
		}
		key, value, ok := strings.Cut(full, "=")
		if !ok {
			return fmt.Errorf("%s:%d: not a key=value line", name, startLine)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "ExecStart":
			u.sawExecStart = true
			u.execStart, u.execFile, u.execLine = value, name, startLine
		case "Environment":
			for _, w := range splitQuoted(value) {
				if k, v, ok := strings.Cut(w, "="); ok {
					u.env[k] = v
					u.origin[k] = srcLine{name, startLine}
				}
			}
		case "EnvironmentFile":
			if value == "" {
				u.envFiles = nil
				continue
			}
			opt := strings.HasPrefix(value, "-")
			u.envFiles = append(u.envFiles, envFile{path: strings.TrimPrefix(value, "-"), optional: opt})
		}
	}
	return sc.Err()
}

// parseEnvFile reads KEY=VALUE lines (quotes removed, # comments) into
// env, recording each variable's line of name in origin (when not nil).
func parseEnvFile(env map[string]string, origin map[string]srcLine, name, text string) {
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
		if origin != nil {
			origin[strings.TrimSpace(k)] = srcLine{name, i + 1}
		}
	}
}

// expandExec turns an ExecStart line into argv as systemd does: prefixes
// (-@:+!) dropped, words split with quotes, $VAR split into words and ${VAR}
// kept as one word. from gives each item's origin: the line that set its
// variable (origin), or at (the ExecStart line).
func expandExec(line string, env map[string]string, origin map[string]srcLine, at srcLine) (argv []string, from []srcLine) {
	line = strings.TrimLeft(line, "-@:+!")
	for _, w := range splitQuoted(line) {
		if strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			o, ok := origin[w[1:]]
			if !ok {
				o = at
			}
			for _, f := range strings.Fields(env[w[1:]]) {
				argv, from = append(argv, f), append(from, o)
			}
			continue
		}
		o := at
		if strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}") {
			if vo, ok := origin[w[2:len(w)-1]]; ok {
				o = vo
			}
		}
		argv, from = append(argv, expandBraces(w, env)), append(from, o)
	}
	return argv, from
}

func expandBraces(w string, env map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(w, "${")
		if i < 0 {
			b.WriteString(w)
			return b.String()
		}
		j := strings.IndexByte(w[i:], '}')
		if j < 0 {
			b.WriteString(w)
			return b.String()
		}
		b.WriteString(w[:i])
		b.WriteString(env[w[i+2:i+j]])
		w = w[i+j+1:]
	}
}

// splitQuoted splits on spaces, keeping "quoted" and 'quoted' words whole
// (quotes removed; backslash escapes inside double quotes).
func splitQuoted(s string) []string {
	var out []string
	var b strings.Builder
	var q byte
	word := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else if c == '\\' && q == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q, word = c, true
		case c == ' ' || c == '\t':
			if word {
				out = append(out, b.String())
				b.Reset()
				word = false
			}
		default:
			b.WriteByte(c)
			word = true
		}
	}
	if word {
		out = append(out, b.String())
	}
	return out
}
