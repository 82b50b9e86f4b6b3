package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

func TestWebhook(t *testing.T) {
	var got []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	alerts := []Alert{{Rule: "Create Privileged Pod", Severity: finding.Medium, Message: "Pod with a privileged container", MITRE: []string{"T1610"}, AuditID: "a1"}}
	for _, format := range []string{"json", "slack"} {
		if err := (&Webhook{URL: srv.URL, Format: format}).Send(context.Background(), alerts); err != nil {
			t.Fatal(err)
		}
	}
	var asJSON []Alert
	if err := json.Unmarshal([]byte(got[0]), &asJSON); err != nil || asJSON[0].AuditID != "a1" {
		t.Errorf("json body %s", got[0])
	}
	var slack map[string]string
	if err := json.Unmarshal([]byte(got[1]), &slack); err != nil || !strings.Contains(slack["text"], "*Create Privileged Pod* [medium] Pod with a privileged container (MITRE T1610)") {
		t.Errorf("slack body %s", got[1])
	}
	status = http.StatusBadGateway
	if err := (&Webhook{URL: srv.URL}).Send(context.Background(), alerts); err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("a 502: %v, want an error to retry", err)
	}
	status = http.StatusNotFound
	if err := (&Webhook{URL: srv.URL + "/services/T0/B0/SECRETTOKEN"}).Send(context.Background(), alerts); !errors.Is(err, ErrRefused) || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("a 404: %v, want ErrRefused without the path", err)
	}
	if err := (&Webhook{URL: "http://127.0.0.1:1/services/T0/B0/SECRETTOKEN"}).Send(context.Background(), alerts); err == nil || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("no server: %v, want an error without the path", err)
	}
	// Slack markup in what a client controls is escaped.
	status = http.StatusOK
	got = nil
	if err := (&Webhook{URL: srv.URL, Format: "slack"}).Send(context.Background(), []Alert{{Rule: "R", Message: "agent <!channel> & co"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0], `agent \u0026lt;!channel\u0026gt; \u0026amp; co`) {
		t.Errorf("slack body %s", got[0])
	}
}
