package audit

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
	"github.com/valyala/fastjson"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// Alert is a rule matching an event.
type Alert struct {
	Rule        string           `json:"rule"`
	Severity    finding.Severity `json:"severity"`
	Message     string           `json:"message"`
	MITRE       []string         `json:"mitre,omitempty"`
	Remediation string           `json:"remediation,omitempty"`
	AuditID     string           `json:"auditID"`
	Received    string           `json:"requestReceivedTimestamp,omitempty"`
	Stage       string           `json:"stage"`
	Time        time.Time        `json:"time"`
	User        string           `json:"user"`
	Groups      []string         `json:"groups,omitempty"`
	Verb        string           `json:"verb"`
	ObjectRef   *ObjectRef       `json:"objectRef,omitempty"`
	RequestURI  string           `json:"requestURI,omitempty"`
	SourceIPs   []string         `json:"sourceIPs,omitempty"`
	UserAgent   string           `json:"userAgent,omitempty"`
	Code        int              `json:"code,omitempty"`
}

// Detector evaluates rules on events, one alert per rule and request
// whatever stages of the request the log holds.
type Detector struct {
	mu    sync.Mutex // Detect against Checkpoint
	rules []*Rule
	seen  dedupe
	state *State
	// byStageVerb are the rules whose prefilter allows a stage and verb,
	// in the rules' order, computed when the pair is first seen (a cluster
	// has a few dozen).
	byStageVerb map[string]map[string][]*Rule
	cached      int // pairs in byStageVerb
}

// NewDetector evaluates rules (compiled by a Ruleset).
func NewDetector(rules []*Rule) *Detector {
	return &Detector{rules: rules, seen: newDedupe(1 << 16), state: newState(), byStageVerb: map[string]map[string][]*Rule{}}
}

type activation struct{ event jsonObject }

func (a *activation) ResolveName(name string) (any, bool) {
	if name == "event" {
		return a.event, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Detect returns the alerts of e, appended to out.
func (d *Detector) Detect(e Event, out []Alert) []Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	act := &activation{event: jsonObject{e.v}}
	d.matching(e, act, func(r *Rule) {
		id := e.RequestKey()
		if r.stateful != nil {
			if d.seen.has(id, r) {
				return // another stage of a request already counted
			}
			if !d.state.observe(d.rules, r, act, e.Time()) {
				d.seen.check(id, r)
				return
			}
		}
		if d.seen.check(id, r) {
			return // another stage of the same request
		}
		out = append(out, newAlert(r, e))
	})
	return out
}

// matching calls f with each rule whose condition e satisfies, in order.
func (d *Detector) matching(e Event, act *activation, f func(r *Rule)) {
	fields := fieldsOf(e.v)
	candidates, ok := d.byStageVerb[string(fields[fieldStage])][string(fields[fieldVerb])] // no string is made to look up
	if !ok {
		for _, r := range d.rules {
			if r.prefilter.allows(fieldStage, fields[fieldStage]) && r.prefilter.allows(fieldVerb, fields[fieldVerb]) {
				candidates = append(candidates, r)
			}
		}
		if d.cached < 4096 { // stages and verbs are few; a hostile log's are not
			byVerb := d.byStageVerb[string(fields[fieldStage])]
			if byVerb == nil {
				byVerb = map[string][]*Rule{}
				d.byStageVerb[string(fields[fieldStage])] = byVerb
			}
			byVerb[string(fields[fieldVerb])] = candidates
			d.cached++
		}
	}
	for _, r := range candidates {
		if !r.prefilter.allows(fieldResource, fields[fieldResource]) || !r.prefilter.allows(fieldSubresource, fields[fieldSubresource]) {
			continue
		}
		if v, _, err := r.program.Eval(act); err == nil && v == types.True {
			f(r)
		} // else a field the condition reads is missing: no match
	}
}

// DetectStateless is Detect with the stateless rules only (the routing
// stage of a detection spread over several processes).
func (d *Detector) DetectStateless(e Event, out []Alert) []Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.matching(e, &activation{event: jsonObject{e.v}}, func(r *Rule) {
		if r.stateful == nil && !d.seen.check(e.RequestKey(), r) {
			out = append(out, newAlert(r, e))
		}
	})
	return out
}

// StatefulMatch is a stateful rule an event matches, and its key.
type StatefulMatch struct {
	Rule *Rule
	Key  string
}

// StatefulMatches are the stateful rules e matches, with their keys (for
// routing the event to the owner of the key).
func (d *Detector) StatefulMatches(e Event) []StatefulMatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	act := &activation{event: jsonObject{e.v}}
	var out []StatefulMatch
	d.matching(e, act, func(r *Rule) {
		if r.stateful == nil {
			return
		}
		if key, ok := evalString(r.stateful.by, act); ok {
			out = append(out, StatefulMatch{r, key})
		}
	})
	return out
}

// Observe applies an event that matched stateful rule r (StatefulMatches)
// to r's state, and returns the alert if it makes one.
func (d *Detector) Observe(r *Rule, e Event) (Alert, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := e.RequestKey()
	if d.seen.has(id, r) {
		return Alert{}, false
	}
	d.seen.check(id, r)
	if !d.state.observe(d.rules, r, &activation{event: jsonObject{e.v}}, e.Time()) {
		return Alert{}, false
	}
	return newAlert(r, e), true
}

// fastjsonParser parses one event at a time, reusing its memory.
type fastjsonParser struct{ p fastjson.Parser }

func (fp *fastjsonParser) event(data []byte) (Event, error) {
	v, err := fp.p.ParseBytes(data)
	if err != nil {
		return Event{}, ErrNotAnEvent
	}
	return NewEvent(v, true)
}

func newAlert(r *Rule, e Event) Alert {
	return Alert{Rule: r.Name, Severity: r.Severity, Message: render(r.Output, e), MITRE: r.MITRE, Remediation: r.Remediation,
		AuditID: e.AuditID(), Received: e.str("requestReceivedTimestamp"), Stage: e.Stage(), Time: e.Time(), User: e.Username(), Groups: e.Groups(), Verb: e.Verb(),
		ObjectRef: e.ObjectRef(), RequestURI: e.RequestURI(), SourceIPs: e.SourceIPs(), UserAgent: e.UserAgent(), Code: e.Code()}
}

// render replaces an output's placeholders with the event's values.
func render(output string, e Event) string {
	if !strings.Contains(output, "{") {
		return output
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(output, '{')
		if i < 0 {
			b.WriteString(output)
			return b.String()
		}
		j := strings.IndexByte(output[i:], '}')
		if j < 0 {
			b.WriteString(output)
			return b.String()
		}
		b.WriteString(output[:i])
		b.WriteString(field(output[i+1:i+j], e))
		output = output[i+j+1:]
	}
}

func field(name string, e Event) string {
	v := e.v
	s := func(keys ...string) string { return string(v.GetStringBytes(keys...)) }
	orNone := func(x string) string {
		if x == "" {
			return "<none>"
		}
		return x
	}
	switch name {
	case "user":
		return orNone(e.Username())
	case "verb":
		return orNone(e.Verb())
	case "resource":
		return orNone(s("objectRef", "resource"))
	case "subresource":
		return orNone(s("objectRef", "subresource"))
	case "namespace":
		return orNone(s("objectRef", "namespace"))
	case "name":
		if n := s("objectRef", "name"); n != "" {
			return n
		}
		return orNone(s("responseObject", "metadata", "name"))
	case "uri":
		return orNone(e.RequestURI())
	case "code":
		return strconv.Itoa(e.Code())
	case "sourceIP", "sourceIPs":
		// All of them: the first ones are the client's X-Forwarded-For, the
		// last the connection's.
		return orNone(strings.Join(e.SourceIPs(), ","))
	case "userAgent":
		return orNone(e.UserAgent())
	case "reason":
		return orNone(s("annotations", "authorization.k8s.io/reason"))
	case "images":
		var imgs []string
		for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
			for _, c := range v.GetArray("requestObject", "spec", list) {
				imgs = append(imgs, string(c.GetStringBytes("image")))
			}
		}
		return orNone(strings.Join(imgs, ","))
	}
	if strings.HasPrefix(name, "/") {
		keys := strings.Split(name[1:], "/")
		if x := v.Get(keys...); x != nil {
			if x.Type() == fastjson.TypeString {
				return string(x.GetStringBytes())
			}
			return x.String()
		}
		return "<none>"
	}
	return "{" + name + "}"
}

// dedupe remembers the last n (request, rule) pairs that alerted.
type dedupe struct {
	set  map[dedupeKey]struct{}
	ring []dedupeKey
	next int
}

type dedupeKey struct {
	id   string
	rule *Rule
}

func newDedupe(n int) dedupe {
	return dedupe{set: make(map[dedupeKey]struct{}, n), ring: make([]dedupeKey, n)}
}

func (d *dedupe) has(id string, r *Rule) bool {
	_, ok := d.set[dedupeKey{id, r}]
	return ok
}

// check records (id, r) and reports whether it was there already.
func (d *dedupe) check(id string, r *Rule) bool {
	k := dedupeKey{id, r}
	if _, ok := d.set[k]; ok {
		return true
	}
	if old := d.ring[d.next]; old.rule != nil {
		delete(d.set, old)
	}
	d.ring[d.next] = k
	d.set[k] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return false
}
