package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Webhook posts alerts as JSON: the alerts array, or with Format "slack" a
// Slack-compatible message ({"text": ...}: Slack's and Mattermost's
// incoming webhooks, Microsoft Teams' workflows take it too).
type Webhook struct {
	URL    string
	Format string // "json" (default) or "slack"
	Client *http.Client
}

// Send posts alerts (nothing when there are none); a status that is not
// 2xx is an error, so that the caller sends them again.
func (w *Webhook) Send(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	var body []byte
	var err error
	switch w.Format {
	case "slack":
		var b strings.Builder
		for _, a := range alerts {
			fmt.Fprintf(&b, "*%s* [%s] %s", a.Rule, a.Severity, a.Message)
			if len(a.MITRE) > 0 {
				fmt.Fprintf(&b, " (MITRE %s)", strings.Join(a.MITRE, ", "))
			}
			b.WriteByte('\n')
		}
		body, err = json.Marshal(map[string]string{"text": b.String()})
	case "", "json":
		body, err = json.Marshal(alerts)
	default:
		return fmt.Errorf("webhook format %q: want json or slack", w.Format)
	}
	if err != nil {
		return err
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
