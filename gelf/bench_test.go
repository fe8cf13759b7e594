package gelf_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/qnib/qwatch/gelf"
)

// The benchmarks decode a Docker-style message (dockerPayload) and compare with baselines run
// in the same process: encoding/json into a map, and for gzip a new compress/gzip reader per
// message followed by encoding/json, as go-gelf's reader does.

func BenchmarkDecodePlain(b *testing.B) {
	payload := []byte(dockerPayload)
	var d gelf.Decoder
	now := time.Now()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselinePlainJSONMap(b *testing.B) {
	payload := []byte(dockerPayload)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGzip(b *testing.B) {
	payload := gzipped(b, []byte(dockerPayload))
	var d gelf.Decoder
	now := time.Now()
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineGzipJSONMap(b *testing.B) {
	payload := gzipped(b, []byte(dockerPayload))
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := stdgzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeZlib(b *testing.B) {
	payload := zlibbed(b, []byte(dockerPayload))
	var d gelf.Decoder
	now := time.Now()
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}
