package control

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"

	"github.com/pafs/pafs/remote"
)

// webapps/D/ssl/: info.json (the certificate, read) and install (write a
// PEM certificate chain and private key, or "letsencrypt-auto-renew").

// sslState is a web app's certificate; none when the API has none (404).
type sslState struct {
	info remote.SSLInfo
	none bool
}

const letsEncrypt = "letsencrypt-auto-renew"

func (c *Control) sslCell(domain string) *cell[sslState] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.ssl[domain]; s != nil {
		return s
	}
	s := newCell(c, c.cfg.TTL, func(ctx context.Context) (sslState, error) {
		info, err := c.client.GetSSL(ctx, domain)
		if remote.IsNotFound(err) {
			return sslState{none: true}, nil
		}
		return sslState{info: info}, err
	})
	c.ssl[domain] = s
	return s
}

func (c *Control) sslDir(domain string) *Dir {
	path := "webapps/" + domain + "/ssl"
	s := c.sslCell(domain)
	render := func(st sslState) []byte {
		if st.none {
			return []byte("{}\n")
		}
		return renderJSON(st.info)
	}
	info := file{mode: 0o444,
		read: func(ctx context.Context) ([]byte, error) {
			st, err := s.get(ctx)
			if err != nil {
				return nil, err
			}
			return render(st), nil
		},
		peek: func() ([]byte, bool) {
			st, ok := s.peek()
			return render(st), ok
		},
		mtime: s.mtime,
	}
	install := file{mode: 0o200, write: closePolicy{early: earlySSL},
		put: func(ctx context.Context, content []byte) error {
			if err := c.installSSL(ctx, domain, content); err != nil {
				return err
			}
			s.forget()
			return nil
		},
	}
	return c.newDir(path, staticList(
		c.fileEntry("info.json", path+"/info.json", info),
		c.fileEntry("install", path+"/install", install),
	))
}

// earlySSL applies the keyword at once and refuses at once what is neither
// the keyword nor PEM; PEM waits for close, since cat sends a certificate,
// its key and a chain in separate writes.
func earlySSL(content []byte) (bool, error) {
	switch {
	case trimValue(content) == letsEncrypt:
		return true, nil
	case !bytes.Contains(content, []byte("-----BEGIN ")):
		return false, invalidf("write a PEM certificate chain and its private key, or %q", letsEncrypt)
	}
	return false, nil
}

// installSSL installs what was written to ssl/install. A request the
// server did not answer in time is probably done (issuing a certificate
// takes a while): the notices say so.
func (c *Control) installSSL(ctx context.Context, domain string, content []byte) error {
	what, send := "requested a Let's Encrypt certificate", func() error { return c.client.RequestLetsEncrypt(ctx, domain) }
	if trimValue(content) != letsEncrypt {
		chain, key, err := splitPEM(content)
		if err != nil {
			return err
		}
		what, send = "installed a certificate", func() error { return c.client.InstallSSL(ctx, domain, chain, key) }
	}
	err := send()
	if errors.Is(err, remote.ErrNoAnswer) {
		c.notice("ssl", "webapps/"+domain+"/ssl/install", "certificate sent, "+c.noAnswer()+"; probably done: cat ssl/info.json later")
		return nil
	}
	if err != nil {
		return err
	}
	c.log.Info(what, "domain", domain)
	return nil
}

// splitPEM separates a certificate chain from its private key, checking
// both locally: one or more certificates that parse, and exactly one key.
func splitPEM(content []byte) (chain, key string, err error) {
	var certs, keys []string
	rest := content
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return "", "", invalidf("a certificate does not parse: %v", err)
			}
			certs = append(certs, string(pem.EncodeToMemory(b)))
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			keys = append(keys, string(pem.EncodeToMemory(b)))
		}
	}
	switch {
	case len(certs) == 0:
		return "", "", invalidf("no PEM certificate found (write the chain and the private key, or %q)", letsEncrypt)
	case len(keys) != 1:
		return "", "", invalidf("need exactly one PEM private key, found %d", len(keys))
	}
	return strings.Join(certs, ""), keys[0], nil
}
