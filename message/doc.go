// Package message defines the one value that flows through qwatch: [Message], a container log
// line or a Docker engine event, and its JSON document form.
//
// A Message is a plain struct of values (no pointers to chase, no nil checks on Container or
// Event) so that sources can build it cheaply and tests can compare it with go-cmp. Messages
// are shared between sinks once published: treat them as read-only.
//
// The JSON document form ([Message.AppendJSON], [Message.MarshalJSON]) uses Elastic Common
// Schema names, so Kibana's Discover and Logs views work without any field mapping:
//
//	{"@timestamp":"2026-11-23T22:26:45.850Z","message":"Hello World","log":{"level":"info"},
//	 "host":{"name":"vm"},"service":{"name":"web","namespace":"shop"},
//	 "qwatch":{"id":"…","kind":"log","source":"gelf"},
//	 "container":{"id":"1a7d…","name":"web-1","image":{"name":"hello:latest","id":"sha256:…"}},
//	 "process":{"command_line":"/hello"},"tags":["demo"],"fields":{"any":"additional field"}}
//
// Empty parts are left out. [Message.UnmarshalJSON] reads the same form back.
package message
