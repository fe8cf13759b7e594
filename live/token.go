package live

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// TokenCookie is the cookie RequireToken sets for a browser that showed the token once.
const TokenCookie = "qwatch_token"

// RequireToken serves h only to requests that show token: as "Authorization: Bearer
// <token>", or in the cookie TokenCookie. A request with the query parameter token=<token>
// (a link a person opens in a browser) gets the cookie, HttpOnly and SameSite=Strict, and is
// redirected to the same URL without the token, so it stays out of the history and of logs.
// The cookie holds a key derived from the token (an HMAC-SHA256 of it), not the token: what
// a browser stores opens the page for that browser but is not the token itself, so it
// cannot be shown as a Bearer token, and it does not say the token. Anything else gets 401.
// Tokens and keys are compared in constant time. token must not be empty.
func RequireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		panic("live: RequireToken with an empty token")
	}
	want := sha256.Sum256([]byte(token))
	// Comparing digests takes the same time whatever the length of what was sent.
	matches := func(got string) bool {
		sum := sha256.Sum256([]byte(got))
		return got != "" && subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
	key := cookieKey(token)
	keyMatches := func(got string) bool {
		return subtle.ConstantTimeCompare([]byte(got), []byte(key)) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && matches(bearer) {
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(TokenCookie); err == nil && keyMatches(c.Value) {
			h.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") && matches(q.Get("token")) {
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: key, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			http.Redirect(w, r, withoutToken(r), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "401 unauthorized: send the token (Authorization: Bearer, or ?token= once in a browser)", http.StatusUnauthorized)
	})
}

// cookieKey is the cookie's value for token: an HMAC-SHA256 keyed by the token, in hex. It is
// the same in every process given the same token, so a browser's cookie outlives a restart.
func cookieKey(token string) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("qwatch live page cookie"))
	return hex.EncodeToString(mac.Sum(nil))
}

// withoutToken returns the path and query the client asked for, without the token. It reads
// RequestURI rather than URL, which http.StripPrefix may have shortened.
func withoutToken(r *http.Request) string {
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || r.RequestURI == "" {
		u = &url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	}
	q := u.Query()
	q.Del("token")
	u.RawQuery = q.Encode()
	return u.RequestURI()
}
