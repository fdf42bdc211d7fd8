package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// webhookTimeout bounds one webhook post; the runner bounds it too.
const webhookTimeout = 10 * time.Second

// postWebhook posts a JSON body; used by notify.webhook steps. Headers from
// the step are set after Content-Type (so a step may override it). Errors
// never contain the URL's path or query: webhook URLs carry their token
// there.
func postWebhook(ctx context.Context, rawURL string, headers map[string]string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	where := webhookHost(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: invalid URL", where)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "panicbutton/"+version)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: webhookTimeout}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the full URL
		}
		return fmt.Errorf("post to webhook %s: %w", where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered HTTP %d", where, resp.StatusCode)
	}
	return nil
}

// webhookHost is the URL without user info, path or query.
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(URL hidden)"
	}
	return u.Scheme + "://" + u.Host
}
