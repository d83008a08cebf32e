// Command loadgen patches ConfigMaps of one namespace as fast as the API server takes them:
// the change log benchmark's writer (hack/bench/changelog.py), in Go so that the writer's own
// CPU does not set the pace. Standard library only; HTTP/2 over the cluster's client
// certificate; paced at -rate changes/s, or as fast as the server takes them. Prints one JSON
// line: {"changes": N, "seconds": S, "errors": E}.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	server := flag.String("server", "", "API server URL")
	ca := flag.String("ca", "", "CA certificate (PEM file)")
	cert := flag.String("cert", "", "client certificate (PEM file)")
	key := flag.String("key", "", "client key (PEM file)")
	namespace := flag.String("namespace", "", "namespace of the ConfigMaps")
	objects := flag.Int("objects", 500, "ConfigMaps cm-0 .. cm-(objects-1), which exist")
	changes := flag.Int("changes", 20000, "PATCHes in all")
	writers := flag.Int("writers", 64, "concurrent requests")
	rate := flag.Float64("rate", 0, "changes per second in all, paced (0: as fast as the server takes them)")
	flag.Parse()

	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fail("client certificate: %v", err)
	}
	pem, err := os.ReadFile(*ca)
	if err != nil {
		fail("CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("CA: no certificate in %s", *ca)
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: *writers,
		},
	}

	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*changes) {
					return
				}
				if *rate > 0 { // change i is due i/rate seconds after the start
					due := start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
					time.Sleep(time.Until(due))
				}
				url := fmt.Sprintf("%s/api/v1/namespaces/%s/configmaps/cm-%d", *server, *namespace, i%int64(*objects))
				body := fmt.Sprintf(`{"data":{"i":"%d"}}`, i)
				req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewBufferString(body))
				req.Header.Set("Content-Type", "application/merge-patch+json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	out, _ := json.Marshal(map[string]any{
		"changes": *changes, "seconds": time.Since(start).Seconds(), "errors": failed.Load(),
	})
	fmt.Println(string(out))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}
