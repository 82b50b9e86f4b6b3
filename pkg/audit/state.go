package audit

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	bolt "go.etcd.io/bbolt"
)

// Stateful rules remember across events, keyed by what `by` evaluates to
// (a user, a source address, an object):
//
//	threshold:  {count: 10, within: 1m, by: user_name}            N matches in a window
//	threshold:  {count: 15, within: 1m, by: user_name, distinct: target_name}
//	first_seen: {by: 'user_name + " " + event.sourceIPs[0]', learning: 24h}
//	sequence:   {within: 5m, by: ..., steps: [cond1, cond2]}       cond2 after cond1
//
// Windows run on the events' own times, so a log replayed gives the
// alerts it gave live.
type Threshold struct {
	Count    int      `json:"count"`
	Within   Duration `json:"within"`
	By       string   `json:"by"`
	Distinct string   `json:"distinct,omitempty"`
}

// FirstSeen alerts the first time a key is seen, after a learning time
// (from the first event the rule matched) in which keys are only recorded.
type FirstSeen struct {
	By       string   `json:"by"`
	Learning Duration `json:"learning,omitempty"`
}

// Sequence alerts when its steps match in order, for one key, within a
// window from the first step.
type Sequence struct {
	Within Duration `json:"within"`
	By     string   `json:"by"`
	Steps  []string `json:"steps"`
}

// Duration reads "90s", "5m", "24h".
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// stateful is a rule's compiled state machine.
type stateful struct {
	threshold *Threshold
	first     *FirstSeen
	sequence  *Sequence
	by        cel.Program
	distinct  cel.Program
	steps     []cel.Program
}

// compileStateful compiles a rule's stateful part (expressions expanded
// like conditions).
func (rs *Ruleset) compileStateful(e *cel.Env, it *Item) (*stateful, error) {
	n := 0
	for _, set := range []bool{it.Threshold != nil, it.FirstSeen != nil, it.Sequence != nil} {
		if set {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	if n > 1 {
		return nil, fmt.Errorf("a rule has one of threshold, first_seen and sequence")
	}
	compile := func(what, expr string) (cel.Program, error) {
		if strings.TrimSpace(expr) == "" {
			return nil, fmt.Errorf("%s is empty", what)
		}
		x, err := rs.expand(expr, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ast, iss := e.Compile(x)
		if iss.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, iss.Err())
		}
		return e.Program(ast, cel.EvalOptions(cel.OptOptimize))
	}
	st := &stateful{threshold: it.Threshold, first: it.FirstSeen, sequence: it.Sequence}
	var err error
	switch {
	case it.Threshold != nil:
		if it.Threshold.Count < 1 || it.Threshold.Within.Duration <= 0 {
			return nil, fmt.Errorf("threshold needs a count of at least 1 and a window")
		}
		if st.by, err = compile("threshold.by", it.Threshold.By); err != nil {
			return nil, err
		}
		if it.Threshold.Distinct != "" {
			if st.distinct, err = compile("threshold.distinct", it.Threshold.Distinct); err != nil {
				return nil, err
			}
		}
	case it.FirstSeen != nil:
		if st.by, err = compile("first_seen.by", it.FirstSeen.By); err != nil {
			return nil, err
		}
	case it.Sequence != nil:
		if len(it.Sequence.Steps) < 2 || it.Sequence.Within.Duration <= 0 {
			return nil, fmt.Errorf("a sequence needs two steps or more and a window")
		}
		if st.by, err = compile("sequence.by", it.Sequence.By); err != nil {
			return nil, err
		}
		for i, s := range it.Sequence.Steps {
			p, err := compile(fmt.Sprintf("sequence step %d", i+1), s)
			if err != nil {
				return nil, err
			}
			st.steps = append(st.steps, p)
		}
	}
	return st, nil
}

// State is what stateful rules remember, per rule and key. It is written
// to a bbolt file by Checkpoint and read back by LoadState, so a restart
// neither forgets a first-seen key nor a window under way.
type State struct {
	// Times of the matches in the window (threshold), or of the sequence's
	// steps so far (sequence).
	Times map[string]map[string][]time.Time `json:"times,omitempty"`
	// Distinct values seen in the window, and when (threshold.distinct).
	Values map[string]map[string]map[string]time.Time `json:"values,omitempty"`
	// Keys seen (first_seen), and when each rule began learning.
	Seen     map[string]map[string]time.Time `json:"seen,omitempty"`
	Learning map[string]time.Time            `json:"learning,omitempty"`

	observed int // since the last sweep
}

// complete gives a state read from JSON the maps it omitted when empty.
func (s *State) complete() *State {
	if s.Times == nil {
		s.Times = map[string]map[string][]time.Time{}
	}
	if s.Values == nil {
		s.Values = map[string]map[string]map[string]time.Time{}
	}
	if s.Seen == nil {
		s.Seen = map[string]map[string]time.Time{}
	}
	if s.Learning == nil {
		s.Learning = map[string]time.Time{}
	}
	return s
}

func newState() *State {
	return &State{Times: map[string]map[string][]time.Time{}, Values: map[string]map[string]map[string]time.Time{},
		Seen: map[string]map[string]time.Time{}, Learning: map[string]time.Time{}}
}

// evalString evaluates a key expression on the event ("" and false when it
// cannot: a missing field).
func evalString(p cel.Program, act *activation) (string, bool) {
	v, _, err := p.Eval(act)
	if err != nil {
		return "", false
	}
	switch x := v.(type) {
	case types.String:
		return string(x), true
	case types.Int, types.Double, types.Bool:
		return fmt.Sprint(x.Value()), true
	}
	if b, ok := v.ConvertToType(types.StringType).(types.String); ok {
		return string(b), true
	}
	return "", false
}

// Bounds on what the state holds: keys of windows that can no longer
// alert are swept every sweepEvery observations, and a first-sighting rule
// keeps at most maxSeen keys (beyond, the oldest tenth is forgotten and may
// alert again): a log full of made-up users or addresses cannot grow it
// without end.
const (
	sweepEvery = 4096
	maxSeen    = 1 << 17
)

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sweep drops the keys whose newest time is more than their rule's window
// before now.
func (s *State) sweep(rules []*Rule, now time.Time) {
	for _, r := range rules {
		st := r.stateful
		if st == nil {
			continue
		}
		var window time.Duration
		switch {
		case st.threshold != nil:
			window = st.threshold.Within.Duration
		case st.sequence != nil:
			window = st.sequence.Within.Duration
		default:
			continue
		}
		for key, times := range s.Times[r.Name] {
			if len(times) == 0 || now.Sub(times[len(times)-1]) > window {
				delete(s.Times[r.Name], key)
			}
		}
		for key, vals := range s.Values[r.Name] {
			newest := time.Time{}
			for _, t := range vals {
				if t.After(newest) {
					newest = t
				}
			}
			if now.Sub(newest) > window {
				delete(s.Values[r.Name], key)
			}
		}
	}
}

// observe updates r's state with an event its condition matched, and
// reports whether it alerts; every sweepEvery calls it sweeps the state of
// all the rules.
func (s *State) observe(rules []*Rule, r *Rule, act *activation, at time.Time) bool {
	if s.observed++; s.observed >= sweepEvery {
		s.sweep(rules, at)
		s.observed = 0
	}
	st := r.stateful
	key, ok := evalString(st.by, act)
	if !ok {
		return false
	}
	switch {
	case st.threshold != nil:
		window := st.threshold.Within.Duration
		if st.distinct != nil {
			val, ok := evalString(st.distinct, act)
			if !ok {
				return false
			}
			byKey := ensure(s.Values, r.Name)
			vals := byKey[key]
			if vals == nil {
				vals = map[string]time.Time{}
				byKey[key] = vals
			}
			for v, t := range vals {
				if absDuration(at.Sub(t)) > window { // logs read newest first too
					delete(vals, v)
				}
			}
			vals[val] = at
			if len(vals) >= st.threshold.Count {
				delete(byKey, key) // alert once, then count again
				return true
			}
			return false
		}
		byKey := ensure(s.Times, r.Name)
		times := byKey[key]
		keep := times[:0]
		for _, t := range times {
			if absDuration(at.Sub(t)) <= window {
				keep = append(keep, t)
			}
		}
		keep = append(keep, at)
		if len(keep) >= st.threshold.Count {
			delete(byKey, key)
			return true
		}
		byKey[key] = keep
		return false
	case st.first != nil:
		seen := ensure(s.Seen, r.Name)
		if _, ok := seen[key]; ok {
			return false
		}
		if len(seen) >= maxSeen {
			forgetOldest(seen, maxSeen/10)
		}
		seen[key] = at
		start, ok := s.Learning[r.Name]
		if !ok {
			s.Learning[r.Name] = at
			start = at
		}
		return at.Sub(start) >= st.first.Learning.Duration
	case st.sequence != nil:
		byKey := ensure(s.Times, r.Name)
		steps := byKey[key]
		if len(steps) > 0 && (at.Sub(steps[0]) > st.sequence.Within.Duration || at.Before(steps[len(steps)-1])) {
			steps = nil // too late, or before the last step: start again
		}
		next := len(steps)
		for i := next; i >= 0; i-- { // the next step, or the first again
			if i >= len(st.steps) {
				continue
			}
			if v, _, err := st.steps[i].Eval(act); err == nil && v == types.True {
				if i == next {
					steps = append(steps, at)
				} else if i == 0 {
					steps = []time.Time{at}
				}
				break
			}
		}
		if len(steps) == len(st.steps) {
			delete(byKey, key)
			return true
		}
		if len(steps) == 0 {
			delete(byKey, key)
		} else {
			byKey[key] = steps
		}
		return false
	}
	return false
}

// forgetOldest deletes the n keys seen earliest.
func forgetOldest(seen map[string]time.Time, n int) {
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return seen[keys[i]].Before(seen[keys[j]]) })
	for _, k := range keys[:min(n, len(keys))] {
		delete(seen, k)
	}
}

func ensure[V any](m map[string]map[string]V, rule string) map[string]V {
	if m[rule] == nil {
		m[rule] = map[string]V{}
	}
	return m[rule]
}

var stateBucket = []byte("state")

// Checkpoint writes the state into a bbolt file (replacing what was there).
func (d *Detector) Checkpoint(db *bolt.DB) error {
	d.mu.Lock()
	data, err := json.Marshal(d.state)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(stateBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte("detector"), data)
	})
}

// LoadState reads a checkpoint into the detector; keys of rules it no
// longer has are dropped.
func (d *Detector) LoadState(db *bolt.DB) error {
	var data []byte
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(stateBucket); b != nil {
			data = append([]byte(nil), b.Get([]byte("detector"))...)
		}
		return nil
	})
	if err != nil || len(data) == 0 {
		return err
	}
	st := newState()
	if err := json.Unmarshal(data, st); err != nil {
		return fmt.Errorf("the detector's checkpoint: %w", err)
	}
	st.complete()
	known := map[string]bool{}
	for _, r := range d.rules {
		known[r.Name] = true
	}
	for name := range st.Times {
		if !known[name] {
			delete(st.Times, name)
		}
	}
	for name := range st.Values {
		if !known[name] {
			delete(st.Values, name)
		}
	}
	for name := range st.Seen {
		if !known[name] {
			delete(st.Seen, name)
		}
	}
	for name := range st.Learning {
		if !known[name] {
			delete(st.Learning, name)
		}
	}
	d.mu.Lock()
	d.state = st
	d.mu.Unlock()
	return nil
}
