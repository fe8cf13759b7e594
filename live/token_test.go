package live

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("page")) })
	mux := http.NewServeMux()
	mux.Handle("/live/", RequireToken("s3cret", http.StripPrefix("/live", ok)))
	for _, tt := range []struct {
		name, target, auth, cookie string
		status                     int
		location                   string
		setsCookie                 bool
	}{
		{name: "nothing", target: "/live/", status: 401},
		{name: "bearer", target: "/live/", auth: "Bearer s3cret", status: 200},
		{name: "wrong bearer", target: "/live/", auth: "Bearer s3cre", status: 401},
		{name: "basic is not bearer", target: "/live/", auth: "Basic s3cret", status: 401},
		{name: "empty bearer", target: "/live/", auth: "Bearer ", status: 401},
		{name: "cookie", target: "/live/stream", cookie: cookieKey("s3cret"), status: 200},
		{name: "wrong cookie", target: "/live/stream", cookie: cookieKey("s3cret2"), status: 401},
		{name: "the token is not the cookie", target: "/live/stream", cookie: "s3cret", status: 401},
		{name: "the cookie is not a bearer token", target: "/live/", auth: "Bearer " + cookieKey("s3cret"), status: 401},
		{name: "query sets the cookie and leaves the URL", target: "/live/?token=s3cret&x=1", status: 303, location: "/live/?x=1", setsCookie: true},
		{name: "query alone", target: "/live/?token=s3cret", status: 303, location: "/live/", setsCookie: true},
		{name: "wrong query", target: "/live/?token=nope", status: 401},
		{name: "empty query", target: "/live/?token=", status: 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: TokenCookie, Value: tt.cookie})
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			cookies := w.Result().Cookies()
			if tt.setsCookie != (len(cookies) == 1) {
				t.Fatalf("cookies %v, want one: %v", cookies, tt.setsCookie)
			}
			if tt.setsCookie {
				c := cookies[0]
				if c.Name != TokenCookie || c.Value != cookieKey("s3cret") || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
					t.Errorf("cookie %+v, want %s=%s HttpOnly SameSite=Strict Path=/", c, TokenCookie, cookieKey("s3cret"))
				}
				if strings.Contains(c.Value, "s3cret") {
					t.Errorf("the cookie %q holds the token", c.Value)
				}
			}
			if tt.status == 401 && w.Body.String() == "page" {
				t.Error("401 with the page")
			}
		})
	}
}
