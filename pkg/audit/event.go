// Package audit detects threats in Kubernetes API-server audit events
// (audit.k8s.io/v1): rules as data (YAML with CEL conditions, lists and
// macros), evaluated on each event as it is read.
//
// An event is parsed once into a tree (github.com/valyala/fastjson, the
// parser Falco's k8saudit plugin uses) that rules read lazily: the fields a
// rule never looks at are never converted, and an event's request and
// response objects cost nothing to the rules that do not read them.
package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// Stages of an audit event.
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// ErrNotAnEvent is returned for JSON that is not an audit.k8s.io Event.
var ErrNotAnEvent = errors.New("data not recognized as a k8s audit event")

// Event is one audit event, read from its JSON tree. It is valid until the
// reader parses the next one.
type Event struct {
	v *fastjson.Value
}

// NewEvent checks that v is an audit Event. The items of an EventList (as
// the API server's webhook backend sends them) carry no kind of their own.
func NewEvent(v *fastjson.Value, inList bool) (Event, error) {
	if v.Type() != fastjson.TypeObject {
		return Event{}, ErrNotAnEvent
	}
	if k := v.GetStringBytes("kind"); string(k) != "Event" && (!inList || v.Get("kind") != nil) {
		return Event{}, ErrNotAnEvent
	}
	if api := string(v.GetStringBytes("apiVersion")); api != "" && !strings.HasPrefix(api, "audit.k8s.io/") {
		return Event{}, fmt.Errorf("%w: its apiVersion is not audit.k8s.io's", ErrNotAnEvent) // not quoted: the input's own text
	}
	if len(v.GetStringBytes("auditID")) == 0 || len(v.GetStringBytes("stage")) == 0 {
		return Event{}, fmt.Errorf("%w: no auditID or stage", ErrNotAnEvent)
	}
	return Event{v: v}, nil
}

func (e Event) str(keys ...string) string { return string(e.v.GetStringBytes(keys...)) }

// Value is the event's JSON tree.
func (e Event) Value() *fastjson.Value { return e.v }

// AuditID is the ID the API server gave the request (the same in every
// stage of it).
func (e Event) AuditID() string { return e.str("auditID") }

// RequestKey names the request the event is a stage of: its audit ID,
// which a client may set (the Audit-ID header) and so reuse, with the time
// the API server received it, which the client does not choose.
func (e Event) RequestKey() string { return e.AuditID() + "|" + e.str("requestReceivedTimestamp") }

// Stage is RequestReceived, ResponseStarted, ResponseComplete or Panic.
func (e Event) Stage() string { return e.str("stage") }

// Verb is the request's verb (get, list, create, ...).
func (e Event) Verb() string { return e.str("verb") }

// Username is the authenticated user's name.
func (e Event) Username() string { return e.str("user", "username") }

// Groups are the authenticated user's groups.
func (e Event) Groups() []string { return strings_(e.v.Get("user", "groups")) }

// UserAgent is the client's user agent.
func (e Event) UserAgent() string { return e.str("userAgent") }

// SourceIPs are the addresses the request came from, the client's first.
func (e Event) SourceIPs() []string { return strings_(e.v.Get("sourceIPs")) }

// RequestURI is the request's path and query.
func (e Event) RequestURI() string { return e.str("requestURI") }

// Code is the response's HTTP status code, or 0.
func (e Event) Code() int { return e.v.GetInt("responseStatus", "code") }

// ObjectRef is what the request is about.
type ObjectRef struct {
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
}

// ObjectRef is the request's target, nil for non-resource requests.
func (e Event) ObjectRef() *ObjectRef {
	o := e.v.Get("objectRef")
	if o == nil || o.Type() != fastjson.TypeObject {
		return nil
	}
	s := func(k string) string { return string(o.GetStringBytes(k)) }
	return &ObjectRef{Resource: s("resource"), Subresource: s("subresource"), Namespace: s("namespace"), Name: s("name"), APIGroup: s("apiGroup"), APIVersion: s("apiVersion")}
}

// Time is when the event's stage happened (stageTimestamp, else
// requestReceivedTimestamp, else timestamp); zero when none reads.
func (e Event) Time() time.Time {
	for _, k := range []string{"stageTimestamp", "requestReceivedTimestamp", "timestamp"} {
		if s := e.str(k); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func strings_(v *fastjson.Value) []string {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := v.Array()
	out := make([]string, 0, len(a))
	for _, x := range a {
		if b, err := x.StringBytes(); err == nil {
			out = append(out, string(b))
		} else {
			out = append(out, strconv.Quote(x.String()))
		}
	}
	return out
}
