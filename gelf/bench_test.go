package gelf

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// The benchmarks decode a Docker-style message (dockerPayload, 578 bytes) and compare with
// baselines run in the same process: encoding/json into a map, and for gzip a new
// compress/gzip reader per message followed by encoding/json, as go-gelf's reader does.
// Payloads are compressed as Docker's GELF driver compresses them (go-gelf, flate.BestSpeed).

func dockerCompressed(b *testing.B, zlibFormat bool) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	if zlibFormat {
		w, _ = stdzlib.NewWriterLevel(&buf, stdzlib.BestSpeed)
	} else {
		w, _ = stdgzip.NewWriterLevel(&buf, stdgzip.BestSpeed)
	}
	w.Write([]byte(dockerPayload))
	w.Close()
	return buf.Bytes()
}

// benchDecode decodes payload, which holds dockerPayload, over and over with one Decoder.
func benchDecode(b *testing.B, payload []byte) {
	d := testDecoder()
	now := time.Now()
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePlain(b *testing.B) { benchDecode(b, []byte(dockerPayload)) }

func BenchmarkDecodeGzip(b *testing.B) { benchDecode(b, dockerCompressed(b, false)) }

func BenchmarkDecodeZlib(b *testing.B) { benchDecode(b, dockerCompressed(b, true)) }

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

func BenchmarkBaselineGzipJSONMap(b *testing.B) {
	payload := dockerCompressed(b, false)
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
