package remote

import (
	"context"
	"net/http"
)

// Static file mappings (docs/api.md, "Web apps") and static headers (docs/api.md, "Web apps") of a web app. A
// reload is needed for changes to take effect.

// ListStaticFiles lists a web app's static file mappings.
func (c *Client) ListStaticFiles(ctx context.Context, domain string) ([]StaticFile, error) {
	var out []StaticFile
	err := c.get(ctx, ep("webapps", domain, "static_files"), &out)
	return out, err
}

// CreateStaticFile maps url (e.g. "/static/") to a directory.
func (c *Client) CreateStaticFile(ctx context.Context, domain, url, path string) (StaticFile, error) {
	var out StaticFile
	_, err := c.send(ctx, http.MethodPost, ep("webapps", domain, "static_files"),
		map[string]string{"url": url, "path": path}, &out, false)
	return out, err
}

// GetStaticFile fetches one static file mapping.
func (c *Client) GetStaticFile(ctx context.Context, domain string, id int) (StaticFile, error) {
	var out StaticFile
	err := c.get(ctx, ep("webapps", domain, "static_files", idSeg(id)), &out)
	return out, err
}

// UpdateStaticFile changes the non-nil fields of a mapping.
func (c *Client) UpdateStaticFile(ctx context.Context, domain string, id int, url, path *string) (StaticFile, error) {
	in := map[string]string{}
	setIf(in, "url", url)
	setIf(in, "path", path)
	var out StaticFile
	_, err := c.send(ctx, http.MethodPatch, ep("webapps", domain, "static_files", idSeg(id)), in, &out, true)
	return out, err
}

// DeleteStaticFile deletes a static file mapping.
func (c *Client) DeleteStaticFile(ctx context.Context, domain string, id int) error {
	return c.del(ctx, ep("webapps", domain, "static_files", idSeg(id)))
}

// ListStaticHeaders lists a web app's static headers.
func (c *Client) ListStaticHeaders(ctx context.Context, domain string) ([]StaticHeader, error) {
	var out []StaticHeader
	err := c.get(ctx, ep("webapps", domain, "static_headers"), &out)
	return out, err
}

// CreateStaticHeader adds header name: value to responses under url.
func (c *Client) CreateStaticHeader(ctx context.Context, domain, url, name, value string) (StaticHeader, error) {
	var out StaticHeader
	_, err := c.send(ctx, http.MethodPost, ep("webapps", domain, "static_headers"),
		map[string]string{"url": url, "name": name, "value": value}, &out, false)
	return out, err
}

// GetStaticHeader fetches one static header.
func (c *Client) GetStaticHeader(ctx context.Context, domain string, id int) (StaticHeader, error) {
	var out StaticHeader
	err := c.get(ctx, ep("webapps", domain, "static_headers", idSeg(id)), &out)
	return out, err
}

// UpdateStaticHeader changes the non-nil fields of a static header.
func (c *Client) UpdateStaticHeader(ctx context.Context, domain string, id int, url, name, value *string) (StaticHeader, error) {
	in := map[string]string{}
	setIf(in, "url", url)
	setIf(in, "name", name)
	setIf(in, "value", value)
	var out StaticHeader
	_, err := c.send(ctx, http.MethodPatch, ep("webapps", domain, "static_headers", idSeg(id)), in, &out, true)
	return out, err
}

// DeleteStaticHeader deletes a static header.
func (c *Client) DeleteStaticHeader(ctx context.Context, domain string, id int) error {
	return c.del(ctx, ep("webapps", domain, "static_headers", idSeg(id)))
}

func setIf(m map[string]string, key string, v *string) {
	if v != nil {
		m[key] = *v
	}
}
