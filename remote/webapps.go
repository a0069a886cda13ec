package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Web apps (docs/api.md, "Web apps"). Python versions are given and returned in the "3.10" form;
// creation alone sends "python310", as the API wants there.
//
// A reload, a creation and a certificate request are slow calls: the server
// answers once the app has started (or the certificate is issued), so they
// wait for their answer up to Config.SlowTimeout rather than Timeout. When
// even that passes, the error wraps ErrNoAnswer: the request was sent, and
// the server carries it out whether or not anyone waits for the answer.

// ErrNoAnswer is wrapped by the error of a slow call that got no answer in
// time, or a gateway's 504: it was sent and is probably done.
var ErrNoAnswer = errors.New("sent, but no answer in time; probably done")

// SlowTimeout is how long a slow call waits for its answer; 0: no limit.
func (c *Client) SlowTimeout() time.Duration {
	if c.slow <= 0 || c.timeout <= 0 {
		return 0
	}
	return max(c.slow, c.timeout)
}

// slowCall makes cl a slow call: its own wait for the answer, and
// ErrNoAnswer on a timeout.
func (c *Client) slowCall(ctx context.Context, cl *call) error {
	cl.timeout = -1
	if d := c.SlowTimeout(); d > 0 {
		cl.timeout = d
	}
	_, err := c.do(ctx, cl)
	if err != nil && ctx.Err() == nil && (errors.Is(err, errStalled) || StatusOf(err) == http.StatusGatewayTimeout) {
		return fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	return err
}

// ListWebapps lists the account's web apps.
func (c *Client) ListWebapps(ctx context.Context) ([]Webapp, error) {
	var out []Webapp
	err := c.get(ctx, ep("webapps"), &out)
	for i := range out {
		out[i].PythonVersion = NormalizePythonVersion(out[i].PythonVersion)
	}
	return out, err
}

// CreateWebapp creates a web app for domain with Python pythonVersion
// ("3.10"). The server answers {"status": "OK"} rather than the object; a
// refusal, even one sent with status 200, becomes an *APIError.
func (c *Client) CreateWebapp(ctx context.Context, domain, pythonVersion string) error {
	e := ep("webapps")
	form := url.Values{"domain_name": {domain}, "python_version": {createPythonVersion(pythonVersion)}}
	return c.slowCall(ctx, &call{
		method: http.MethodPost, ep: e, body: formBody(form), accept: jsonType,
		decode: statusDecoder(http.MethodPost, e.raw),
	})
}

// GetWebapp fetches one web app.
func (c *Client) GetWebapp(ctx context.Context, domain string) (Webapp, error) {
	var out Webapp
	err := c.get(ctx, ep("webapps", domain), &out)
	out.PythonVersion = NormalizePythonVersion(out.PythonVersion)
	return out, err
}

// UpdateWebapp changes the fields set in patch and returns the web app.
func (c *Client) UpdateWebapp(ctx context.Context, domain string, patch WebappPatch) (Webapp, error) {
	if patch.PythonVersion != nil {
		v := NormalizePythonVersion(*patch.PythonVersion)
		patch.PythonVersion = &v
	}
	var out Webapp
	_, err := c.send(ctx, http.MethodPatch, ep("webapps", domain), patch, &out, true)
	out.PythonVersion = NormalizePythonVersion(out.PythonVersion)
	return out, err
}

// DeleteWebapp deletes a web app (its code stays; its configuration is
// backed up under /var/www).
func (c *Client) DeleteWebapp(ctx context.Context, domain string) error {
	return c.del(ctx, ep("webapps", domain))
}

// EnableWebapp enables a web app. Enabling twice is harmless, so the call is
// retried like an idempotent one.
func (c *Client) EnableWebapp(ctx context.Context, domain string) error {
	return c.webappAction(ctx, domain, "enable", true)
}

// DisableWebapp disables a web app (idempotent, like EnableWebapp).
func (c *Client) DisableWebapp(ctx context.Context, domain string) error {
	return c.webappAction(ctx, domain, "disable", true)
}

// ReloadWebapp reloads a web app, a slow call (ErrNoAnswer). When the
// server reloaded it but found no CNAME for its custom domain (409
// cname_error), the error wraps ErrCNAME and can be treated as a warning. A
// reload is not retried once it may have reached the server: it restarts
// the app's workers.
func (c *Client) ReloadWebapp(ctx context.Context, domain string) error {
	e := ep("webapps", domain, "reload")
	err := c.slowCall(ctx, &call{method: http.MethodPost, ep: e, accept: jsonType,
		decode: statusDecoder(http.MethodPost, e.raw)})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict &&
		(strings.Contains(strings.ToLower(apiErr.Message), "cname") || strings.Contains(strings.ToLower(apiErr.Body), "cname")) {
		return fmt.Errorf("%w: %w", ErrCNAME, err)
	}
	return err
}

func (c *Client) webappAction(ctx context.Context, domain, action string, safe bool) error {
	e := ep("webapps", domain, action)
	_, err := c.do(ctx, &call{
		method: http.MethodPost, ep: e, accept: jsonType, safe: safe,
		decode: statusDecoder(http.MethodPost, e.raw),
	})
	return err
}

// GetSSL returns the certificate information of a web app.
func (c *Client) GetSSL(ctx context.Context, domain string) (SSLInfo, error) {
	var out SSLInfo
	err := c.get(ctx, ep("webapps", domain, "ssl"), &out)
	return out, err
}

// InstallSSL installs a certificate (PEM chain) and its private key (PEM), a
// slow call. Installing the same pair twice is harmless, so it is retried as
// idempotent.
func (c *Client) InstallSSL(ctx context.Context, domain, cert, privateKey string) error {
	return c.postSSL(ctx, domain, map[string]string{"cert": cert, "private_key": privateKey}, true)
}

// RequestLetsEncrypt switches a web app to an auto-renewed Let's Encrypt
// certificate, a slow call. Not retried once it may have reached the server: Let's
// Encrypt rate-limits issuance.
func (c *Client) RequestLetsEncrypt(ctx context.Context, domain string) error {
	return c.postSSL(ctx, domain, map[string]string{"cert_type": "letsencrypt-auto-renew"}, false)
}

func (c *Client) postSSL(ctx context.Context, domain string, in map[string]string, safe bool) error {
	e := ep("webapps", domain, "ssl")
	b, err := jsonBody(in)
	if err != nil {
		return err
	}
	return c.slowCall(ctx, &call{
		method: http.MethodPost, ep: e, body: b, accept: jsonType, safe: safe,
		decode: statusDecoder(http.MethodPost, e.raw),
	})
}

// DeleteSSL removes a web app's certificate.
func (c *Client) DeleteSSL(ctx context.Context, domain string) error {
	return c.del(ctx, ep("webapps", domain, "ssl"))
}

// statusDecoder accepts any 2xx body except one whose "status" says ERROR,
// which the API uses (with status 200) to refuse a web app creation. That
// one becomes an *APIError with Status 400.
func statusDecoder(method, endpoint string) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		var s struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(body, &s) != nil || !strings.EqualFold(s.Status, "error") {
			// Empty, non-JSON or OK: the action was done; nothing to read.
			return nil
		}
		return newAPIError(method, endpoint, http.StatusBadRequest, resp.Header.Get("Content-Type"), body)
	}
}

// NormalizePythonVersion turns the version forms the API uses into "3.10":
// "python310" → "3.10", "python3.10" → "3.10", "27" → "2.7"; anything
// else is returned trimmed.
func NormalizePythonVersion(v string) string {
	s := strings.TrimSpace(v)
	if len(s) > len("python") && strings.EqualFold(s[:len("python")], "python") {
		s = s[len("python"):]
	}
	if len(s) >= 2 && isNumeric(s) {
		return s[:1] + "." + s[1:]
	}
	return s
}

// createPythonVersion gives the "python310" form webapp creation wants.
func createPythonVersion(v string) string {
	n := NormalizePythonVersion(v)
	return "python" + strings.ReplaceAll(n, ".", "")
}
