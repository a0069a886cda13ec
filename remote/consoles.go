package remote

import (
	"context"
	"net/http"
)

// Consoles (docs/api.md, "Consoles").

// ListConsoles lists the account's consoles.
func (c *Client) ListConsoles(ctx context.Context) ([]Console, error) {
	var out []Console
	err := c.get(ctx, ep("consoles"), &out)
	return out, err
}

// ListSharedConsoles lists the consoles other users share with the account.
func (c *Client) ListSharedConsoles(ctx context.Context) ([]Console, error) {
	var out []Console
	err := c.get(ctx, ep("consoles", "shared_with_you"), &out)
	return out, err
}

// CreateConsole creates a console. It has no process until someone opens it
// in a browser; until then SendInput fails with 412 (EAGAIN).
func (c *Client) CreateConsole(ctx context.Context, req ConsoleCreate) (Console, error) {
	var out Console
	_, err := c.send(ctx, http.MethodPost, ep("consoles"), req, &out, false)
	return out, err
}

// GetConsole fetches one console.
func (c *Client) GetConsole(ctx context.Context, id int) (Console, error) {
	var out Console
	err := c.get(ctx, ep("consoles", idSeg(id)), &out)
	return out, err
}

// DeleteConsole kills and removes a console.
func (c *Client) DeleteConsole(ctx context.Context, id int) error {
	return c.del(ctx, ep("consoles", idSeg(id)))
}

// ConsoleOutput returns roughly the last 500 characters of a console's
// terminal, raw (ANSI codes, carriage returns).
func (c *Client) ConsoleOutput(ctx context.Context, id int) (string, error) {
	var out struct {
		Output string `json:"output"`
	}
	err := c.get(ctx, ep("consoles", idSeg(id), "get_latest_output"), &out)
	return out.Output, err
}

// SendInput types input into a console (add "\n" for Enter). Not retried
// after the server may have seen it: typing twice is not harmless.
func (c *Client) SendInput(ctx context.Context, id int, input string) error {
	_, err := c.send(ctx, http.MethodPost, ep("consoles", idSeg(id), "send_input"),
		map[string]string{"input": input}, nil, false)
	return err
}
