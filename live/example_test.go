package live_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/live"
)

// A program mounts the live page under a prefix of its own, behind a token.
func ExampleHandler() {
	hub := qwatch.NewHub()
	s := live.NewSink(live.SinkConfig{})
	if err := hub.AddSink("live", s, qwatch.WithOverflow(qwatch.DropOldest)); err != nil {
		panic(err)
	}
	h := live.NewHandler(s, live.Config{Inventory: inventory.New(), Stats: hub.Stats})
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/live/", live.RequireToken("s3cret", http.StripPrefix("/live", h)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, auth := range []string{"", "Bearer s3cret"} {
		req, _ := http.NewRequest("GET", srv.URL+"/live/", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status, "CSP:", resp.Header.Get("Content-Security-Policy") != "")
	}
	// Output:
	// 401 Unauthorized CSP: false
	// 200 OK CSP: true
}
