// Package multiline groups the lines of a stream into events: a stack trace is one event.
package multiline
