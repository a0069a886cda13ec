package emulator

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"time"
)

// SSLInfo is the body of GET webapps/{domain}/ssl/.
type SSLInfo struct {
	NotAfter              string   `json:"not_after"` // "2006-01-02T15:04:05+00:00"
	IssuerName            string   `json:"issuer_name"`
	SubjectName           string   `json:"subject_name"`
	SubjectAlternateNames []string `json:"subject_alternate_names"`

	// CertType is "letsencrypt-auto-renew" or "manual" (not sent).
	CertType string `json:"-"`
}

const sslTimeFormat = "2006-01-02T15:04:05+00:00"

// pythonanywhereSSL is what a *.pythonanywhere.com site reports without a
// certificate of its own: the platform's wildcard certificate.
func pythonanywhereSSL() SSLInfo {
	return SSLInfo{NotAfter: time.Now().UTC().AddDate(0, 6, 0).Truncate(24 * time.Hour).Format(sslTimeFormat),
		IssuerName: "Sectigo RSA Domain Validation Secure Server CA", SubjectName: "*.pythonanywhere.com",
		SubjectAlternateNames: []string{"*.pythonanywhere.com", "pythonanywhere.com"}, CertType: "platform"}
}

func (e *Emulator) sslGet(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	switch {
	case st == nil:
		return notFound()
	case st.ssl != nil:
		return jsonResponse(http.StatusOK, *st.ssl)
	case strings.HasSuffix(st.app.DomainName, ".pythonanywhere.com"):
		return jsonResponse(http.StatusOK, pythonanywhereSSL())
	}
	return notFound()
}

// sslPost installs a certificate: either {"cert_type": "letsencrypt-auto-renew"}
// or {"cert": PEM chain, "private_key": PEM key}. The certificate is parsed for
// the details GET reports; the key is only checked to be a PEM private key. With
// Quirks.SSLTime a valid request takes that long, and the certificate is
// installed at the end even if the client has gone.
func (e *Emulator) sslPost(c *call) response {
	f, bad := parseBody(c.r)
	switch {
	case !e.webappExists(c):
		return notFound()
	case bad != nil:
		return *bad
	}
	info, bad := parseSSLBody(f, c.args[0])
	if bad != nil {
		return *bad
	}
	finishAnyway(e.quirk().SSLTime)
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	if st == nil {
		return notFound() // deleted while the certificate was being installed
	}
	st.ssl = &info
	return statusOK()
}

func parseSSLBody(f fields, domain string) (SSLInfo, *response) {
	v := newValidator(f)
	if _, ok := f["cert_type"]; ok {
		if _, ok := v.choice("cert_type", []string{"letsencrypt-auto-renew"}, true); !ok {
			return SSLInfo{}, v.result()
		}
		return SSLInfo{NotAfter: time.Now().UTC().AddDate(0, 0, 90).Format(sslTimeFormat), IssuerName: "R11",
			SubjectName: domain, SubjectAlternateNames: []string{domain}, CertType: "letsencrypt-auto-renew"}, nil
	}
	certPEM, _ := v.str("cert", true, false)
	keyPEM, _ := v.str("private_key", true, false)
	if bad := v.result(); bad != nil {
		return SSLInfo{}, bad
	}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		r := fieldError("cert", "Could not find a PEM certificate.")
		return SSLInfo{}, &r
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		r := fieldError("cert", "Could not parse the certificate: "+err.Error())
		return SSLInfo{}, &r
	}
	if kb, _ := pem.Decode([]byte(keyPEM)); kb == nil || !strings.HasSuffix(kb.Type, "PRIVATE KEY") {
		r := fieldError("private_key", "Could not find a PEM private key.")
		return SSLInfo{}, &r
	}
	names := append([]string{}, cert.DNSNames...)
	return SSLInfo{NotAfter: cert.NotAfter.UTC().Format(sslTimeFormat), IssuerName: cert.Issuer.CommonName,
		SubjectName: cert.Subject.CommonName, SubjectAlternateNames: names, CertType: "manual"}, nil
}

// sslDelete removes an installed certificate; it answers 204 even when there was none.
func (e *Emulator) sslDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	if st == nil {
		return notFound()
	}
	st.ssl = nil
	return noContent()
}

// SSL returns what GET webapps/{domain}/ssl/ would report.
func (e *Emulator) SSL(domain string) (SSLInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webapps[domain]
	switch {
	case st == nil:
		return SSLInfo{}, false
	case st.ssl != nil:
		return *st.ssl, true
	case strings.HasSuffix(domain, ".pythonanywhere.com"):
		return pythonanywhereSSL(), true
	}
	return SSLInfo{}, false
}
