package emulator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSSL(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	u := v.api("webapps/www.demo-demo.com/ssl/")
	want(t, v.get(u), 404, map[string]string{"detail": "Not found."})
	want(t, v.sendJSON("POST", u, map[string]string{"cert_type": "letsencrypt-auto-renew"}), 200, map[string]string{"status": "OK"})
	m := obj(t, v.get(u))
	if fmt.Sprint(keys(m)) != "[issuer_name not_after subject_alternate_names subject_name]" || m["subject_name"] != "www.demo-demo.com" {
		t.Errorf("ssl %v", m)
	}
	want(t, v.sendJSON("POST", u, map[string]string{"cert_type": "other"}), 400, map[string][]string{"cert_type": {`"other" is not a valid choice.`}})

	certPEM, keyPEM := selfSigned(t, "www.demo-demo.com")
	want(t, v.sendJSON("POST", u, map[string]string{"cert": certPEM, "private_key": keyPEM}), 200, nil)
	m = obj(t, v.get(u))
	if m["issuer_name"] != "test CA" || m["not_after"] != "2030-01-02T03:04:05+00:00" {
		t.Errorf("ssl %v", m)
	}
	want(t, v.sendJSON("POST", u, map[string]string{"cert": "junk", "private_key": keyPEM}), 400, nil)
	want(t, v.sendJSON("POST", u, map[string]string{"cert": certPEM}), 400, map[string][]string{"private_key": {"This field is required."}})
	want(t, v.del(u), 204, nil)
	want(t, v.get(u), 404, nil)
	want(t, v.get(v.api("webapps/demo.pythonanywhere.com/ssl/")), 200, nil)
}

func selfSigned(t *testing.T, domain string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain},
		Issuer: pkix.Name{CommonName: "test CA"}, DNSNames: []string{domain},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	parent := *tmpl
	parent.Subject = pkix.Name{CommonName: "test CA"}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &parent, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
}

// TestConcurrentUse hammers the store from many goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for i := range 10 {
				p := fmt.Sprintf("/home/demo/c/%d/%d.txt", g, i)
				var body bytes.Buffer
				body.WriteString("--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"f\"\r\n\r\n" + p + "\r\n--B--\r\n")
				req, _ := http.NewRequest("POST", v.filesURL(p), &body)
				req.Header.Set("Authorization", "Token "+testToken)
				req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
				req, _ = http.NewRequest("GET", v.filesURL("/home/demo/c"), nil)
				req.Header.Set("Authorization", "Token "+testToken)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
				_ = v.e.Stats()
				_ = v.e.Snapshot()
			}
		}()
	}
	wg.Wait()
	if n := len(v.e.Files("/home/demo/c")); n != 80 {
		t.Errorf("%d files", n)
	}
}

// FuzzServe feeds odd requests straight to the handler: nothing may panic, and
// nothing may answer 5xx (faults are off).
func FuzzServe(f *testing.F) {
	seeds := []struct{ method, path, ct, body string }{
		{"GET", "/api/v0/user/demo/files/path/%FF/%2e%2e/%2F", "", ""},
		{"POST", "/api/v0/user/demo/files/path/home/demo/x", "multipart/form-data; boundary=", "--\r\n"},
		{"POST", "/api/v0/user/demo/files/path/home/demo/x", "multipart/form-data; boundary=a", "--a\r\nContent-Disposition: form-data; name=\"content\"; filename=\"x\"\r\n\r\nabc"},
		{"POST", "/api/v0/user/demo/schedule/", "application/json", `{"minute": 1e400, "hour": -0, "interval": [], "command": {}}`},
		{"PATCH", "/api/v0/user/demo/webapps/demo.pythonanywhere.com/", "application/json", `{"python_version": null, "force_https": 2}`},
		{"POST", "/api/v0/user/demo/webapps/", "application/x-www-form-urlencoded", "domain_name=%zz&python_version=python3"},
		{"POST", "/api/v0/user/demo/consoles/99999999999999999999/send_input/", "application/json", `{"input": "x"}`},
		{"GET", "/api/v0/user/demo/files/tree/?path=%00", "", ""},
		{"DELETE", "/api/v0/user/demo/files/sharing/?path=", "", ""},
		{"PUT", "/api/v0/user/demo/system_image/", "application/json", `"haggis"`},
		{"GET", "/api/v0/user/%/cpu/", "", ""},
		{"POST", "/__emulator/faults", "application/json", `{"error_rate": "x"}`},
		{"GET", "/__emulator/files/%2F", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.ct, s.body)
	}
	e := New(Config{Token: testToken, RateLimit: -1, Demo: true})
	f.Fuzz(func(t *testing.T, method, path, ct, body string) {
		req, err := http.NewRequest(method, "http://emulator.test"+path, strings.NewReader(body))
		if err != nil || strings.HasPrefix(path, "/__emulator/faults") || strings.HasPrefix(path, "/__emulator/latency") {
			return // invalid request line, or a hook that would slow the fuzzer down
		}
		req.Header.Set("Authorization", "Token "+testToken)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	})
}
