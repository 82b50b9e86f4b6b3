package audit

import (
	"context"
	"encoding/json"
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
	if err := (&Webhook{URL: srv.URL}).Send(context.Background(), alerts); err == nil {
		t.Error("a 502 was taken for delivered")
	}
}
