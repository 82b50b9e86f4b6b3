package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// ErrRefused wraps a 4xx answer other than 408 and 429: sending the same
// alerts again would be refused again (a revoked URL, a message too large).
var ErrRefused = errors.New("the webhook refused the alerts")

// redactURL is u with only its scheme and host: a webhook's path is its
// credential (Slack's /services/T.../B.../secret).
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "the webhook"
	}
	return p.Scheme + "://" + p.Host + "/…"
}

// slackEscape escapes what Slack reads as markup: <!channel> in a user
// agent would ping a whole channel.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Send posts alerts (nothing when there are none); a status that is not
// 2xx is an error, so that the caller sends them again, unless it wraps
// ErrRefused. Errors never show the URL's path.
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
			fmt.Fprintf(&b, "*%s* [%s] %s", slackEscape.Replace(a.Rule), a.Severity, slackEscape.Replace(a.Message))
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
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL, with its secret path, left out
		}
		return fmt.Errorf("posting to %s: %w", redactURL(w.URL), err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s answered %s", ErrRefused, redactURL(w.URL), resp.Status)
	}
	return fmt.Errorf("%s answered %s", redactURL(w.URL), resp.Status)
}
