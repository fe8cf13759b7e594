package ratelimit

import (
	"testing"
	"time"
)

func TestOncePerSecond(t *testing.T) {
	var l Limiter
	if !l.Allow() {
		t.Fatal("the first event was not allowed")
	}
	if l.Allow() {
		t.Error("a second event within the second was allowed")
	}
	l.last.Store(time.Now().Add(-time.Second).UnixNano())
	if !l.Allow() {
		t.Error("an event a second later was not allowed")
	}
}
